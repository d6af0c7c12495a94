/**
 * Attaching telemetry to an open queue: loading the telemetry modules and,
 * through them, `@opentelemetry/api` (only now, and before the store is
 * touched, so a missing package fences nobody), then what the metrics read
 * from the core (the state's views, the metered store, the log's counters).
 */
import type { QueueCore } from "../core.js";
import type { Instrumentation } from "../instrument.js";
import { oldestPendingEnqueuedAt, queueNames, queueStats } from "../views.js";
import type { ResolvedTelemetry } from "./options.js";

/** Starts telemetry on an open queue's core. */
export type AttachTelemetry = (core: QueueCore, path: string) => Instrumentation;

export async function loadTelemetry(options: ResolvedTelemetry): Promise<AttachTelemetry> {
  const { loadOtelApi, startTelemetry } = await import("./index.js");
  const api = await loadOtelApi("options.telemetry");
  return (core, path) =>
    startTelemetry(
      api,
      {
        path,
        logger: core.logger,
        now: () => core.now(),
        queues: () => queueNames(core.state).map((name) => queueStats(core.state, name)),
        oldestPendingEnqueuedAt: (queue) => oldestPendingEnqueuedAt(core.state, queue),
        requests: () => core.store.snapshot(),
        logStats: () => core.log.stats(),
        observe: (metrics) => core.observers.add(metrics),
        unobserve: (metrics) => core.observers.delete(metrics),
      },
      options,
    );
}
