/**
 * Registry keys of the package-internal hooks on `QueueReader.prototype`,
 * keyed by symbols so they are not part of the `QueueReader` type, and how
 * the class installs them.
 */
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

/** Key of the package's own hook that stops a reader's background planning (not in the registry). */
const STOP_PLANNING: unique symbol = Symbol("taquba.stopPlanning");

/** What the hooks do to a reader, given by the class (they reach its private fields). */
export interface ReaderHooks<R> {
  setSliceMs(reader: R, ms: number): void;
  schedulesPlanned(reader: R): Promise<void> | undefined;
  listSchedulesInSlices(reader: R): Promise<ScheduleInfo[]>;
  stopPlanning(reader: R): void;
}

/** `reader`'s schedules as its {@link LIST_SCHEDULES_IN_SLICES} hook lists them (a reader of this build). */
export function listSchedulesInSlices(reader: object): Promise<ScheduleInfo[]> {
  return (reader as { [LIST_SCHEDULES_IN_SLICES]: () => Promise<ScheduleInfo[]> })[
    LIST_SCHEDULES_IN_SLICES
  ]();
}

/**
 * `reader` (just opened, of this build), planning no schedules in the
 * background: for a command that lists none, which would only pay for it.
 * Its planning stops before its first turn; a reopen of it plans again.
 */
export function planningNoSchedules<R extends object>(reader: R): R {
  (reader as { [STOP_PLANNING]: () => void })[STOP_PLANNING]();
  return reader;
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
    [STOP_PLANNING]: {
      value(this: R): void {
        hooks.stopPlanning(this);
      },
    },
  });
}
