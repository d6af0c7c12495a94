/**
 * The events of `queue.on(event, listener)`: their names and shapes, one per
 * step of a job's life. The hub that tells them to listeners is `events.ts`,
 * which re-exports these.
 */
import type { RemovableStatus } from "./operations.js";

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
   * when removed, one of {@link RemovableStatus}: `"pending"`, `"scheduled"`
   * (a flow parent waiting for its children among them), `"done"` or
   * `"dead"`, never `"claimed"` (a claimed job is not removed but cancelled,
   * and its end is a `"cancelled"` event). Its waiters answer `cancelled`. A
   * waiting flow parent that goes dead with a removed child is a `"dead"`
   * event after the child's.
   */
  removed: QueueEventBase & { state: RemovableStatus };
  /**
   * A dead job was requeued (`requeueDeadJob`, `requeueDeadJobs`, the
   * dashboard's requeue actions): it is pending again with its attempts
   * reset (a flow parent waits for its requeued children again). Each dead
   * flow job requeued with it gets its own event.
   */
  requeued: QueueEventBase;
  /** A scheduled job was made due at once by `wakeScheduled`: it is pending. */
  woken: QueueEventBase;
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
  "requeued",
  "woken",
] as const satisfies readonly QueueEventName[];
