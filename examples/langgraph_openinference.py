"""LangGraph traced by OpenInference (``openinference-instrumentation-langchain``), one line to export.

    pip install -e '.[examples]'
    python examples/langgraph_openinference.py

Offline: a small fake chat model answers from a script with tool calls, the way a real model
would (its ``bind_tools`` binds the OpenAI-format schemas, like ``ChatOpenAI``). OpenInference
marks tool spans with ``openinference.span.kind = "TOOL"``; the research tool runs a nested
LangGraph agent, so its ``search_web`` Log nests under ``research`` across the sub-graph's spans.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

from _common import destination
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import ToolNode, create_react_agent
from openinference.instrumentation.langchain import LangChainInstrumentor

import otel_tool_exporter

# LangGraph 1.x suggests langchain.agents.create_agent (another package); the prebuilt agent is fine here.
warnings.filterwarnings("ignore", message="create_react_agent has been moved")


class FakeChatModel(BaseChatModel):
    """Replies with ``script(messages)``: tool calls first, a final answer once the results are in."""

    script: Callable[[list[BaseMessage]], AIMessage]

    @property
    def _llm_type(self) -> str:
        return "fake-chat"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.script(messages))])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)


def calls(*items: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": n, "args": a, "id": f"call_{n}", "type": "tool_call"} for n, a in items],
    )


def assistant_script(messages: list[BaseMessage]) -> AIMessage:
    turn = sum(isinstance(m, AIMessage) for m in messages)
    if turn == 0:
        return calls(("get_weather", {"city": "Paris"}), ("lookup_user", {"user_id": 42}))
    if turn == 1:
        return calls(("fail_tool", {"reason": "disk full"}))
    if turn == 2:
        return calls(("research", {"topic": "otel"}))
    return AIMessage(content="done: " + " | ".join(str(m.content) for m in messages if isinstance(m, ToolMessage)))


def researcher_script(messages: list[BaseMessage]) -> AIMessage:
    if not any(isinstance(m, AIMessage) for m in messages):
        return calls(("search_web", {"query": "otel"}))
    return AIMessage(content="Research summary: " + str(messages[-1].content))


@tool
def search_web(query: str) -> str:
    """Search the web."""
    return f"3 results for {query}"


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny, 21C in {city}"


@tool
def lookup_user(user_id: int) -> dict:
    """Look up a user by id."""
    return {"id": user_id, "name": "Ada", "tags": ["admin", "beta"]}


@tool
def fail_tool(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"boom: {reason}")


researcher = create_react_agent(FakeChatModel(script=researcher_script), [search_web], name="researcher")


@tool
def research(topic: str) -> str:
    """Research a topic with a sub-agent."""
    result = researcher.invoke({"messages": [HumanMessage(content=f"Research {topic}")]})
    return str(result["messages"][-1].content)


assistant = create_react_agent(
    FakeChatModel(script=assistant_script),
    # handle_tool_errors=True hands fail_tool's error back to the model, so the run goes on
    ToolNode([get_weather, lookup_user, fail_tool, research], handle_tool_errors=True),
    name="assistant",
)


def main() -> int:
    with destination("examples/langgraph/") as dest:
        processor = otel_tool_exporter.configure(**dest.settings)
        LangChainInstrumentor().instrument()  # reports to the global provider configure() set up
        try:
            result = assistant.invoke({"messages": [HumanMessage(content="Weather, user 42, fail, research otel.")]})
            print("final answer:", result["messages"][-1].content)
        finally:
            LangChainInstrumentor().uninstrument()
        return dest.report(processor.exporter)


if __name__ == "__main__":
    sys.exit(main())
