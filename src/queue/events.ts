/**
 * `queue.on(event, listener)`: the job life-cycle events, their shapes, and
 * the hub that delivers them. The hub is an observer of the commit boundary
 * (`observe.ts`), registered only while someone listens, so an event is
 * emitted once its transition is durable, in commit order. `"progress"` is
 * the exception: progress lives in memory and is emitted when reported. A listener that
 * throws (or rejects) is reported through the logger and changes nothing
 * else: the queue and the other listeners go on.
 */
import type { Logger } from "../logger.js";
import { checkFunction, checkOneOf } from "../validate.js";
import {
  type CommitObserver,
  type LifecycleStep,
  lifecycleOf,
  type Observers,
  type Transition,
} from "./observe.js";
import type { JobStatus } from "./types.js";

/** What every event carries. */
export interface QueueEventBase {
  /** The job's id. */
  id: string;
  /** The job's queue. */
  queue: string;
  /** When it happened (ms since the UNIX epoch). */
  at: number;
}

/** The events of `queue.on(...)` and what each listener receives. */
export interface QueueEventMap {
  /** A new job is durable (pending, or scheduled when `runAt` is set). */
  enqueued: QueueEventBase & { runAt?: number };
  /** A job was claimed; `attempt` counts claims, this one included. */
  claimed: QueueEventBase & { attempt: number };
  /** A claimed job was acked. */
  completed: QueueEventBase & { attempt: number; durationMs?: number };
  /** A failed delivery goes back to pending (or scheduled at `runAt`, after backoff). */
  retried: QueueEventBase & { attempt: number; error?: string; runAt?: number };
  /** A job was dead-lettered: out of attempts, a permanent failure, or `deadLetter`. */
  dead: QueueEventBase & { attempt: number; error: string };
  /** A job was removed by `cancel` (or, after a cancel request, by its failed delivery). */
  cancelled: QueueEventBase;
  /** A handler reported progress (`ctx.progress`). */
  progress: QueueEventBase & { progress: unknown };
  /**
   * The lease of a claimed job ran out before it was settled. The job's next
   * step follows as its own event (`retried`, `dead` or `cancelled`).
   */
  expired: QueueEventBase & { attempt: number };
  /**
   * A claim no handler ran on was given back (`release`, or a worker's
   * prefetched claim at shutdown): the job is pending again and `attempt`,
   * the attempt that claim counted, is given back.
   */
  released: QueueEventBase & { attempt: number };
  /**
   * A job was removed by `removeJob` or `removeJobs` (the dashboard's remove
   * actions among them), or with the flow job whose removal took it along:
   * each job removed gets its own event. `state` is the status the job had
   * when removed: `"pending"`, `"scheduled"` (a flow parent waiting for its
   * children among them), `"done"` or `"dead"` (a claimed job is not removed
   * but cancelled, and its end is a `"cancelled"` event). Its waiters answer
   * `cancelled`. A waiting flow parent that goes dead with a removed child
   * is a `"dead"` event after the child's.
   */
  removed: QueueEventBase & { state: JobStatus };
}

/** An event name of `queue.on(...)`. */
export type QueueEventName = keyof QueueEventMap;

/** A listener of event `E`. A returned promise is not awaited; its rejection is logged. */
export type QueueEventListener<E extends QueueEventName> = (event: QueueEventMap[E]) => unknown;

/** Every event name, in life-cycle order. */
export const QUEUE_EVENT_NAMES = [
  "enqueued",
  "claimed",
  "progress",
  "completed",
  "retried",
  "expired",
  "dead",
  "cancelled",
  "released",
  "removed",
] as const satisfies readonly QueueEventName[];

type AnyListener = (event: QueueEventBase) => unknown;

/** Listeners by event, delivered from the commit boundary. */
export class QueueEvents implements CommitObserver {
  /** Every enqueue is an `"enqueued"` event (in commit order with the rest). */
  readonly eachEnqueue = true;
  readonly #listeners = new Map<QueueEventName, AnyListener[]>();
  readonly #observers: Observers;
  readonly #logger: Logger;
  #count = 0;

  constructor(observers: Observers, logger: Logger) {
    this.#observers = observers;
    this.#logger = logger;
  }

  on(event: unknown, listener: unknown): void {
    const name = checkOneOf(event, "event", QUEUE_EVENT_NAMES);
    const fn = checkFunction(listener, "listener", "a function (event) => void") as AnyListener;
    const list = this.#listeners.get(name) ?? [];
    list.push(fn);
    this.#listeners.set(name, list);
    if (this.#count++ === 0) this.#observers.add(this);
  }

  off(event: unknown, listener: unknown): void {
    const name = checkOneOf(event, "event", QUEUE_EVENT_NAMES);
    const list = this.#listeners.get(name);
    const index = list?.indexOf(listener as AnyListener) ?? -1;
    if (list === undefined || index < 0) return;
    list.splice(index, 1);
    if (--this.#count === 0) this.#observers.delete(this);
  }

  /** Emits `"progress"` at once: progress is in memory, not a durable transition. */
  progress(id: string, queue: string, at: number, progress: unknown): void {
    const list = this.#listeners.get("progress");
    if (list === undefined || list.length === 0) return;
    const event: QueueEventMap["progress"] = { id, queue, at, progress };
    for (const listener of [...list]) this.#deliver("progress", listener, event);
  }

  committed(transitions: readonly Transition[]): void {
    for (const step of lifecycleOf(transitions)) {
      const list = this.#listeners.get(step.kind);
      if (list === undefined || list.length === 0) continue;
      const event = toEvent(step);
      for (const listener of [...list]) this.#deliver(step.kind, listener, event);
    }
  }

  #deliver(name: QueueEventName, listener: AnyListener, event: QueueEventBase): void {
    try {
      const result = listener(event);
      if (isThenable(result)) result.then(undefined, (error) => this.#report(name, event, error));
    } catch (error) {
      this.#report(name, event, error);
    }
  }

  #report(name: QueueEventName, event: QueueEventBase, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#logger.error(`a "${name}" listener failed on job ${event.id}: ${message}`, {
      event: name,
      jobId: event.id,
      queue: event.queue,
      error,
    });
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
      return base;
    case "removed":
      return { ...base, state: step.state };
  }
}
