import pytest
from pydantic import BaseModel, Field

from shared.config import Settings
from shared.models import LLMGateway, LLMTruncated

pytestmark = pytest.mark.llm


class Capital(BaseModel):
    country: str = Field(max_length=40)
    capital: str = Field(max_length=40)


@pytest.fixture
async def gateway(data_home, llm_base_url):
    # Through the operator path: an OpenAI-compatible endpoint given by ASCENT_LLM_BASE_URL.
    g = LLMGateway(Settings(data_home=data_home, llm_base_url=llm_base_url, llm_model="local"))
    yield g
    await g.aclose()


async def test_chat_completion_from_embedded_model(gateway):
    result = await gateway.chat(
        [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        max_tokens=16,
        temperature=0,
    )
    assert "paris" in result.text.lower()
    assert result.finish_reason == "stop"
    assert result.prompt_tokens > 5 and result.completion_tokens >= 1
    assert gateway.usage.requests == 1
    assert gateway.usage.total_tokens == result.prompt_tokens + result.completion_tokens


async def test_json_schema_answer_parses(gateway):
    answer = await gateway.json(
        [{"role": "user", "content": "Give the country Japan and its capital city."}],
        Capital,
        max_tokens=80,
    )
    assert answer.country.lower() == "japan"
    assert answer.capital.lower() == "tokyo"


async def test_json_that_hits_max_tokens_is_reported_not_parsed(gateway):
    with pytest.raises(LLMTruncated):
        await gateway.json(
            [{"role": "user", "content": "Give the country Japan and its capital city."}],
            Capital,
            max_tokens=3,
        )


async def test_streaming_yields_deltas_and_counts_tokens(gateway):
    deltas = [
        d
        async for d in gateway.stream(
            [{"role": "user", "content": "List the numbers one to five, separated by commas."}],
            max_tokens=40,
            temperature=0,
        )
    ]
    assert len(deltas) > 3
    text = "".join(deltas).lower()
    assert "three" in text or "3" in text
    assert gateway.usage.completion_tokens >= len(deltas) - 1


async def test_embedded_default_starts_its_own_server(data_home, llm_base_url):
    # No base URL: the gateway starts (or reuses, within this process) the embedded server.
    g = LLMGateway(Settings(data_home=data_home, llm_model="qwen2.5-coder-0.5b"))
    try:
        await g.health()
        client = await g.client()
        assert str(client.base_url).startswith("http://127.0.0.1:")
        assert str(client.base_url).rstrip("/") == llm_base_url.rstrip("/")
    finally:
        await g.aclose()


async def test_unreachable_endpoint_gives_clear_error(data_home):
    from shared.models import LLMError

    g = LLMGateway(
        Settings(
            data_home=data_home,
            llm_base_url="http://127.0.0.1:9/v1",
            llm_max_retries=0,
            llm_timeout=3,
        )
    )
    with pytest.raises(LLMError, match=r"not answering|failed"):
        await g.health()
    await g.aclose()


def test_requests_without_sampling_get_the_models_writing_defaults(data_home):
    gateway = LLMGateway(Settings(data_home=data_home, llm_model="qwen2.5-coder-1.5b"))
    params = gateway._request([{"role": "user", "content": "hi"}], max_tokens=5)
    assert params["temperature"] == 0.7 and params["top_p"] == 0.8
    assert params["extra_body"] == {"top_k": 20, "repeat_penalty": 1.1}
    exact = gateway._request([{"role": "user", "content": "hi"}], temperature=0.0)
    assert exact["temperature"] == 0.0 and "extra_body" not in exact and "top_p" not in exact
