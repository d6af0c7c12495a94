/**
 * Claims once handed out, for the public `Queue`: `ack`, `nack`,
 * `deadLetter`, `release`, `renewLease` and `claimSignal`, each on a live
 * lease only.
 */
import { ClaimLostError } from "../errors.js";
import { checkDuration } from "../validate.js";
import type { QueueCore } from "./core.js";
import { decideNack, decideRelease } from "./decisions.js";
import { Lease } from "./leases.js";
import { Tag } from "./records.js";
import { Flag, slot } from "./table.js";
import { CLAIM_TOKEN, type Claim } from "./types.js";
import { checkMessage } from "./validate.js";

/** `Queue.ack`. */
export async function ackClaim(core: QueueCore, claim: Claim): Promise<void> {
  core.check();
  const lease = core.liveLease(claim, "ack");
  const keep = core.settings.configs.get(lease.queue).keepDoneJobsMs !== null;
  const at = core.now();
  core.leases.remove(lease);
  await core.commit({ tag: Tag.Ack, id: lease.id, keep, at });
}

/** `Queue.nack`. */
export async function nackClaim(core: QueueCore, claim: Claim, error: string): Promise<void> {
  core.check();
  const message = checkMessage(error, "error");
  const lease = core.liveLease(claim, "nack");
  const record = decideNack(
    core.state,
    lease.job,
    core.settings.configs.get(lease.queue),
    core.now(),
    message,
  );
  core.leases.remove(lease);
  const written = core.commit(record);
  if (record.tag === Tag.Retry) {
    if (record.runAt === undefined) core.dispatch(lease.queue);
    else core.timers.scheduleAt(record.runAt);
  }
  return written;
}

/** `Queue.deadLetter`. */
export async function deadLetterClaim(
  core: QueueCore,
  claim: Claim,
  reason: string,
): Promise<void> {
  core.check();
  const message = checkMessage(reason, "reason");
  const lease = core.liveLease(claim, "deadLetter");
  const at = core.now();
  core.leases.remove(lease);
  await core.commit({ tag: Tag.Dead, id: lease.id, at, reason: message });
}

/** `Queue.release`. */
export async function releaseClaim(core: QueueCore, claim: Claim): Promise<void> {
  core.check();
  const lease = core.liveLease(claim, "release");
  const record = decideRelease(core.state, lease.job);
  core.leases.remove(lease);
  const written = core.commit(record);
  if (record.tag === Tag.Release) core.dispatch(lease.queue);
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
  const lease = core.liveLease(claim, "renewLease");
  const expiresAt = core.now() + ms;
  core.leases.renew(lease, core.monotonicNow() + ms);
  claim.leaseExpiresAt = expiresAt;
  return expiresAt;
}

/** `Queue.claimSignal`. */
export function signalOfClaim(core: QueueCore, claim: Claim): AbortSignal {
  const lease = claim?.[CLAIM_TOKEN];
  if (!(lease instanceof Lease) || !core.leases.isLive(lease))
    return AbortSignal.abort(new ClaimLostError(`claim on job ${claim?.id} is not live`));
  lease.controller ??= new AbortController();
  const flags = core.state.table.read(lease.job).flags[slot(lease.job)]!;
  if (flags & Flag.CancelRequested) lease.abort(new Error(`job ${lease.id} was cancelled`));
  return lease.controller.signal;
}
