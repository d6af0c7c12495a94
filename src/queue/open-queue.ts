/**
 * Opening a queue store: resolve the options, open (and fence) its log,
 * restore the state, and start the core with its telemetry and (when
 * configured) the writer's heartbeat; collect orphaned payload objects in
 * the background. `Queue.open` wraps the core.
 */
import { openLog, type RecoveryReport } from "../log/index.js";
import { resolveReadOptions } from "../log/options.js";
import type { ObjectStore } from "../store/types.js";
import { MeteredStore } from "../store/wrappers/metered.js";
import { randomSourceOf } from "../util/random.js";
import { sliceClockOf, turnWindowOf } from "../util/slices.js";
import { checkObjectStore } from "../validate.js";
import { resolveOpenOptions } from "./config.js";
import { QueueCore } from "./core.js";
import { Heartbeat } from "./heartbeat.js";
import type { Instrumentation } from "./instrument.js";
import type { OpenOptions } from "./options.js";
import { PayloadObjects, QUEUE_OWNED_DIRS } from "./payloads.js";
import { refuseNewerCheckpoint, restoreState } from "./restore.js";
import { loadTelemetry } from "./telemetry/attach.js";
import { wallTime } from "./time.js";

function noop(): void {}

/**
 * What only the package's own code can ask of an open. `schedules: false`
 * opens a writer which fires no schedule and catches none up: the command
 * line's, which opens the store for a moment with none of the application's
 * options, so a job a schedule fired there would take the command's queue
 * settings (`maxAttempts`, priority) rather than the application's. The fire
 * times that pass meanwhile count as missed: the next writer that runs
 * schedules handles them per their `catchUp`.
 */
export interface InternalOpen {
  schedules: boolean;
}

/** The running core of the queue store at `path`, and what recovery had to skip (if anything). */
export async function openCore(
  store: ObjectStore,
  path: string,
  options: OpenOptions,
  internal: InternalOpen = { schedules: true },
): Promise<{ core: QueueCore; recovery: RecoveryReport | undefined }> {
  checkObjectStore(store, "store");
  const resolved = resolveOpenOptions(options);
  // Test-only seams (symbol-keyed options): what slices run on, where randomness comes from,
  // what closes the turn window at a timers phase.
  const sliceNow = sliceClockOf(options);
  const random = randomSourceOf(options);
  // One window for every slice of this queue's work in a turn, log and queue alike.
  const turnWindow = turnWindowOf(options);
  wallTime(resolved.clock); // a clock before 1970 fails here, before the store is touched
  const telemetry =
    resolved.telemetry === null ? null : await loadTelemetry(resolved.telemetry, resolved.logger);
  const metered = new MeteredStore(store);
  // Fire times of schedules that came due before this process owned the store follow their catch-up.
  let ownedAt = 0;
  const recovered = await openLog(metered, path, resolved.log, {
    optionsArg: "options.log",
    onOwned: () => {
      ownedAt = wallTime(resolved.clock);
    },
    ownedDirs: QUEUE_OWNED_DIRS,
    sliceNow,
    random,
    turnWindow,
    checkCheckpoint: (snapshot, key) => refuseNewerCheckpoint(key, snapshot),
  });
  let core: QueueCore;
  let attached: Instrumentation | null = null;
  try {
    const state = await restoreState(
      recovered.checkpointKey,
      recovered.checkpoint,
      recovered.tail,
      sliceNow,
    );
    const payloads = new PayloadObjects(metered, path, resolved.settings.payloadOffloadBytes, {
      ...resolveReadOptions(resolved.log, "options.log"),
      random,
    });
    core = new QueueCore(recovered.log, state, resolved, metered, payloads, {
      sliceNow,
      random,
      turnWindow,
    });
    if (telemetry !== null) core.instrumentation = attached = telemetry(core, path);
    if (!internal.schedules) core.schedules.stop();
    await core.start(ownedAt);
  } catch (error) {
    attached?.close();
    await recovered.log.close().catch(noop);
    throw error;
  }
  if (resolved.settings.heartbeatMs !== null) {
    const heartbeat = new Heartbeat({
      store: metered,
      path,
      epoch: recovered.log.stats().epoch,
      intervalMs: resolved.settings.heartbeatMs,
      clock: core.timed,
      now: () => core.now(),
      logger: resolved.logger,
      checkFence: () => core.log.checkFence(),
    });
    core.attachHeartbeat(heartbeat);
    // A beat that fails is retried at the next tick; it never fails the open.
    await heartbeat.start().catch((error: unknown) => {
      resolved.logger.warn(`first writer heartbeat failed: ${String(error)}`, { error });
    });
  }
  // Objects orphaned by crashes (written but never referenced, or not deleted after their
  // job), now and, when something leaves one behind, while the queue runs.
  core.payloads.collectOrphansWhileRunning(
    core.state,
    core.timed,
    () => core.now(),
    () => core.log.checkFence({ fresh: true }),
    () => core.sliceBudget(),
  );
  // Commit the salvaged state now, so later opens start past the damaged objects.
  if (recovered.recovery !== undefined) await core.log.checkpoint();
  return { core, recovery: recovered.recovery };
}
