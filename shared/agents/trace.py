"""The record of one agent turn, and its deterministic replay.

A trace holds every model completion (text, tool-call requests, token usage, time) and every
tool execution (arguments, result, error flag, time) in order. ``replay`` feeds the recorded
completions back through autogen's ``ReplayChatCompletionClient`` while the tools run for
real, so a bad turn can be re-run offline and any tool whose answer changed shows up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from autogen_core import FunctionCall
from autogen_core.models import CreateResult, RequestUsage
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from shared.agents.runner import Final
    from shared.agents.tools import Tool


class RequestedCall(BaseModel):
    id: str
    name: str
    arguments: str  # the raw JSON the model wrote, valid or not


class ModelStep(BaseModel):
    kind: Literal["model"] = "model"
    text: str = ""
    thought: str | None = None  # text written alongside tool calls
    tool_calls: list[RequestedCall] = Field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: float = 0.0

    def to_create_result(self) -> CreateResult:
        calls = [FunctionCall(id=c.id, name=c.name, arguments=c.arguments) for c in self.tool_calls]
        return CreateResult(
            finish_reason=self.finish_reason,  # type: ignore[arg-type]
            content=calls or self.text,
            usage=RequestUsage(
                prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens
            ),
            cached=True,
            thought=self.thought,
        )

    @classmethod
    def from_create_result(cls, result: CreateResult, duration_ms: float) -> ModelStep:
        calls = result.content if isinstance(result.content, list) else []
        return cls(
            text=result.content if isinstance(result.content, str) else "",
            thought=result.thought,
            tool_calls=[RequestedCall(id=c.id, name=c.name, arguments=c.arguments) for c in calls],
            finish_reason=result.finish_reason,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            duration_ms=duration_ms,
        )


class ToolStep(BaseModel):
    kind: Literal["tool"] = "tool"
    call_id: str
    name: str
    arguments: str
    result: str
    is_error: bool
    duration_ms: float = 0.0


Step = Annotated[ModelStep | ToolStep, Field(discriminator="kind")]


def prompt_hash(system_prompt: str) -> str:
    return hashlib.sha256(system_prompt.encode()).hexdigest()


class Trace(BaseModel):
    agent: str
    system_prompt_sha256: str
    user_text: str
    history_len: int
    max_steps: int
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    steps: list[Step] = Field(default_factory=list)
    final_text: str | None = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def model_steps(self) -> list[ModelStep]:
        return [s for s in self.steps if isinstance(s, ModelStep)]

    @property
    def tool_steps(self) -> list[ToolStep]:
        return [s for s in self.steps if isinstance(s, ToolStep)]

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for s in self.model_steps)

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for s in self.model_steps)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class Difference:
    """A tool step whose replay differs from the recording (None: the step is missing)."""

    index: int  # position among the turn's tool steps
    name: str
    arguments: str
    recorded: str | None
    replayed: str | None
    recorded_is_error: bool | None
    replayed_is_error: bool | None


@dataclass(frozen=True)
class ReplayResult:
    final: Final
    differences: list[Difference]

    @property
    def trace(self) -> Trace:
        return self.final.trace


def diff_tool_steps(recorded: Sequence[ToolStep], replayed: Sequence[ToolStep]) -> list[Difference]:
    differences = []
    for i in range(max(len(recorded), len(replayed))):
        old = recorded[i] if i < len(recorded) else None
        new = replayed[i] if i < len(replayed) else None
        if old and new and (old.result, old.is_error) == (new.result, new.is_error):
            continue
        step = old or new
        assert step is not None
        differences.append(
            Difference(
                index=i,
                name=step.name,
                arguments=step.arguments,
                recorded=old.result if old else None,
                replayed=new.result if new else None,
                recorded_is_error=old.is_error if old else None,
                replayed_is_error=new.is_error if new else None,
            )
        )
    return differences


async def replay(trace: Trace, tools: Sequence[Tool], *, timeout_s: float = 60.0) -> ReplayResult:
    """Re-run a recorded turn: the model's completions come from the trace, the tools run anew."""
    # Imported here: the runner imports this module to build its traces.
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from shared.agents.client import MODEL_INFO
    from shared.agents.runner import AgentRunner

    client = ReplayChatCompletionClient(
        [step.to_create_result() for step in trace.model_steps], model_info=MODEL_INFO
    )
    runner = AgentRunner(
        trace.agent, "", tools, client, max_steps=trace.max_steps, timeout_s=timeout_s
    )
    final = await runner.run([], trace.user_text)
    return ReplayResult(final, diff_tool_steps(trace.tool_steps, final.trace.tool_steps))
