"""One agent turn at a time: autogen's ``AssistantAgent`` with a step budget, a wall-clock
timeout, typed events for the caller to stream, and a trace of everything that happened.

A fresh ``AssistantAgent`` is built per turn, so one runner serves concurrent conversations;
the conversation so far comes in as ``history`` and becomes the agent's model context.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import (
    ModelClientStreamingChunkEvent,
    TextMessage,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
)
from autogen_core import CancellationToken, FunctionCall
from autogen_core.model_context import UnboundedChatCompletionContext
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,  # type: ignore[attr-defined]
    ModelInfo,
    RequestUsage,
    UserMessage,
)
from autogen_core.tools import Tool as AutogenTool
from autogen_core.tools import ToolSchema

from shared.agents.tools import Tool
from shared.agents.trace import ModelStep, ToolStep, Trace, prompt_hash
from shared.models.llm import TokenUsage

logger = logging.getLogger(__name__)

Turn = Mapping[str, str]  # {"role": "user" | "assistant", "content": str}


class AgentError(RuntimeError):
    """The turn failed (model endpoint down, bad model output); ``trace`` says how far it got."""

    def __init__(self, message: str, trace: Trace) -> None:
        super().__init__(message)
        self.trace = trace


class AgentTimeout(AgentError):
    """The turn ran past the runner's ``timeout_s`` and was cancelled."""


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Any  # parsed JSON, or the raw string when the model wrote invalid JSON
    call_id: str = ""


@dataclass(frozen=True)
class ToolResult:
    name: str
    content: str
    is_error: bool
    call_id: str = ""


@dataclass(frozen=True)
class TextDelta:
    """Streamed answer text. Text written before a tool call streams too; Final is the answer."""

    text: str


@dataclass(frozen=True)
class Final:
    text: str
    steps: int  # model completions this turn
    usage: TokenUsage  # the gateway's own accounting type: requests = model calls this turn
    budget_exhausted: bool  # every tool round was used; the answer was forced without tools
    trace: Trace


AgentEvent = ToolCall | ToolResult | TextDelta | Final


class _RecordingClient(ChatCompletionClient):
    """Passes calls through to the real client and appends each completion to the trace."""

    def __init__(self, inner: ChatCompletionClient, trace: Trace) -> None:
        self._inner = inner
        self._trace = trace

    async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        start = time.perf_counter()
        result = await self._inner.create(messages, **kwargs)
        self._record(result, start)
        return result

    async def create_stream(
        self, messages: Sequence[LLMMessage], **kwargs: Any
    ) -> AsyncGenerator[str | CreateResult, None]:
        start = time.perf_counter()
        async for chunk in self._inner.create_stream(messages, **kwargs):
            if isinstance(chunk, CreateResult):
                self._record(chunk, start)
            yield chunk

    def _record(self, result: CreateResult, start: float) -> None:
        elapsed = (time.perf_counter() - start) * 1000
        self._trace.steps.append(ModelStep.from_create_result(result, elapsed))

    async def close(self) -> None:
        # The runner does not own the client; whoever built it closes it.
        return None

    def actual_usage(self) -> RequestUsage:
        return self._inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self._inner.total_usage()

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[AutogenTool | ToolSchema] = ()
    ) -> int:
        return self._inner.count_tokens(messages, tools=tools)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[AutogenTool | ToolSchema] = ()
    ) -> int:
        return self._inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]
        return self._inner.model_info  # type: ignore[return-value]

    @property
    def model_info(self) -> ModelInfo:
        return self._inner.model_info


class _Done:
    pass


_DONE = _Done()
# Turn tasks that ignored cancellation; kept referenced so asyncio does not warn when GC'd.
_stragglers: set[asyncio.Task[None]] = set()


def _parse_arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _context(history: Sequence[Turn], agent_name: str) -> list[LLMMessage]:
    messages: list[LLMMessage] = []
    for turn in history:
        role, content = turn["role"], turn["content"]
        if role == "user":
            messages.append(UserMessage(content=content, source="user"))
        elif role == "assistant":
            messages.append(AssistantMessage(content=content, source=agent_name))
        else:
            raise ValueError(f"history roles are 'user' or 'assistant', not {role!r}")
    return messages


class AgentRunner:
    def __init__(
        self,
        name: str,
        system_prompt: str,
        tools: Sequence[Tool],
        client: ChatCompletionClient,
        *,
        max_steps: int = 4,
        timeout_s: float = 20.0,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.name = name
        self.system_prompt = system_prompt
        self.tools = list(tools)
        self.client = client
        self.max_steps = max_steps
        self.timeout_s = timeout_s
        # Autogen wants an identifier; the trace keeps the name as given.
        self._agent_name = re.sub(r"\W", "_", name) if not name.isidentifier() else name
        self._autogen_tools = [t.to_autogen() for t in self.tools]

    def _agent(self, history: Sequence[Turn], trace: Trace) -> AssistantAgent:
        return AssistantAgent(
            self._agent_name,
            _RecordingClient(self.client, trace),
            tools=list(self._autogen_tools),
            system_message=self.system_prompt,
            model_context=UnboundedChatCompletionContext(_context(history, self._agent_name)),
            model_client_stream=True,
            # After the last allowed tool round the model must answer in text (tool_choice none).
            reflect_on_tool_use=True,
            max_tool_iterations=self.max_steps,
        )

    async def run(self, history: Sequence[Turn], user_text: str) -> Final:
        final = None
        async for event in self.stream(history, user_text):
            if isinstance(event, Final):
                final = event
        assert final is not None  # stream() ends with a Final or raises
        return final

    async def stream(self, history: Sequence[Turn], user_text: str) -> AsyncIterator[AgentEvent]:
        trace = Trace(
            agent=self.name,
            system_prompt_sha256=prompt_hash(self.system_prompt),
            user_text=user_text,
            history_len=len(history),
            max_steps=self.max_steps,
        )
        agent = self._agent(history, trace)
        # The agent runs in its own task and hands events over a queue, so the timeout covers
        # the agent's work only, never the time our caller spends handling an event.
        queue: asyncio.Queue[AgentEvent | BaseException | _Done] = asyncio.Queue()
        token = CancellationToken()
        started = time.perf_counter()
        task = asyncio.create_task(self._produce(agent, user_text, token, queue, trace, started))
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        finished = False
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await queue.get()
                except TimeoutError:
                    trace.error = f"timed out after {self.timeout_s:g}s"
                    trace.duration_ms = (time.perf_counter() - started) * 1000
                    raise AgentTimeout(
                        f"agent {self.name} did not finish within {self.timeout_s:g}s", trace
                    ) from None
                if isinstance(item, _Done):
                    if not finished:
                        raise AgentError(f"agent {self.name} ended without an answer", trace)
                    return
                if isinstance(item, BaseException):
                    trace.error = f"{type(item).__name__}: {item}"
                    trace.duration_ms = (time.perf_counter() - started) * 1000
                    raise AgentError(f"agent {self.name} failed: {trace.error}", trace) from item
                finished = isinstance(item, Final)
                yield item
        finally:
            await _stop(task, token)

    async def _produce(
        self,
        agent: AssistantAgent,
        user_text: str,
        token: CancellationToken,
        queue: asyncio.Queue[AgentEvent | BaseException | _Done],
        trace: Trace,
        started: float,
    ) -> None:
        rounds = 0
        pending: list[FunctionCall] = []
        round_started = 0.0
        message = TextMessage(content=user_text, source="user")
        try:
            async for event in agent.on_messages_stream([message], token):
                if isinstance(event, ModelClientStreamingChunkEvent):
                    queue.put_nowait(TextDelta(event.content))
                elif isinstance(event, ToolCallRequestEvent):
                    rounds += 1
                    pending = list(event.content)
                    round_started = time.perf_counter()
                    for call in pending:
                        args = _parse_arguments(call.arguments)
                        queue.put_nowait(ToolCall(call.name, args, call.id))
                elif isinstance(event, ToolCallExecutionEvent):
                    # Calls in one round run concurrently; each gets the round's duration.
                    elapsed = (time.perf_counter() - round_started) * 1000
                    for call, result in zip(pending, event.content, strict=True):
                        is_error = bool(result.is_error)
                        trace.steps.append(
                            ToolStep(
                                call_id=call.id,
                                name=call.name,
                                arguments=call.arguments,
                                result=result.content,
                                is_error=is_error,
                                duration_ms=elapsed,
                            )
                        )
                        queue.put_nowait(ToolResult(call.name, result.content, is_error, call.id))
                elif isinstance(event, Response):
                    text = event.chat_message.to_model_text()
                    trace.final_text = text
                    trace.duration_ms = (time.perf_counter() - started) * 1000
                    steps = len(trace.model_steps)
                    usage = TokenUsage(steps, trace.prompt_tokens, trace.completion_tokens)
                    exhausted = rounds >= self.max_steps
                    queue.put_nowait(Final(text, steps, usage, exhausted, trace))
        except Exception as exc:
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_DONE)


async def _stop(task: asyncio.Task[None], token: CancellationToken) -> None:
    if task.done():
        return
    token.cancel()
    task.cancel()
    # Bounded: a tool that swallows cancellation must not hang the caller.
    done, _ = await asyncio.wait({task}, timeout=1.0)
    if not done:
        logger.warning("agent turn task ignored cancellation; leaving it to finish")
        _stragglers.add(task)
        task.add_done_callback(_stragglers.discard)
    else:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
