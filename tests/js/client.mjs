// A real Node OpenTelemetry app exporting OTLP/JSON to the sidecar (tests/test_sidecar_node.py).
//
// usage: node client.mjs <traces url> [gzip|none] [bearer token]
//
// It records the demo scenario with GenAI semantic-convention attributes: an agent span, a chat
// span offering the tools, four execute_tool spans (one failing), and a tool that runs a nested
// agent which itself calls a tool. Spans are exported one by one as they end (SimpleSpanProcessor),
// so children reach the sidecar before their parents, in separate requests.
import { context, trace, SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";

const [url, compression = "none", token] = process.argv.slice(2);
if (!url) {
  console.error("usage: node client.mjs <traces url> [gzip|none] [bearer token]");
  process.exit(2);
}

const exporter = new OTLPTraceExporter({
  url,
  compression: compression === "gzip" ? "gzip" : "none",
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});
let failures = 0;
const counting = {
  export(spans, done) {
    exporter.export(spans, (result) => {
      if (result.code !== 0) {
        failures += 1;
        console.error(`export failed: ${result.error}`);
      }
      done(result);
    });
  },
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush(),
};
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "node-agent", "deployment.environment.name": "node-test" }),
  spanProcessors: [new SimpleSpanProcessor(counting)],
});
const tracer = provider.getTracer("node.client", "1.0.0");

const TOOLS = {
  get_weather: "Get the weather for a city.",
  lookup_user: "Look up a user by id.",
  fail_tool: "Always fails.",
  research: "Research a topic with a sub-agent.",
  search_web: "Search the web.",
};

function inSpan(name, attributes, parentCtx, body) {
  const span = tracer.startSpan(name, { attributes }, parentCtx);
  const ctx = trace.setSpan(parentCtx, span);
  try {
    return body(span, ctx);
  } finally {
    span.end();
  }
}

function callTool(ctx, name, args, callId, fn) {
  return inSpan(
    `execute_tool ${name}`,
    {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": name,
      "gen_ai.tool.call.id": callId,
      "gen_ai.tool.description": TOOLS[name],
      "gen_ai.tool.call.arguments": JSON.stringify(args),
    },
    ctx,
    (span, inner) => {
      try {
        const result = fn(args, inner);
        span.setAttribute("gen_ai.tool.call.result", typeof result === "string" ? result : JSON.stringify(result));
        return result;
      } catch (err) {
        span.recordException(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${err.name}: ${err.message}` });
        span.setAttribute("error.type", err.name);
        return undefined;
      }
    },
  );
}

function agent(ctx, name, calls) {
  inSpan(`invoke_agent ${name}`, { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name }, ctx, (_, agentCtx) => {
    inSpan("chat scripted-model", { "gen_ai.operation.name": "chat", "gen_ai.request.model": "scripted-model" }, agentCtx, () => {});
    calls.forEach(([tool, args, fn], i) => callTool(agentCtx, tool, args, `call_${name}_${i}`, fn));
  });
}

agent(context.active(), "assistant", [
  ["get_weather", { city: "Paris" }, ({ city }) => `Sunny, 21C in ${city}`],
  ["lookup_user", { user_id: 42 }, ({ user_id }) => ({ id: user_id, name: "Ada", tags: ["admin", "beta"] })],
  [
    "fail_tool",
    { reason: "disk full" },
    ({ reason }) => {
      throw new RangeError(`boom: ${reason}`);
    },
  ],
  [
    "research",
    { topic: "otel" },
    ({ topic }, ctx) => {
      agent(ctx, "researcher", [["search_web", { query: topic }, ({ query }) => `3 results for ${query}`]]);
      return `Summary of ${topic}: 3 results found`;
    },
  ],
]);

await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify({ failures }));
process.exit(failures ? 1 : 0);
