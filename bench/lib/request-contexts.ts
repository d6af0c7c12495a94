/**
 * Request contexts for enqueues, as a traced web app hands them to its code
 * (an AsyncLocalStorage context manager registered globally).
 */
import { type Context, context, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { benchTracerProvider } from "./telemetry.js";

/**
 * Request contexts as a traced web app hands them to its code: one request in
 * `1 / share` carries a recording span (started once, from its own always-on
 * provider, so its cost is in no mode), the rest an unsampled non-recording
 * span, as a parent-based sampler leaves them.
 */
export function requestContexts(
  share: number,
): { of(request: number): Context; shutdown(): Promise<void> } | undefined {
  if (share <= 0) return undefined;
  if (!(share <= 1))
    throw new Error(`Expected \`--requests\` to be a share in [0, 1], got ${share}`);
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const provider = benchTracerProvider(1);
  const recording = provider.getTracer("bench-requests").startSpan("request");
  const sampled = trace.setSpan(ROOT_CONTEXT, recording);
  const unsampled = trace.setSpan(
    ROOT_CONTEXT,
    trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.NONE,
    }),
  );
  const every = Math.max(1, Math.round(1 / share));
  return {
    of: (request) => (request % every === 0 ? sampled : unsampled),
    async shutdown() {
      recording.end();
      await provider.shutdown();
      context.disable();
    },
  };
}
