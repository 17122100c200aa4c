import json
from datetime import date

from autogen_core.tools import StaticStreamWorkbench
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import BaseModel

from shared.agents import MODEL_INFO, AgentRunner, Tool, ToolError
from shared.agents.client import recover_tool_calls
from shared.agents.tools import to_json


def test_schema_comes_from_the_pydantic_model(tool):
    schema = tool.to_autogen().schema
    assert schema["name"] == "lookup_price"
    assert schema["description"] == "Price of a product by SKU."
    params = schema["parameters"]
    assert params["required"] == ["sku"]
    assert params["properties"] == {
        "sku": {"type": "string", "description": "The product SKU, for example AB-12."}
    }  # pydantic's "title" noise is gone


async def test_agent_offers_the_schema_and_history_to_the_model(tool, scripted):
    model = scripted.model([scripted.answer("Hello.")])
    runner = AgentRunner("shop", "Be brief.", [tool], model)
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello, how can I help?"},
    ]
    final = await runner.run(history, "price of AB-12?")
    (sent,) = model.requests
    assert sent["tools"] == [tool.to_autogen().schema]
    contents = [m.content for m in sent["messages"]]
    assert contents == ["Be brief.", "hi", "Hello, how can I help?", "price of AB-12?"]
    assert final.text == "Hello."
    assert final.trace.history_len == 2


async def test_bad_arguments_come_back_as_an_error_result(tool):
    bench = StaticStreamWorkbench([tool.to_autogen()])
    result = await bench.call_tool("lookup_price", {"code": "AB-12"})
    assert result.is_error
    text = result.to_text()
    assert text.startswith("Error: invalid arguments for lookup_price: sku: Field required")
    assert 'Expected arguments: {"sku":{' in text  # tells the model what to send instead

    result = await bench.call_tool("lookup_price", {"sku": ["AB-12"]})
    assert result.is_error and "sku: Input should be a valid string" in result.to_text()


async def test_bad_arguments_do_not_end_the_turn(tool, scripted):
    model = ReplayChatCompletionClient(
        [
            scripted.call("lookup_price", {"product": "AB-12"}),
            scripted.answer("I could not look that up."),
        ],
        model_info=MODEL_INFO,
    )
    final = await AgentRunner("shop", "", [tool], model).run([], "price of AB-12?")
    assert final.text == "I could not look that up."
    (step,) = final.trace.tool_steps
    assert step.is_error and step.result.startswith("Error: invalid arguments")


async def test_tool_failures_are_errors_the_model_can_read():
    class Args(BaseModel):
        id: int

    async def raises_tool_error(args: Args) -> str:
        raise ToolError(f"no product with id {args.id}")

    async def crashes(args: Args) -> str:
        raise KeyError("secret internal detail")

    bench = StaticStreamWorkbench(
        [
            Tool("find", "Find.", Args, raises_tool_error).to_autogen(),
            Tool("crash", "Crash.", Args, crashes).to_autogen(),
        ]
    )
    found = await bench.call_tool("find", {"id": 7})
    assert found.is_error and found.to_text() == "Error: no product with id 7"
    crashed = await bench.call_tool("crash", {"id": 7})
    assert crashed.is_error and crashed.to_text() == "Error: crash failed (KeyError)"


async def test_results_are_compact_json():
    class Item(BaseModel):
        name: str
        added: date

    class NoArgs(BaseModel):
        pass

    async def items(args: NoArgs) -> list[Item]:
        return [Item(name="Café", added=date(2024, 1, 2))]

    bench = StaticStreamWorkbench([Tool("items", "Items.", NoArgs, items).to_autogen()])
    result = await bench.call_tool("items", {})
    assert result.to_text() == '[{"name":"Café","added":"2024-01-02"}]'
    assert to_json({"a": [1, 2]}) == '{"a":[1,2]}'
    assert to_json("plain text") == "plain text"


def test_plain_text_tool_calls_are_recovered():
    names = {"lookup_price"}
    bare = '{"name": "lookup_price", "arguments": {"sku": "AB-12"}}'
    (recovered,) = recover_tool_calls(bare, names)
    assert recovered.name == "lookup_price"
    assert json.loads(recovered.arguments) == {"sku": "AB-12"}
    tagged = f"<tool_call>\n{bare}\n</tool_call>\n<tool_call>{bare}</tool_call>"
    assert len(recover_tool_calls(tagged, names)) == 2
    assert len(recover_tool_calls(f"```json\n{bare}\n```", names)) == 1
    assert len(recover_tool_calls(f"{bare}\n{bare}", names)) == 2  # one call per line
    # Anything else stays text: unknown tools, JSON answers, prose, a truncated call.
    assert recover_tool_calls('{"name": "rm_rf", "arguments": {}}', names) is None
    assert recover_tool_calls('{"price": 1234.5}', names) is None
    assert recover_tool_calls(f'{bare}\n{{"price": 1}}', names) is None
    assert recover_tool_calls(f"Sure! {bare}", names) is None
    assert recover_tool_calls(bare[:-5], names) is None
