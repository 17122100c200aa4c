"""Tool-using agents on autogen-agentchat: typed tools, a runner with a step budget and a
timeout, streamed events, and a replayable trace of every turn.

    class PriceArgs(BaseModel):
        sku: str = Field(description="product SKU, e.g. AB-12")

    async def lookup_price(args: PriceArgs) -> dict:
        return {"sku": args.sku, "price": 1234.5}

    tool = Tool("lookup_price", "Price of a product by SKU.", PriceArgs, lookup_price)
    runner = AgentRunner("shop", "Answer with the tools.", [tool], client_for(settings))
    async for event in runner.stream(history, "What does AB-12 cost?"):
        ...  # ToolCall, ToolResult and TextDelta events, then one Final
    await TraceStore(pool).save(tenant, session, turn, event.trace)  # event is the Final
"""

from shared.agents.client import MODEL_INFO, OpenAICompatibleClient, chat_client, client_for
from shared.agents.runner import (
    AgentError,
    AgentEvent,
    AgentRunner,
    AgentTimeout,
    Final,
    TextDelta,
    ToolCall,
    ToolResult,
)
from shared.agents.store import StoredTrace, TraceStore
from shared.agents.tools import Tool, ToolArgumentsError, ToolError
from shared.agents.trace import (
    Difference,
    ModelStep,
    ReplayResult,
    ToolStep,
    Trace,
    replay,
)
from shared.models.llm import TokenUsage

__all__ = [
    "MODEL_INFO",
    "AgentError",
    "AgentEvent",
    "AgentRunner",
    "AgentTimeout",
    "Difference",
    "Final",
    "ModelStep",
    "OpenAICompatibleClient",
    "ReplayResult",
    "StoredTrace",
    "TextDelta",
    "TokenUsage",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "ToolStep",
    "Trace",
    "TraceStore",
    "chat_client",
    "client_for",
    "replay",
]
