/**
 * Registry keys of the package-internal hooks on `QueueReader.prototype`,
 * keyed by symbols so they are not part of the `QueueReader` type.
 */

/** Registry key of the test-only slice hook: `reader[SET_SLICE_MS](ms)` sets how long a slice of a reopen's work runs. */
export const SET_SLICE_MS = Symbol.for("taquba.setSliceMs");
/** Registry key of the dashboard's hook: `await reader[SCHEDULES_PLANNED]()` before listing schedules. */
export const SCHEDULES_PLANNED = Symbol.for("taquba.schedulesPlanned");
