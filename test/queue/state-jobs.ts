/**
 * Test helper: jobs enqueued straight into a queue `State` through `apply`,
 * as the unit tests of `apply`, the decisions and the tombstones build their
 * states.
 */
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { State } from "../../src/queue/state.js";

/** The wall time the states' records are written at. */
export const NOW = 1_700_000_000_000;

/**
 * An `enqueue(state, fields)` that applies an enqueue record into queue "q"
 * (`defaults` and then `fields` override any field) and returns its id: a
 * new ULID each call, in call order.
 */
export function enqueuer(
  defaults: Partial<EnqueueRecord> = {},
): (state: State, fields?: Partial<EnqueueRecord>) => string {
  let tick = 0;
  return (state, fields = {}) => {
    const record: EnqueueRecord = {
      tag: Tag.Enqueue,
      id: ulid(NOW + tick++),
      queue: "q",
      payload: Buffer.from("x"),
      headers: undefined,
      priority: 0,
      maxAttempts: 3,
      enqueuedAt: NOW,
      runAt: undefined,
      dedupKey: undefined,
      ...defaults,
      ...fields,
    };
    apply(state, record);
    return record.id;
  };
}
