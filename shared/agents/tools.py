"""Tools an agent may call: a name, a description, a pydantic model for the arguments and an
async function. The model's JSON schema is what the LLM sees; the arguments it sends back are
validated against it before the function runs.

A tool never crashes a turn. Bad arguments, or a function that raises, become an error result
the LLM reads (and may correct on its next step); the trace records it with ``is_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic_core
from autogen_core import CancellationToken
from autogen_core.tools import BaseTool, ToolSchema
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT", bound=BaseModel)
ToolOutput = BaseModel | Mapping[str, Any] | list[Any] | str


class ToolError(Exception):
    """Raise from a tool with a message meant for the LLM ("no product with id 7")."""


class ToolArgumentsError(ToolError):
    """The LLM's arguments do not match the tool's schema."""


@dataclass(frozen=True)
class Tool(Generic[ArgsT]):
    name: str
    description: str
    args: type[ArgsT]
    fn: Callable[[ArgsT], Awaitable[ToolOutput]]

    def to_autogen(self) -> AgentTool:
        return AgentTool(self)


def to_json(value: Any) -> str:
    """Compact JSON for the LLM: no spaces, non-ASCII kept, models and dates handled."""
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value).decode()


def _describe_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


def _without_titles(node: Any) -> Any:
    if isinstance(node, dict):
        # A property *named* "title" maps to a dict and is kept; only title strings go.
        return {
            k: _without_titles(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_without_titles(v) for v in node]
    return node


class AgentTool(BaseTool[BaseModel, BaseModel]):
    """The autogen face of a :class:`Tool`; ``run_json`` is what autogen's workbench calls."""

    def __init__(self, tool: Tool[Any]) -> None:
        super().__init__(
            args_type=tool.args,
            return_type=BaseModel,
            name=tool.name,
            description=tool.description,
        )
        self.tool = tool

    @property
    def schema(self) -> ToolSchema:
        # Pydantic's generated titles ("Sku" for sku) only cost a small model's context.
        schema = super().schema
        return ToolSchema(**{**schema, "parameters": _without_titles(schema["parameters"])})

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> Any:
        return await self.tool.fn(args)

    async def run_json(
        self,
        args: Mapping[str, Any],
        cancellation_token: CancellationToken,
        call_id: str | None = None,
    ) -> Any:
        # Autogen's workbench turns any exception into an error result with its text, so each
        # message here is written for the LLM, and starts with "Error:" because the LLM sees
        # only the text, not the is_error flag.
        try:
            validated = self._args_type.model_validate(args)
        except ValidationError as exc:
            expected = to_json(self.schema["parameters"].get("properties", {}))
            raise ToolArgumentsError(
                f"Error: invalid arguments for {self.name}: {_describe_errors(exc)}. "
                f"Expected arguments: {expected}"
            ) from None
        try:
            return await self.run(validated, cancellation_token)
        except ToolError as exc:
            raise ToolError(f"Error: {exc}") from exc
        except Exception as exc:
            # The exception text may hold internals (SQL, paths): log it, tell the LLM less.
            logger.exception("tool %s failed", self.name)
            raise ToolError(f"Error: {self.name} failed ({type(exc).__name__})") from exc

    def return_value_as_string(self, value: Any) -> str:
        return to_json(value)
