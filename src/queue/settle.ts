/**
 * Claims once handed out, for the public `Queue`: `ack`, `nack`,
 * `deadLetter`, `release`, `renewLease` and `claimSignal`, each on a live
 * lease only; and the queue's answers to what a worker asks of a claim
 * (`worker-hooks.ts`).
 */
import { ClaimLostError, InvalidArgumentError } from "../errors.js";
import {
  checkDuration,
  checkOptionsObject,
  describeValue,
  expectationMessage,
} from "../validate.js";
import type { QueueCore } from "./core.js";
import {
  decideDeadLetter,
  decideNack,
  decideRelease,
  type FailedDeliveryRecord,
} from "./decisions.js";
import { Lease } from "./leases.js";
import { ACK_OPTION_KEYS, type AckOptions } from "./options.js";
import { Tag } from "./records/tags.js";
import { Flag, slot } from "./table.js";
import { leaseEndOf } from "./time.js";
import { CLAIM_TOKEN, type Claim } from "./types.js";
import { checkMessage, checkPayload } from "./validate.js";

/**
 * Rejects with `error`; a `ClaimLostError` only once everything written so
 * far is durable (without sealing the open batch): what ended the claim (a
 * settlement, a reaping, a cancellation) may be a write still in flight,
 * and if that write fails the claim was never lost: the caller gets the
 * log's failure instead.
 */
async function refused(core: QueueCore, error: unknown): Promise<never> {
  if (error instanceof ClaimLostError) await core.log.whenDurable();
  throw error;
}

/** The live lease of `claim` (see `QueueCore.liveLease`), or the rejection {@link refused} gives. */
function leaseOf(core: QueueCore, claim: Claim, operation: string): Lease | Promise<never> {
  try {
    return core.liveLease(claim, operation);
  } catch (error) {
    return refused(core, error);
  }
}

/**
 * `Queue.ack` (a bad argument or a lost claim rejects, as from an async
 * function). Result bytes are copied unless `copyResult` is false: then
 * they are bytes nobody else holds, in a fresh fixed-length buffer of this
 * thread (see {@link ackTaken}), kept as they are and only size-checked.
 */
export function ackClaim(
  core: QueueCore,
  claim: Claim,
  options: AckOptions,
  copyResult = true,
): Promise<void> {
  try {
    core.checkSettle();
    checkOptionsObject(options, "options");
    const result =
      options.result === undefined
        ? undefined
        : checkPayload(
            options.result,
            core.settings.maxPayloadBytes,
            "options.result",
            copyResult || "owned",
          );
    const lease = core.liveLease(claim, "ack");
    core.settings.optionWarnings.check(options, "ack options", ACK_OPTION_KEYS);
    const keep =
      result !== undefined || core.settings.configs.get(lease.queue).keepDoneJobsMs !== null;
    const at = core.now();
    core.leases.settle(lease);
    const progress = keep ? lease.progress : undefined;
    core.state.expect(lease.job); // apply finds the row without probing the id index
    const written = core.commit(
      // The common ack (no result, no progress kept) without spreading empty objects.
      result === undefined && progress === undefined
        ? { tag: Tag.Ack, id: lease.id, keep, at }
        : {
            tag: Tag.Ack,
            id: lease.id,
            keep,
            at,
            ...(result === undefined ? {} : { result }),
            ...(progress === undefined ? {} : { progress }),
          },
    );
    core.dispatch(lease.queue); // its group may be under its claim cap again
    return written;
  } catch (error) {
    return refused(core, error);
  }
}

/** `record` with the lease's last progress, when it keeps the job (a retry or dead-letter). */
export function withProgress(record: FailedDeliveryRecord, lease: Lease): FailedDeliveryRecord {
  if (lease.progress === undefined || record.tag === Tag.Cancel) return record;
  return { ...record, progress: lease.progress };
}

/** `Queue.nack`; `cause` `timed_out` when the worker's deadline failed the attempt. */
export async function nackClaim(
  core: QueueCore,
  claim: Claim,
  error: string,
  cause?: "timed_out",
): Promise<void> {
  core.checkSettle();
  const message = checkMessage(error, "error");
  const lease = leaseOf(core, claim, "nack");
  if (!(lease instanceof Lease)) return lease;
  const decided = decideNack(
    core.state,
    lease.job,
    core.settings.configs.get(lease.queue),
    core.now(),
    message,
    cause,
  );
  const record = withProgress(decided, lease);
  core.leases.settle(lease);
  const written = core.commit(record);
  if (record.tag === Tag.Retry && record.runAt !== undefined) core.timers.scheduleAt(record.runAt);
  core.dispatch(lease.queue);
  return written;
}

/** `Queue.deadLetter`. */
export async function deadLetterClaim(
  core: QueueCore,
  claim: Claim,
  reason: string,
): Promise<void> {
  core.checkSettle();
  const message = checkMessage(reason, "reason");
  const lease = leaseOf(core, claim, "deadLetter");
  if (!(lease instanceof Lease)) return lease;
  const record = withProgress(decideDeadLetter(core.state, lease.job, core.now(), message), lease);
  core.leases.settle(lease);
  const written = core.commit(record);
  core.dispatch(lease.queue);
  await written;
}

/** `Queue.release`. */
export async function releaseClaim(core: QueueCore, claim: Claim): Promise<void> {
  core.checkSettle();
  const lease = leaseOf(core, claim, "release");
  if (!(lease instanceof Lease)) return lease;
  const record = decideRelease(core.state, lease.job, core.now());
  core.leases.settle(lease);
  const written = core.commit(record);
  core.dispatch(lease.queue);
  return written;
}

/** `Queue.renewLease`. */
export async function renewClaimLease(
  core: QueueCore,
  claim: Claim,
  extensionMs: number,
): Promise<number> {
  core.check();
  const ms = checkDuration(extensionMs, "extensionMs");
  const lease = leaseOf(core, claim, "renewLease");
  if (!(lease instanceof Lease)) return lease;
  const expiresAt = leaseEndOf(core.now() + ms);
  core.leases.renew(lease, core.monotonicNow() + ms);
  claim.leaseExpiresAt = expiresAt;
  return expiresAt;
}

/**
 * Why `claim` was lost while its holder had it (its lease expired and was
 * reaped, or the queue stopped), as the error its signal aborted with; or
 * `undefined` while it is live (or when it was settled).
 */
export function lostReasonOf(core: QueueCore, claim: Claim): Error | undefined {
  const lease = claim?.[CLAIM_TOKEN];
  if (!(lease instanceof Lease) || core.leases.isLive(lease)) return undefined;
  return lease.lostBecause;
}

/** What `onClaimLost` (`worker-hooks.ts`) asks of the queue's core. */
export function setOnLost(core: QueueCore, claim: Claim, callback: (reason: Error) => void): void {
  const lease = claim?.[CLAIM_TOKEN];
  if (!(lease instanceof Lease) || !core.leases.holds(lease)) return;
  if (core.leases.isLive(lease)) lease.onLost = callback;
  else if (lease.lostBecause !== undefined) callback(lease.lostBecause);
}

/**
 * Whether a handler may start on `claim`: its lease is live and its job's
 * cancellation was not requested. A claim this queue did not hand out (one
 * of another queue, or an object that does not carry a lease of this copy
 * of the module) can never become startable, so it is not answered `false`
 * (a worker would give it back and claim again, in a loop) but refused with
 * {@link foreignClaimError}.
 */
export function isStartable(core: QueueCore, claim: Claim): boolean {
  if (core.closed) return false;
  const lease = claim?.[CLAIM_TOKEN];
  if (!(lease instanceof Lease) || !core.leases.holds(lease)) throw foreignClaimError(claim, lease);
  if (!core.leases.isLive(lease)) return false;
  return (core.state.table.read(lease.job).flags[slot(lease.job)]! & Flag.CancelRequested) === 0;
}

/**
 * The error for a claim the worker got from its queue that is not one of
 * the queue's: the module graph holds two copies of part of the package
 * (a bundler or loader duplicated some of its modules), or the queue's
 * `claimBatch` was replaced by one handing out another queue's claims.
 */
function foreignClaimError(claim: unknown, lease: unknown): InvalidArgumentError {
  const got =
    lease instanceof Lease
      ? "a claim of another Queue"
      : lease === undefined
        ? `${describeValue(claim)} without this queue's lease`
        : "a claim whose lease is of another copy of taquba's modules";
  return new InvalidArgumentError(
    `${expectationMessage("claim", "a claim handed out by this queue", got)}. ` +
      "A worker that cannot start its queue's claims cannot run any job, so it stops. " +
      "The likely cause is two copies of taquba's modules loaded in one process " +
      "(a bundler or loader that duplicated part of the package): make every import of " +
      "taquba resolve to one installed copy (its ESM or its CommonJS build, each whole), " +
      "and do not wrap a queue's claimBatch with claims of another queue.",
  );
}

/**
 * Whether `claim`'s lease ended because the claim was settled (`ack`,
 * `nack`, `deadLetter`, `release` or a transaction's), rather than by running
 * out, a cancellation or the queue closing.
 */
export function wasSettled(claim: Claim): boolean {
  const lease = (claim as Partial<Claim> | null | undefined)?.[CLAIM_TOKEN];
  return lease instanceof Lease && lease.settled;
}

/** Whether the queue `claim` came from is paused now. */
export function isClaimQueuePaused(core: QueueCore, claim: Claim): boolean {
  return core.state.queues.get(claim.queue)?.paused === true;
}

/**
 * Marks the live lease of `claim` as renewed by a worker of this process to
 * `leaseMs` from each renewal, or unmarks it (`undefined`): see
 * `Lease.renewedByWorkerMs`. A claim that is not live is left alone.
 */
export function setRenewedByWorker(
  core: QueueCore,
  claim: Claim,
  leaseMs: number | undefined,
): void {
  const lease = claim?.[CLAIM_TOKEN];
  if (lease instanceof Lease && core.leases.isLive(lease)) lease.renewedByWorkerMs = leaseMs;
}

/** `Queue.claimSignal`. */
export function signalOfClaim(core: QueueCore, claim: Claim): AbortSignal {
  const lease = claim?.[CLAIM_TOKEN];
  if (!(lease instanceof Lease) || !core.leases.isLive(lease)) {
    // A claim lost while held gives why (its lease expired), as its signal would have.
    const lost = lease instanceof Lease && core.leases.holds(lease) ? lease.lostBecause : undefined;
    return AbortSignal.abort(lost ?? new ClaimLostError(`claim on job ${claim?.id} is not live`));
  }
  lease.controller ??= new AbortController();
  const flags = core.state.table.read(lease.job).flags[slot(lease.job)]!;
  if (flags & Flag.CancelRequested) lease.abort(new Error(`job ${lease.publicId} was cancelled`));
  return lease.controller.signal;
}
