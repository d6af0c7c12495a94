/**
 * Registry keys of the package-internal hooks on `QueueReader.prototype`,
 * keyed by symbols so they are not part of the `QueueReader` type, and how
 * the class installs them.
 */
import type { ReadLogOptions } from "../log/index.js";
import type { ScheduleInfo } from "./schedules/types.js";

/** Registry key of the test-only slice hook: `reader[SET_SLICE_MS](ms)` sets how long a slice of a reader's work runs. */
export const SET_SLICE_MS = Symbol.for("taquba.setSliceMs");
/** Registry key of the hook for tests and benchmarks: `await reader[SCHEDULES_PLANNED]()` waits for the background planning. */
export const SCHEDULES_PLANNED = Symbol.for("taquba.schedulesPlanned");
/**
 * Registry key of the dashboard's hook: `await reader[LIST_SCHEDULES_IN_SLICES]()`
 * lists the reader's schedules as `listSchedules` does, but works out what
 * planning has not yet and builds the list in slices, with turns of the event
 * loop between them.
 */
export const LIST_SCHEDULES_IN_SLICES = Symbol.for("taquba.listSchedulesInSlices");

/** Key of the package's own open option that plans no schedules (not in the registry). */
const NO_PLANNING: unique symbol = Symbol("taquba.noSchedulePlanning");

/** What the hooks do to a reader, given by the class (they reach its private fields). */
export interface ReaderHooks<R> {
  setSliceMs(reader: R, ms: number): void;
  schedulesPlanned(reader: R): Promise<void> | undefined;
  listSchedulesInSlices(reader: R): Promise<ScheduleInfo[]>;
}

/** `reader`'s schedules as its {@link LIST_SCHEDULES_IN_SLICES} hook lists them (a reader of this build). */
export function listSchedulesInSlices(reader: object): Promise<ScheduleInfo[]> {
  return (reader as { [LIST_SCHEDULES_IN_SLICES]: () => Promise<ScheduleInfo[]> })[
    LIST_SCHEDULES_IN_SLICES
  ]();
}

/**
 * `options` for a `QueueReader.open` that plans no schedules: for a command
 * that lists none, which would only pay for it. A reopen of such a reader
 * plans them.
 */
export function planningNoSchedules(options: ReadLogOptions = {}): ReadLogOptions {
  return { ...options, [NO_PLANNING]: true } as ReadLogOptions;
}

/** Whether an open with `options` plans its schedules (see {@link planningNoSchedules}). */
export function plansSchedules(options: ReadLogOptions): boolean {
  return (options as Record<symbol, unknown>)[NO_PLANNING] !== true;
}

/** Installs `hooks` on `prototype` under their registry keys. */
export function installReaderHooks<R>(prototype: R, hooks: ReaderHooks<R>): void {
  Object.defineProperties(prototype, {
    [SET_SLICE_MS]: {
      value(this: R, ms: number): void {
        hooks.setSliceMs(this, ms);
      },
    },
    [SCHEDULES_PLANNED]: {
      value(this: R): Promise<void> | undefined {
        return hooks.schedulesPlanned(this);
      },
    },
    [LIST_SCHEDULES_IN_SLICES]: {
      value(this: R): Promise<ScheduleInfo[]> {
        return hooks.listSchedulesInSlices(this);
      },
    },
  });
}
