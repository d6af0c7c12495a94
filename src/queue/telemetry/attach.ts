/**
 * Attaching telemetry to an open queue: loading the telemetry modules and,
 * through them, `@opentelemetry/api` (only now, and before the store is
 * touched, so a missing package fences nobody), then what the metrics read
 * from the core (the state's views, the metered store, the log's counters).
 * With the option left out, only what the application's global providers
 * call for is started (`detect.ts`), and nothing is loaded without them.
 */
import type { Logger } from "../../logger.js";
import { messageOf } from "../../util/message.js";
import type { QueueCore } from "../core.js";
import type { Instrumentation } from "../instrument.js";
import { oldestPendingEnqueuedAt, queueNames, queueStats } from "../views.js";
import { detectTelemetry } from "./detect.js";
import { loadOtelApi, type OtelApi } from "./load.js";
import type { ResolvedTelemetry } from "./options.js";

/** Starts telemetry on an open queue's core. */
export type AttachTelemetry = (core: QueueCore, path: string) => Instrumentation;

/**
 * What starts the telemetry `options` ask for, or `null` when there is none
 * to start (the option left out and no global provider registered).
 */
export async function loadTelemetry(
  resolved: ResolvedTelemetry,
  logger: Logger,
): Promise<AttachTelemetry | null> {
  let api: OtelApi;
  let options = resolved;
  if (resolved.auto) {
    const detected = await detectTelemetry(resolved, logger);
    if (detected === null) return null;
    ({ api, options } = detected);
  } else api = await loadOtelApi("options.telemetry");
  const { startTelemetry } = await import("./index.js");
  return (core, path) => {
    let meterFailures = 0;
    return startTelemetry(
      api,
      {
        path,
        logger: core.logger,
        now: () => core.now(),
        queues: () => queueNames(core.state).map((name) => queueStats(core.state, name)),
        oldestPendingEnqueuedAt: (queue) => oldestPendingEnqueuedAt(core.state, queue),
        requests: () => core.store.snapshot(),
        logStats: () => core.log.stats(),
        afterLogSend: (callback) =>
          core.log.afterSend(() => {
            try {
              callback();
            } catch (error) {
              // One line for the problem, not one per batch.
              if (meterFailures++ === 0)
                core.logger.error(
                  `telemetry: the meter threw (${messageOf(error)}); job waits and durations it could not take are not recorded`,
                  { error },
                );
            }
          }),
        observe: (metrics) => core.observers.add(metrics),
        unobserve: (metrics) => core.observers.delete(metrics),
      },
      options,
    );
  };
}
