/**
 * What a worker asks of the queue it runs on, through hooks on
 * `Queue.prototype` keyed by registry symbols, so they are not part of the
 * `Queue` type and a queue of another build of the package answers what it
 * can: the keys (`hooks.ts` installs the hooks) and the worker's side of
 * each call. The queue's answers, on its leases, are `settle.ts`'s.
 */
import type { Claim } from "./types.js";

/**
 * Registry key of the worker's way to fail an attempt as timed out: installed
 * on `Queue.prototype` (calling `nackClaim` with cause `timed_out`), so
 * it is not part of the `Queue` type. Use {@link nackTimedOut}.
 */
export const NACK_TIMED_OUT = Symbol.for("taquba.nackTimedOut");

/**
 * Fails the claim's attempt as timed out (attempt history `timed_out`, or
 * `dead_lettered` when out of attempts) with `message` as its error: what
 * `runWorker` does at a job's `timeoutMs` deadline.
 */
export function nackTimedOut(queue: object, claim: Claim, message: string): Promise<void> {
  const method = (queue as Record<symbol, (c: Claim, m: string) => Promise<void>>)[NACK_TIMED_OUT]!;
  return method.call(queue, claim, message);
}

/**
 * Registry key of the worker's way to ack with a result whose bytes are its
 * own copy (taken when the handler returned): installed on
 * `Queue.prototype` (calling `ackClaim` without copying them again),
 * so it is not part of the `Queue` type. Use {@link ackTaken}.
 */
export const ACK_TAKEN = Symbol.for("taquba.ackTaken");

/**
 * `Queue.ack` with `result`, bytes nobody else holds (the worker's copy of
 * what its handler returned) kept as they are rather than copied again.
 */
export function ackTaken(queue: object, claim: Claim, result: Uint8Array | string): Promise<void> {
  const method = (queue as Record<symbol, (c: Claim, r: Uint8Array | string) => Promise<void>>)[
    ACK_TAKEN
  ]!;
  return method.call(queue, claim, result);
}

/**
 * What the claim hook `key` of `queue` (installed on `Queue.prototype` by
 * `hooks.ts`) answers for `claim`; `absent` from a queue without it (one of
 * another release of the package), the answer that changes nothing.
 */
function askQueue<T>(queue: object, key: symbol, claim: Claim, absent: T, ...more: unknown[]): T {
  const hook = (queue as Record<symbol, ((c: Claim, ...more: unknown[]) => T) | undefined>)[key];
  return typeof hook === "function" ? hook.call(queue, claim, ...more) : absent;
}

/** Registry key of the getter on `Queue.prototype` that {@link queueFailure} reads. */
export const QUEUE_FAILURE = Symbol.for("taquba.queueFailure");

/**
 * What failed `queue` for good (`FencedError`, `StorageError`), or `null`
 * while it works or after a plain close: how a worker whose claims simply
 * stopped (the queue failed while it waited) learns why.
 */
export function queueFailure(queue: object): unknown {
  return (queue as Record<symbol, unknown>)[QUEUE_FAILURE] ?? null;
}

/** Registry key of the method on `Queue.prototype` that {@link onQueueStopped} calls. */
export const QUEUE_ON_STOPPED = Symbol.for("taquba.queueOnStopped");

/**
 * Calls `callback` once, as soon as `queue` closes or fails (fenced,
 * storage); never if it already did. Returns the function that removes it,
 * or `null` for a queue of a build without the method. A worker whose
 * handlers all still run makes no call that would tell it, so it asks for
 * this.
 */
export function onQueueStopped(queue: object, callback: () => void): (() => void) | null {
  const method = (queue as Record<symbol, unknown>)[QUEUE_ON_STOPPED];
  return typeof method === "function"
    ? (method as (callback: () => void) => () => void).call(queue, callback)
    : null;
}

/** Registry key of the getter on `Queue.prototype` that {@link queueLogger} reads. */
export const QUEUE_LOGGER = Symbol.for("taquba.queueLogger");

/**
 * The logger `queue` reports to (`OpenOptions.logger`), or `null` for a queue
 * of a build without the getter: a worker sharing it need not say again what
 * the queue already logged.
 */
export function queueLogger(queue: object): unknown {
  return (queue as Record<symbol, unknown>)[QUEUE_LOGGER] ?? null;
}

/** Registry key of the hook on `Queue.prototype` that {@link claimLostReason} calls. */
export const CLAIM_LOST_REASON = Symbol.for("taquba.claimLostReason");

/** What `runWorker` asks when a handler returned: whether (and why) its claim was lost meanwhile (see `lostReasonOf`). */
export function claimLostReason(queue: object, claim: Claim): Error | undefined {
  return askQueue<Error | undefined>(queue, CLAIM_LOST_REASON, claim, undefined);
}

/** Registry key of the hook on `Queue.prototype` that {@link onClaimLost} calls. */
export const CLAIM_ON_LOST = Symbol.for("taquba.claimOnLost");

/**
 * Calls `callback` with why once `claim` is lost while held (see
 * `lostReasonOf`): at once if it was already, never if it is settled
 * (or on a queue without the hook). A cancel asked of its job does not call
 * it: the handler may still return and the job complete.
 */
export function onClaimLost(queue: object, claim: Claim, callback: (reason: Error) => void): void {
  askQueue<void>(queue, CLAIM_ON_LOST, claim, undefined, callback);
}

/** Registry key of the hook on `Queue.prototype` that {@link claimStartable} calls. */
export const CLAIM_STARTABLE = Symbol.for("taquba.claimStartable");

/** What `runWorker` asks before it starts a handler on a claim it held ready (see `isStartable`). */
export function claimStartable(queue: object, claim: Claim): boolean {
  return askQueue(queue, CLAIM_STARTABLE, claim, true);
}

/** Registry key of the hook on `Queue.prototype` that {@link claimSettledAlready} calls. */
export const CLAIM_SETTLED = Symbol.for("taquba.claimSettled");

/**
 * What `runWorker` asks when its settlement of a claim found it not live:
 * whether it was settled already (see `wasSettled`); `false` from a
 * queue without the hook.
 */
export function claimSettledAlready(queue: object, claim: Claim): boolean {
  return askQueue(queue, CLAIM_SETTLED, claim, false);
}

/** Registry key of the hook on `Queue.prototype` that {@link claimQueuePaused} calls. */
export const CLAIM_QUEUE_PAUSED = Symbol.for("taquba.claimQueuePaused");

/**
 * What `runWorker` asks before it starts a handler on a claim: a queue paused
 * since the claim was handed out starts no handler on it (see `isClaimQueuePaused`).
 */
export function claimQueuePaused(queue: object, claim: Claim): boolean {
  return askQueue(queue, CLAIM_QUEUE_PAUSED, claim, false);
}

/** Registry key of the hook on `Queue.prototype` that {@link markRenewedByWorker} calls. */
export const CLAIM_RENEWED_BY_WORKER = Symbol.for("taquba.claimRenewedByWorker");

/**
 * What `runWorker` tells the queue while it renews `claim`'s lease (and,
 * with `undefined`, once it stops): the reaper then renews that lease rather
 * than reaping it (see `setRenewedByWorker`). Nothing, on a queue
 * without the hook.
 */
export function markRenewedByWorker(
  queue: object,
  claim: Claim,
  leaseMs: number | undefined,
): void {
  const hook = (queue as Record<symbol, ((c: Claim, ms: number | undefined) => void) | undefined>)[
    CLAIM_RENEWED_BY_WORKER
  ];
  if (typeof hook === "function") hook.call(queue, claim, leaseMs);
}
