/** Tracing for tests: an SDK tracer provider whose finished spans are kept in memory. */
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type Sampler,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** A tracer provider (sampling with `sampler` when given) whose spans `exporter` keeps, and a tracer of it. */
export function tracing(sampler?: Sampler) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    ...(sampler === undefined ? {} : { sampler }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, tracerProvider, tracer: tracerProvider.getTracer("app") };
}
