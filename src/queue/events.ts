/**
 * `queue.on(event, listener)`: the job life-cycle events, their shapes, and
 * the hub that delivers them (the shapes are declared in `event-types.ts`
 * and re-exported here). The hub is an observer of the commit boundary
 * (`observe.ts`), registered only while someone listens, so an event is
 * emitted once its transition is durable, in commit order. `"progress"` is
 * the exception: progress lives in memory and is emitted when reported. A listener that
 * throws (or rejects) is reported through the logger and changes nothing
 * else: the queue and the other listeners go on.
 *
 * Delivery is bounded per turn of the event loop: a durable batch can hold
 * tens of thousands of transitions (a bulk enqueue or removal), and telling
 * them all at once would hold the loop for as long as the listeners take.
 * The hub keeps one queue of what is still to be told (batches, and progress
 * reported while anything waits) and tells at most {@link EVENTS_PER_TURN}
 * listener calls per turn; the rest follows on the next turns, in the same
 * order.
 *
 * What is still to be told is bounded in bytes (`maxEventBacklogBytes`): a
 * transition keeps its record, and with it an enqueue's payload or an ack's
 * result, alive until told, so listeners that fall behind a stream of large
 * jobs would otherwise hold any amount of memory. Past the bound the oldest
 * untold events are dropped, with one warning per spell of falling behind.
 */

import { types } from "node:util";
import type { Logger } from "../logger.js";
import { messageOf } from "../util/message.js";
import { turnLater } from "../util/timers.js";
import { checkFunction, checkOneOf } from "../validate.js";
import type { QueueEventBase, QueueEventMap, QueueEventName } from "./event-types.js";
import { QUEUE_EVENT_NAMES } from "./event-types.js";
import { type LifecycleStep, stepsOf } from "./lifecycle-steps.js";
import type { CommitObserver, Observers } from "./observe.js";
import type { Transition } from "./transition.js";

export {
  QUEUE_EVENT_NAMES,
  type QueueEventBase,
  type QueueEventListener,
  type QueueEventMap,
  type QueueEventName,
} from "./event-types.js";

type AnyListener = (event: QueueEventBase) => unknown;

/**
 * Listener calls told in one turn of the event loop at most (a few hundred
 * nanoseconds each with a cheap listener: well under a millisecond a turn).
 * A count, not a time budget: a commit of fewer events is told in the turn
 * it became durable however loaded the machine is; a listener's own cost is
 * its to keep short.
 */
export const EVENTS_PER_TURN = 1_000;

/** One `on()`: told of what was queued from `from` on, until `off()`. */
interface Registration {
  readonly fn: AnyListener;
  /** The sequence number of the first entry it is told of. */
  readonly from: number;
  active: boolean;
}

/**
 * What is still to be told: a durable batch's transitions from `next` on, or
 * one progress event; `bytes`, about what it holds in memory.
 */
type Entry =
  | {
      readonly seq: number;
      readonly transitions: readonly Transition[];
      next: number;
      readonly bytes: number;
    }
  | { readonly seq: number; readonly progress: QueueEventMap["progress"]; readonly bytes: number };

/**
 * What one transition or event costs besides the bytes it carries: the
 * transition, its record and the job's before-view as objects.
 */
const EVENT_OVERHEAD_BYTES = 256;

/** What one field (a number, a nested object) costs besides the bytes it carries. */
const FIELD_OVERHEAD_BYTES = 16;

/**
 * About the memory `record` (one of a transition) holds: the fixed cost of
 * the transition and, field by field, its bytes (payload, result, a stored
 * trace context) and strings (ids, queue, dedup and group keys, messages,
 * header names and values), a transaction's ops each like a record.
 */
function recordBytes(record: object): number {
  return EVENT_OVERHEAD_BYTES + fieldsBytes(record, 0);
}

/** The bytes of the fields of `value`, down to plain objects within objects (headers, payload refs). */
function fieldsBytes(value: object, depth: number): number {
  let bytes = 0;
  for (const key in value) {
    const field: unknown = (value as Record<string, unknown>)[key];
    bytes += FIELD_OVERHEAD_BYTES;
    // A record's field names are its class's; a nested object's (header names) are its own.
    if (depth > 0) bytes += 2 * key.length;
    if (typeof field === "string") bytes += 2 * field.length;
    else if (types.isUint8Array(field)) bytes += field.byteLength;
    else if (Array.isArray(field)) {
      for (const item of field as unknown[])
        if (typeof item === "object" && item !== null) bytes += recordBytes(item);
    } else if (typeof field === "object" && field !== null && depth < 2)
      bytes += fieldsBytes(field, depth + 1);
  }
  return bytes;
}

/** About the memory the transitions of `entry` hold. */
function transitionsBytes(transitions: readonly Transition[]): number {
  let bytes = 0;
  for (const transition of transitions) bytes += recordBytes(transition.record);
  return bytes;
}

/** Listeners by event, delivered from the commit boundary, a bounded number per turn. */
export class QueueEvents implements CommitObserver {
  /** Every enqueue is an `"enqueued"` event (in commit order with the rest). */
  readonly eachEnqueue = true;
  /** Every claim and ack is an event too. */
  readonly eachClaimAndAck = true;
  readonly #listeners = new Map<QueueEventName, Registration[]>();
  readonly #observers: Observers;
  readonly #logger: Logger;
  #count = 0;
  /** Entries in the order they are told; those before `#head` are told. */
  #backlog: Entry[] = [];
  #head = 0;
  /** The sequence number of the next entry. */
  #seq = 0;
  /** Whether this turn's budget is in use (its end is scheduled). */
  #turnOpen = false;
  /** Listener calls this turn. */
  #calls = 0;
  /** A delivery is running (a listener reported progress, say): it tells what is added meanwhile. */
  #delivering = false;
  /** Callers of {@link drained}. */
  #drainedWaiters: (() => void)[] = [];
  /** Steps of one transition (reused). */
  readonly #steps: LifecycleStep[] = [];
  /** Most bytes of untold entries kept (see the module comment). */
  readonly #maxBytes: number;
  /** Bytes of the entries from `#head` on. */
  #bytes = 0;
  /** Events dropped since the backlog last ran dry (one warning per such spell). */
  #dropped = 0;

  constructor(observers: Observers, logger: Logger, maxBacklogBytes: number) {
    this.#observers = observers;
    this.#logger = logger;
    this.#maxBytes = maxBacklogBytes;
  }

  on(event: unknown, listener: unknown): void {
    const name = checkOneOf(event, "event", QUEUE_EVENT_NAMES);
    const fn = checkFunction(listener, "listener", "a function (event) => void") as AnyListener;
    const list = this.#listeners.get(name) ?? [];
    // Told of the batches queued from now on, not of a backlog queued before:
    // of every step committed from now on, and maybe not of one committed
    // before (not kept as a transition when no listener needed it).
    list.push({ fn, from: this.#seq, active: true });
    this.#listeners.set(name, list);
    if (this.#count++ === 0) this.#observers.add(this);
  }

  off(event: unknown, listener: unknown): void {
    const name = checkOneOf(event, "event", QUEUE_EVENT_NAMES);
    const list = this.#listeners.get(name);
    const index = list?.findIndex((r) => r.fn === listener) ?? -1;
    if (list === undefined || index < 0) return;
    // Also out of a delivery under way: not told another event, not even the current one.
    list[index]!.active = false;
    list.splice(index, 1);
    if (--this.#count > 0) return;
    this.#observers.delete(this);
    // Nobody is left to tell, and a later listener is not told of the backlog.
    this.#head = this.#backlog.length;
    this.#bytes = 0;
    // Called by a listener (one that removes itself once told): the running
    // delivery walks this array, so it is not replaced here; that delivery's
    // loop ends at once and empties it and settles `drained()` after it.
    if (this.#delivering) return;
    this.#backlog = [];
    this.#head = 0;
    this.#settleDrained();
  }

  /**
   * Emits `"progress"`: progress is in memory, not a durable transition, so
   * at once, unless earlier events still wait: then after them, so that a
   * job's events keep their order.
   */
  progress(
    id: string,
    queue: string,
    at: number,
    progress: unknown,
    progressJsonLength: number,
  ): void {
    const list = this.#listeners.get("progress");
    if (list === undefined || list.length === 0) return;
    this.#push({
      seq: this.#seq++,
      progress: { id, queue, at, progress },
      bytes: EVENT_OVERHEAD_BYTES + 2 * progressJsonLength,
    });
  }

  committed(transitions: readonly Transition[]): void {
    if (transitions.length === 0) return;
    this.#push({
      seq: this.#seq++,
      transitions,
      next: 0,
      bytes: transitionsBytes(transitions),
    });
  }

  /** Queues `entry` (dropping the oldest untold ones past the byte bound) and tells what it can. */
  #push(entry: Entry): void {
    this.#backlog.push(entry);
    this.#bytes += entry.bytes;
    if (this.#bytes > this.#maxBytes) this.#dropOldest();
    this.#deliver();
  }

  /** Drops untold entries, oldest first, until the backlog is within its bound (the newest stays). */
  #dropOldest(): void {
    const backlog = this.#backlog;
    let dropped = 0;
    while (this.#bytes > this.#maxBytes && this.#head < backlog.length - 1) {
      const entry = backlog[this.#head++]!;
      this.#bytes -= entry.bytes;
      dropped += "progress" in entry ? 1 : entry.transitions.length - entry.next;
    }
    if (dropped === 0) return;
    if (this.#dropped === 0)
      this.#logger.warn(
        `queue events: listeners fell more than ${this.#maxBytes} bytes (maxEventBacklogBytes) behind; ` +
          `the oldest untold events are dropped until they catch up (${dropped} so far)`,
        { dropped, maxEventBacklogBytes: this.#maxBytes },
      );
    this.#dropped += dropped;
  }

  /** Resolves once every event queued so far has been told (`close` waits for it). */
  drained(): Promise<void> {
    if (this.#head === this.#backlog.length) return Promise.resolve();
    return new Promise((resolve) => this.#drainedWaiters.push(resolve));
  }

  /** Tells the backlog in order until it is empty or this turn's budget is spent. */
  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      const backlog = this.#backlog;
      while (this.#head < backlog.length) {
        if (!this.#turnOpen) this.#openTurn();
        else if (this.#calls >= EVENTS_PER_TURN) break;
        const entry = backlog[this.#head]!;
        if ("progress" in entry) {
          this.#head++;
          this.#bytes -= entry.bytes;
          this.#tell("progress", entry.seq, entry.progress, undefined);
          continue;
        }
        if (entry.next === entry.transitions.length) {
          this.#head++;
          this.#bytes -= entry.bytes;
          continue;
        }
        const steps = this.#steps;
        steps.length = 0;
        stepsOf(entry.transitions[entry.next++]!, steps);
        for (const step of steps) this.#tell(step.kind, entry.seq, undefined, step);
      }
    } finally {
      this.#delivering = false;
    }
    if (this.#head === this.#backlog.length) {
      this.#backlog = [];
      this.#head = 0;
      this.#bytes = 0;
      if (this.#dropped > 0) {
        this.#logger.info?.(`queue events: caught up; ${this.#dropped} events were dropped`, {
          dropped: this.#dropped,
        });
        this.#dropped = 0;
      }
      this.#settleDrained();
    } else if (this.#head >= EVENTS_PER_TURN && this.#head * 2 >= this.#backlog.length) {
      this.#backlog = this.#backlog.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Starts a turn's budget; the next turn starts a new one and tells what is left. */
  #openTurn(): void {
    this.#turnOpen = true;
    this.#calls = 0;
    turnLater(() => {
      this.#turnOpen = false;
      this.#deliver();
    });
  }

  /** Calls each listener of `name` registered by entry `seq`: `event`, or the event of `step`. */
  #tell(
    name: QueueEventName,
    seq: number,
    event: QueueEventBase | undefined,
    step: LifecycleStep | undefined,
  ): void {
    const list = this.#listeners.get(name);
    if (list === undefined || list.length === 0) return;
    // A copy: a listener may add or remove listeners.
    for (const registration of [...list]) {
      if (!registration.active || registration.from > seq) continue;
      event ??= toEvent(step!);
      this.#calls++;
      this.#call(name, registration.fn, event);
    }
  }

  #settleDrained(): void {
    const waiters = this.#drainedWaiters;
    if (waiters.length === 0) return;
    this.#drainedWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #call(name: QueueEventName, listener: AnyListener, event: QueueEventBase): void {
    try {
      const result = listener(event);
      if (isThenable(result)) result.then(undefined, (error) => this.#report(name, event, error));
    } catch (error) {
      this.#report(name, event, error);
    }
  }

  #report(name: QueueEventName, event: QueueEventBase, error: unknown): void {
    // A listener may throw anything: a value String() refuses must not stop the delivery.
    try {
      this.#logger.error(`a "${name}" listener failed on job ${event.id}: ${messageOf(error)}`, {
        event: name,
        jobId: event.id,
        queue: event.queue,
        error,
      });
    } catch {
      // A logger that throws must not stop the delivery either, nor leave a
      // rejected listener's promise rejected (that ends a Node process).
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** The public event of a life-cycle step: the fields its event documents, optional ones only when set. */
function toEvent(step: LifecycleStep): QueueEventMap[QueueEventName] {
  const base: QueueEventBase = { id: step.id, queue: step.queue, at: step.at };
  switch (step.kind) {
    case "enqueued":
      return step.runAt === undefined ? base : { ...base, runAt: step.runAt };
    case "claimed":
    case "expired":
    case "released":
      return { ...base, attempt: step.attempt };
    case "completed": {
      const event: QueueEventMap["completed"] = { ...base, attempt: step.attempt };
      if (step.claimedAt !== undefined) event.durationMs = step.at - step.claimedAt;
      return event;
    }
    case "retried": {
      const event: QueueEventMap["retried"] = { ...base, attempt: step.attempt };
      if (step.error !== undefined) event.error = step.error;
      if (step.runAt !== undefined) event.runAt = step.runAt;
      return event;
    }
    case "dead":
      return { ...base, attempt: step.attempt, error: step.error };
    case "cancelled":
    case "requeued":
    case "woken":
      return base;
    case "removed":
      return { ...base, state: step.state };
  }
}
