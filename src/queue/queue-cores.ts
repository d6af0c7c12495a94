/**
 * Which `QueueCore` each public `Queue` object runs on. The classes `Queue`
 * extends (`queue-data.ts`, `queue-management.ts`) read it here, so no
 * internal type appears in the public declarations.
 */
import type { QueueCore } from "./core.js";

/** The core of each open queue, set once by `Queue`'s constructor. */
const cores = new WeakMap<object, QueueCore>();

/** Ties `queue` to `core`; `Queue`'s constructor calls it once. */
export function bindCore(queue: object, core: QueueCore): void {
  cores.set(queue, core);
}

/** The core `queue` was tied to; a `TypeError` for an object that is not a `Queue`. */
export function coreOf(queue: object): QueueCore {
  const core = cores.get(queue);
  if (core === undefined) throw new TypeError("not a taquba Queue");
  return core;
}
