"""Real turns with the embedded 0.5B model through llama.cpp, and a real turn's replay.

The 0.5B model is weak. Told plainly, it calls the tool (as bare JSON, which the client turns
back into a tool call), and once tools are withheld it answers from the result; offered tools
again it calls the same tool again. So the turn here has ``max_steps=1``: one tool round, then
the answer.
"""

import re
import time

import pytest

from shared.agents import (
    AgentRunner,
    AgentTimeout,
    Final,
    TextDelta,
    ToolCall,
    ToolResult,
    Trace,
    client_for,
    replay,
)
from shared.config import Settings

pytestmark = pytest.mark.llm

SYSTEM = (
    "You are a shop assistant. Get prices with the lookup_price tool and answer in one sentence."
)
QUESTION = "What is the price of SKU AB-12?"


@pytest.fixture(scope="module")
async def client(llm_base_url):
    # The operator path: an OpenAI-compatible endpoint given by ASCENT_LLM_BASE_URL.
    c = client_for(
        Settings(llm_base_url=llm_base_url, llm_model="qwen2.5-coder-0.5b"), max_tokens=64
    )
    yield c
    await c.close()


@pytest.fixture(scope="module")
async def price_turn(client, price_tool):
    runner = AgentRunner("shop", SYSTEM, [price_tool()], client, max_steps=1, timeout_s=90)
    return [event async for event in runner.stream([], QUESTION)]


async def test_the_model_calls_the_tool_and_answers_with_its_result(price_turn):
    calls = [e for e in price_turn if isinstance(e, ToolCall)]
    results = [e for e in price_turn if isinstance(e, ToolResult)]
    assert [(c.name, c.arguments) for c in calls] == [("lookup_price", {"sku": "AB-12"})]
    assert results[0].content == '{"sku":"AB-12","price":1234.5}' and not results[0].is_error
    # The tool call was not streamed to the user as text before it ran.
    first_call = price_turn.index(calls[0])
    assert not any(isinstance(e, TextDelta) for e in price_turn[:first_call])

    final = price_turn[-1]
    assert isinstance(final, Final)
    assert "1234.5" in re.sub(r"(?<=\d),(?=\d)", "", final.text)
    deltas = "".join(e.text for e in price_turn if isinstance(e, TextDelta))
    assert deltas == final.text
    assert final.steps == 2 and final.budget_exhausted  # its one tool round was used
    trace = final.trace
    assert [s.kind for s in trace.steps] == ["model", "tool", "model"]
    assert all(s.prompt_tokens > 0 and s.completion_tokens > 0 for s in trace.model_steps)
    assert final.usage.prompt_tokens == trace.prompt_tokens > 100


async def test_a_recorded_turn_replays_and_shows_changed_tool_results(price_turn, price_tool):
    recorded = price_turn[-1].trace
    trace = Trace.from_json(recorded.to_json())
    assert trace == recorded

    same = await replay(trace, [price_tool()])
    assert same.final.text == recorded.final_text
    assert same.differences == []
    assert [s.kind for s in same.trace.steps] == ["model", "tool", "model"]

    changed = await replay(trace, [price_tool(999.0)])
    assert changed.final.text == recorded.final_text  # the recorded model still says 1234.5
    (difference,) = changed.differences
    assert difference.name == "lookup_price" and difference.arguments == '{"sku": "AB-12"}'
    assert difference.recorded == '{"sku":"AB-12","price":1234.5}'
    assert difference.replayed == '{"sku":"AB-12","price":999.0}'


async def test_the_timeout_stops_a_generating_model(client, price_tool):
    runner = AgentRunner("shop", SYSTEM, [price_tool()], client, timeout_s=0.3)
    start = time.perf_counter()
    with pytest.raises(AgentTimeout) as info:
        await runner.run([], QUESTION)
    assert time.perf_counter() - start < 2.0
    assert info.value.trace.final_text is None
