"""The chat-completion client agents talk to: any OpenAI-compatible endpoint (llama.cpp, vLLM,
OpenAI), configured for tool use.

Two things the stock autogen-ext client does not do, and agents need:

* streamed completions ask for token usage (``stream_options.include_usage``), so every
  trace step has its token counts;
* small local models (Qwen2.5-Coder 0.5B through llama.cpp, for one) often write a tool call as
  bare JSON, ``{"name": ..., "arguments": {...}}``, without the ``<tool_call>`` tags the chat
  template's parser looks for, so the server returns it as text. When such text names an
  offered tool it is turned back into a tool call, and it is never streamed to the user.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, LLMMessage, ModelFamily, ModelInfo
from autogen_core.tools import Tool as AutogenTool
from autogen_core.tools import ToolSchema
from autogen_ext.models.openai import OpenAIChatCompletionClient

from shared.config import Settings
from shared.models.llm import embedded_server_url

MODEL_INFO = ModelInfo(
    vision=False,
    function_calling=True,
    json_output=True,
    structured_output=True,
    family=ModelFamily.UNKNOWN,
)

# Greedy decoding: tool arguments must be exact, and turns become reproducible on llama.cpp.
TOOL_USE_SAMPLING: dict[str, Any] = {"temperature": 0.0}

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
# Text that starts like this may turn out to be a tool call, so it is held back while streaming.
_MAYBE_CALL = ("{", "[", "<tool_call>", "```")


def _json_values(text: str) -> list[Any] | None:
    """The JSON values ``text`` holds back to back (small models write one call per line)."""
    decoder = json.JSONDecoder()
    values, pos = [], 0
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        values.append(value)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return values


def recover_tool_calls(text: str, tool_names: set[str]) -> list[FunctionCall] | None:
    """Tool calls written as plain text, or None when ``text`` is not (only) tool calls."""
    body = text.strip()
    tagged = _TAGGED.findall(body)
    if tagged:
        if _TAGGED.sub("", body).strip():
            return None
        payloads = tagged
    else:
        fenced = _FENCED.match(body)
        payloads = [fenced[1] if fenced else body]
    calls: list[FunctionCall] = []
    for payload in payloads:
        values = _json_values(payload)
        if not values:
            return None
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                # Only a known tool name counts: a JSON answer must stay an answer.
                if not isinstance(item, dict) or item.get("name") not in tool_names:
                    return None
                args = item.get("arguments", item.get("parameters", {}))
                calls.append(
                    FunctionCall(
                        id=f"call_{uuid.uuid4().hex[:24]}",
                        name=item["name"],
                        arguments=args if isinstance(args, str) else json.dumps(args),
                    )
                )
    return calls or None


def _tool_names(tools: Sequence[AutogenTool | ToolSchema]) -> set[str]:
    return {t.name if isinstance(t, AutogenTool) else t["name"] for t in tools}


def _recovered(result: CreateResult, names: set[str]) -> CreateResult | None:
    if not names or not isinstance(result.content, str):
        return None
    calls = recover_tool_calls(result.content, names)
    if calls is None:
        return None
    return result.model_copy(update={"content": calls, "finish_reason": "function_calls"})


class OpenAICompatibleClient(OpenAIChatCompletionClient):
    """``OpenAIChatCompletionClient`` plus usage on streams and plain-text tool-call recovery."""

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[AutogenTool | ToolSchema] = (),
        **kwargs: Any,
    ) -> CreateResult:
        result = await super().create(messages, tools=tools, **kwargs)
        return _recovered(result, _tool_names(tools)) or result

    async def create_stream(  # type: ignore[override]
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[AutogenTool | ToolSchema] = (),
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        include_usage: bool | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[str | CreateResult, None]:
        extra_create_args = extra_create_args or {}
        if include_usage is None and "stream_options" not in extra_create_args:
            include_usage = True
        names = _tool_names(tools)
        held: list[str] = []
        holding = bool(names)
        async for chunk in super().create_stream(
            messages,
            tools=tools,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
            include_usage=include_usage,
            **kwargs,
        ):
            if isinstance(chunk, CreateResult):
                recovered = _recovered(chunk, names)
                if recovered is not None:
                    yield recovered
                    return
                for text in held:
                    yield text
                yield chunk
                return
            if holding:
                held.append(chunk)
                start = "".join(held).lstrip()
                if not start or any(
                    start.startswith(p) or p.startswith(start) for p in _MAYBE_CALL
                ):
                    continue
                holding = False
                for text in held:
                    yield text
                held.clear()
            else:
                yield chunk


def chat_client(
    base_url: str,
    model: str,
    api_key: str = "none",
    *,
    timeout: float = 120.0,
    max_retries: int = 2,
    **create_args: Any,
) -> OpenAICompatibleClient:
    """A tool-use client for one OpenAI-compatible endpoint; ``create_args`` override sampling."""
    return OpenAICompatibleClient(
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        max_retries=max_retries,
        model_info=MODEL_INFO,
        # Some servers (vLLM with Mistral templates) reject the per-message "name" field.
        include_name_in_message=False,
        **{**TOOL_USE_SAMPLING, **create_args},
    )


def client_for(settings: Settings, **create_args: Any) -> OpenAICompatibleClient:
    """The configured endpoint (``ASCENT_LLM_BASE_URL``) or else the embedded llama.cpp server.

    Starting the embedded server blocks until it is healthy: call this at start-up, or through
    ``asyncio.to_thread`` from async code.
    """
    base_url = settings.llm_base_url or embedded_server_url(settings, settings.llm_model)
    return chat_client(
        base_url,
        settings.llm_model,
        settings.llm_api_key.get_secret_value(),
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        **create_args,
    )
