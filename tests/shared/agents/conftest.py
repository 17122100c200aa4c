"""Shared pieces, as fixtures (test modules here are not importable packages): a price tool
with a distinctive answer, and scripted completions for tests that must not depend on what
the 0.5B model decides."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import BaseModel, Field

from shared.agents import MODEL_INFO, Tool

PRICE = 1234.5


class PriceArgs(BaseModel):
    sku: str = Field(description="The product SKU, for example AB-12.")


def _price_tool(price: float = PRICE) -> Tool[PriceArgs]:
    async def lookup_price(args: PriceArgs) -> dict:
        return {"sku": args.sku, "price": price}

    return Tool("lookup_price", "Price of a product by SKU.", PriceArgs, lookup_price)


def _call(name: str, arguments: dict, call_id: str = "call_1") -> CreateResult:
    """A completion that requests one tool call, as the OpenAI client returns it."""
    return CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id=call_id, name=name, arguments=json.dumps(arguments))],
        usage=RequestUsage(prompt_tokens=50, completion_tokens=10),
        cached=False,
    )


def _answer(text: str) -> CreateResult:
    return CreateResult(
        finish_reason="stop",
        content=text,
        usage=RequestUsage(prompt_tokens=60, completion_tokens=8),
        cached=False,
    )


class ScriptedModel(ReplayChatCompletionClient):
    """Autogen's replay client, noting what each streamed request offered the model."""

    def __init__(self, completions: list[CreateResult | str]) -> None:
        super().__init__(completions, model_info=MODEL_INFO)
        self.requests: list[dict] = []

    def create_stream(self, messages, **kwargs):  # type: ignore[override]
        self.requests.append({"messages": list(messages), "tools": list(kwargs.get("tools", []))})
        return super().create_stream(messages, **kwargs)


@pytest.fixture(scope="session")
def price_tool() -> Callable[..., Tool[PriceArgs]]:
    return _price_tool


@pytest.fixture
def tool() -> Tool[PriceArgs]:
    return _price_tool()


@pytest.fixture
def scripted() -> SimpleNamespace:
    return SimpleNamespace(
        call=_call, answer=_answer, model=ScriptedModel, PriceArgs=PriceArgs, PRICE=PRICE
    )
