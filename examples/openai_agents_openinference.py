"""The OpenAI Agents SDK traced by OpenInference (``openinference-instrumentation-openai-agents``).

    pip install -e '.[examples]'
    python examples/openai_agents_openinference.py

Offline: a custom ``agents.Model`` answers from a script (no OpenAI call, no key; the SDK only
wants ``OPENAI_API_KEY`` to be set, so a dummy value is used when none is). The OpenInference
processor replaces the SDK's own trace exporter, so nothing is sent to OpenAI either. The
``research`` tool runs a nested agent; its ``search_web`` Log nests under ``research``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

os.environ.setdefault("OPENAI_API_KEY", "offline-example")  # never used: the model below is local

from _common import destination
from agents import Agent, Model, ModelResponse, Runner, Usage, function_tool
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

import otel_tool_exporter


def tool_call(name: str, arguments: dict[str, Any]) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", id=f"fc_{name}", call_id=f"call_{name}", name=name, arguments=json.dumps(arguments)
    )


def answer(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_answer",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """Plays ``turns`` in order (one list of tool calls per turn), then answers with the tool outputs."""

    def __init__(self, turns: list[list[ResponseFunctionToolCall]]) -> None:
        self.turns = turns

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
        items = [] if isinstance(input, str) else [i if isinstance(i, dict) else i.model_dump() for i in input]
        done = sum(1 for i in items if i.get("type") == "function_call")
        turn, seen = 0, 0
        while turn < len(self.turns) and seen < done:
            seen += len(self.turns[turn])
            turn += 1
        if turn < len(self.turns):
            output: list[Any] = list(self.turns[turn])
        else:
            results = [str(i.get("output")) for i in items if i.get("type") == "function_call_output"]
            output = [answer("done: " + " | ".join(results))]
        return ModelResponse(output=output, usage=Usage(requests=1), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("this example does not stream")


@function_tool
def search_web(query: str) -> str:
    """Search the web."""
    return f"3 results for {query}"


researcher = Agent(
    name="researcher",
    instructions="Research the topic.",
    model=ScriptedModel([[tool_call("search_web", {"query": "otel"})]]),
    tools=[search_web],
)


@function_tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny, 21C in {city}"


@function_tool
def lookup_user(user_id: int) -> dict:
    """Look up a user by id."""
    return {"id": user_id, "name": "Ada", "tags": ["admin", "beta"]}


@function_tool
def fail_tool(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"boom: {reason}")


@function_tool
async def research(topic: str) -> str:
    """Research a topic with a sub-agent."""
    result = await Runner.run(researcher, f"Research {topic}")
    return str(result.final_output)


assistant = Agent(
    name="assistant",
    instructions="Use the tools.",
    model=ScriptedModel(
        [
            [tool_call("get_weather", {"city": "Paris"}), tool_call("lookup_user", {"user_id": 42})],
            [tool_call("fail_tool", {"reason": "disk full"})],  # the SDK hands the error back to the model
            [tool_call("research", {"topic": "otel"})],
        ]
    ),
    tools=[get_weather, lookup_user, fail_tool, research],
)


def main() -> int:
    with destination("examples/openai-agents/") as dest:
        processor = otel_tool_exporter.configure(**dest.settings)
        OpenAIAgentsInstrumentor().instrument()  # replaces the SDK's OpenAI trace exporter
        result = asyncio.run(Runner.run(assistant, "Weather, user 42, fail, research otel."))
        print("final answer:", result.final_output)
        return dest.report(processor.exporter)


if __name__ == "__main__":
    sys.exit(main())
