/**
 * How a worker's loop ends, once its settlements are durable: what it logs
 * (one line for a fence, one warning for settlements a close refused, the
 * shutdown deadline's note) and the failure `runWorker` rejects with, if any.
 */
import { taqubaErrorCode } from "../errors.js";
import { type Logger, unguardedLogger } from "../logger.js";
import type { Queue } from "../queue/queue.js";
import { queueFailure, queueLogger } from "../queue/worker-hooks.js";
import { messageOf } from "../util/message.js";
import type { Settlements } from "./settlements.js";
import type { ShutdownDeadline } from "./shutdown-deadline.js";

/** What the worker knows when its loop ended. */
export interface WorkerEnd {
  readonly queue: Queue;
  readonly queueName: string;
  readonly logger: Logger;
  readonly settlements: Settlements;
  readonly deadline: ShutdownDeadline | null;
  /** What failed the worker itself (a claim that failed, a claim not its queue's), or `null`. */
  readonly failure: unknown;
}

/**
 * Logs how the worker ended, and returns the failure it rejects with (`null`
 * when it resolves): its own, else the first failure of the whole queue a
 * settlement met, else the queue's failure if it failed while the worker
 * waited. A fence resolves.
 */
export function endWorker(end: WorkerEnd): unknown {
  const { queue, queueName, logger, settlements, deadline } = end;
  let failure = end.failure ?? settlements.failure;
  // The queue failed while the worker waited for jobs: its claims simply stopped.
  if (failure === null && queue.closed) failure = queueFailure(queue);
  if (taqubaErrorCode(failure) === "FENCED") {
    // Taken over: the loop ended as documented, busy or idle. One line for it,
    // none per job (their settlements failed with the same error).
    // When the queue reports to the same logger, it has already logged the
    // failure: then this line goes to debug, so the fence shows once.
    const unsettled = settlements.failedByQueue;
    const line =
      `worker: queue "${queueName}" stopped: another process opened the store (fenced)` +
      (unsettled > 0
        ? `; ${unsettled} settlement(s) failed, and the new writer runs those jobs again`
        : "") +
      (deadline?.fencedNote ?? "");
    const fields = { queue: queueName, error: messageOf(failure) };
    // Compared unguarded: a queue of the package's other build guards the same logger apart.
    if (unguardedLogger(queueLogger(queue)) === unguardedLogger(logger))
      logger.debug?.(line, fields);
    else logger.warn(line, fields);
    return null;
  }
  if (failure !== null) return failure;
  if (settlements.refusedByClose > 0)
    logger.warn(
      `worker: ${settlements.refusedByClose} settlement(s) of queue "${queueName}" were refused because the queue closed; ` +
        "those jobs are requeued when the store is opened again",
    );
  if (settlements.timedOutAtClose > 0)
    logger.warn(
      `worker: ${settlements.timedOutAtClose} job(s) of queue "${queueName}" passed their timeoutMs while the handler's ` +
        "own transaction settling the job was in flight, and the queue closed before the time-out could be recorded; " +
        "the next open handles those claims as interrupted by the close (retried, or dead when out of attempts)",
      { queue: queueName, timedOut: settlements.timedOutAtClose },
    );
  deadline?.reportClosed();
  return null;
}
