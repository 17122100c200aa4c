"""The runner's contract with scripted completions (autogen's replay client): event order,
the step budget, the timeout and errors. The real model is in test_llm_agent.py."""

import asyncio
import time

import pytest
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import BaseModel

from shared.agents import (
    MODEL_INFO,
    AgentError,
    AgentRunner,
    AgentTimeout,
    Final,
    TextDelta,
    Tool,
    ToolCall,
    ToolResult,
    chat_client,
)


async def test_events_arrive_in_order_and_the_trace_records_each_step(tool, scripted):
    model = scripted.model(
        [scripted.call("lookup_price", {"sku": "AB-12"}), "The price is 1234.5 dollars."]
    )
    runner = AgentRunner("shop", "Use the tools.", [tool], model, max_steps=3)
    events = [e async for e in runner.stream([], "What does AB-12 cost?")]

    assert events[0] == ToolCall("lookup_price", {"sku": "AB-12"}, "call_1")
    assert events[1] == ToolResult(
        "lookup_price", '{"sku":"AB-12","price":1234.5}', False, "call_1"
    )
    deltas = [e.text for e in events[2:-1]]
    assert all(isinstance(e, TextDelta) for e in events[2:-1]) and len(deltas) > 1
    final = events[-1]
    assert isinstance(final, Final)
    assert final.text == "".join(deltas) == "The price is 1234.5 dollars."
    assert final.steps == 2 and not final.budget_exhausted
    assert final.usage.completion_tokens == 10 + len(final.text.split())

    trace = final.trace
    assert [s.kind for s in trace.steps] == ["model", "tool", "model"]
    assert trace.steps[0].tool_calls[0].arguments == '{"sku": "AB-12"}'
    assert trace.steps[1].result == '{"sku":"AB-12","price":1234.5}'
    assert trace.final_text == final.text and trace.error is None
    assert trace.max_steps == 3 and trace.user_text == "What does AB-12 cost?"


class KeepsCalling(ReplayChatCompletionClient):
    """A model that calls check_status whenever tools are offered, and answers only when not."""

    def __init__(self, call, answer) -> None:
        super().__init__([], model_info=MODEL_INFO)
        self.call, self.answer = call, answer
        self.offered_tools: list[bool] = []

    async def create_stream(self, messages, *, tools=(), **kwargs):  # type: ignore[override]
        self.offered_tools.append(bool(tools))
        n = len(self.offered_tools)
        if tools:
            yield self.call("check_status", {"sku": "job-42"}, f"call_{n}")
        else:
            yield self.answer("Job 42 is still running.")


async def test_step_budget_stops_a_model_that_keeps_calling_tools(scripted):
    runs = 0

    async def check_status(args: BaseModel) -> str:
        nonlocal runs
        runs += 1
        return "Not ready yet. Call check_status again."

    tool = Tool("check_status", "Status of a job.", scripted.PriceArgs, check_status)
    model = KeepsCalling(scripted.call, scripted.answer)
    runner = AgentRunner("ops", "Poll until ready.", [tool], model, max_steps=3)
    events = [e async for e in runner.stream([], "Is job 42 done?")]

    assert sum(isinstance(e, ToolCall) for e in events) == 3
    assert runs == 3
    final = events[-1]
    assert final.budget_exhausted and final.text == "Job 42 is still running."
    # Three rounds with tools, then one answer the model had to give without them.
    assert model.offered_tools == [True, True, True, False]
    assert final.steps == 4 and len(final.trace.tool_steps) == 3


async def test_timeout_cancels_a_slow_tool_and_raises(scripted):
    cancelled = asyncio.Event()

    async def slow(args: BaseModel) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "too late"

    tool = Tool("slow", "Slow.", scripted.PriceArgs, slow)
    model = scripted.model([scripted.call("slow", {"sku": "x"}), scripted.answer("never")])
    runner = AgentRunner("shop", "", [tool], model, timeout_s=0.5)
    events = []
    start = time.perf_counter()
    with pytest.raises(AgentTimeout, match=r"did not finish within 0\.5s") as info:
        async for event in runner.stream([], "go"):
            events.append(event)
    assert 0.5 <= time.perf_counter() - start < 2.0
    assert events == [ToolCall("slow", {"sku": "x"}, "call_1")]  # what came before still came
    await asyncio.wait_for(cancelled.wait(), 1.0)
    trace = info.value.trace
    assert trace.error == "timed out after 0.5s"
    assert len(trace.model_steps) == 1 and trace.tool_steps == [] and trace.final_text is None


async def test_timeout_does_not_wait_for_a_tool_that_ignores_cancellation(scripted):
    async def stubborn(args: BaseModel) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(3)  # swallows the cancellation and keeps going
        return "done"

    tool = Tool("stubborn", "Stubborn.", scripted.PriceArgs, stubborn)
    model = scripted.model([scripted.call("stubborn", {"sku": "x"}), scripted.answer("late")])
    runner = AgentRunner("shop", "", [tool], model, timeout_s=0.3)
    start = time.perf_counter()
    with pytest.raises(AgentTimeout):
        await runner.run([], "go")
    assert time.perf_counter() - start < 2.0


async def test_an_unreachable_model_is_an_agent_error(tool):
    client = chat_client("http://127.0.0.1:9/v1", "any", max_retries=0, timeout=5)
    runner = AgentRunner("shop", "", [tool], client)
    with pytest.raises(AgentError, match="APIConnectionError") as info:
        await runner.run([], "hi")
    assert not isinstance(info.value, AgentTimeout)
    assert info.value.trace.error.startswith("APIConnectionError")
    await client.close()


async def test_history_roles_are_checked(tool, scripted):
    runner = AgentRunner("shop", "", [tool], scripted.model([scripted.answer("hi")]))
    with pytest.raises(ValueError, match="'system'"):
        await runner.run([{"role": "system", "content": "x"}], "hi")
