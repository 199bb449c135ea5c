"""pydantic-ai: one line (``configure()``) plus pydantic-ai's own instrumentation.

    pip install -e '.[examples]'
    python examples/pydantic_ai_agent.py

Offline: both agents' models are scripted ``FunctionModel``s; the research sub-agent searches the
topic it was asked about.
pydantic-ai records its tool calls as OpenTelemetry GenAI ``execute_tool`` spans; their schemas
come from the ``gen_ai.tool.definitions`` of the neighbouring chat spans.
"""

from __future__ import annotations

import asyncio
import sys

from _common import destination
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

import otel_tool_exporter


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Turn by turn: two tools at once, then research, then the failing tool (its error ends the run)."""
    turn = sum(isinstance(m, ModelResponse) for m in messages)
    if turn == 0:
        return ModelResponse(
            parts=[
                ToolCallPart("get_weather", {"city": "Paris"}, tool_call_id="call_weather"),
                ToolCallPart("lookup_user", {"user_id": 42}, tool_call_id="call_user"),
            ]
        )
    if turn == 1:
        return ModelResponse(parts=[ToolCallPart("research", {"topic": "otel"}, tool_call_id="call_research")])
    if turn == 2:
        return ModelResponse(parts=[ToolCallPart("fail_tool", {"reason": "disk full"}, tool_call_id="call_fail")])
    results = [str(p.content) for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
    return ModelResponse(parts=[TextPart("done: " + "; ".join(results))])


def research_script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Search the web for the topic named in the prompt ("Research <topic>"), then report."""
    if not any(isinstance(m, ModelResponse) for m in messages):
        prompt = next(
            str(p.content)
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, UserPromptPart)
        )
        topic = prompt.removeprefix("Research ").strip()
        return ModelResponse(parts=[ToolCallPart("search_web", {"query": topic}, tool_call_id="call_search")])
    results = [str(p.content) for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
    return ModelResponse(parts=[TextPart("; ".join(results))])


researcher = Agent(FunctionModel(research_script, model_name="scripted"), name="researcher")
assistant = Agent(FunctionModel(scripted, model_name="scripted"), name="assistant")


@researcher.tool_plain
def search_web(query: str) -> str:
    """Search the web."""
    return f"3 results for {query}"


@assistant.tool_plain
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny, 21C in {city}"


@assistant.tool_plain
def lookup_user(user_id: int) -> dict:
    """Look up a user by id."""
    return {"id": user_id, "name": "Ada", "tags": ["admin", "beta"]}


@assistant.tool_plain
def fail_tool(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"boom: {reason}")


@assistant.tool_plain
async def research(topic: str) -> str:
    """Research a topic with a sub-agent."""
    result = await researcher.run(f"Research {topic}")
    return result.output


def main() -> int:
    with destination("examples/pydantic-ai/") as dest:
        processor = otel_tool_exporter.configure(**dest.settings)  # global SDK provider + ToolSpanProcessor
        Agent.instrument_all()  # pydantic-ai reports to the global provider
        try:
            asyncio.run(assistant.run("Weather in Paris, who is user 42, research otel, then fail."))
        except ValueError as exc:  # pydantic-ai lets a tool's plain exception end the run
            print("run ended with", repr(exc))
        return dest.report(processor.exporter)


if __name__ == "__main__":
    sys.exit(main())
