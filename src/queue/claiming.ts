/**
 * Claiming: taking pending jobs of a queue for claims in one durable write
 * and handing the claims out once that write is durable (leases start then,
 * offloaded payloads are read back);
 * and the entry of `Queue.claim` and `claimBatch` (claim at once, or wait).
 */

import { CorruptionError } from "../errors.js";
import type { QueueCore } from "./core.js";
import { decideDeadLetter, decideNack, decideRelease } from "./decisions.js";
import { type Group, NO_GROUP } from "./groups.js";
import type { IndexPosition } from "./handle-index.js";
import type { Lease } from "./leases.js";
import { CLAIM_OPTION_KEYS, type ClaimOptions } from "./options.js";
import { isUnreadable } from "./payload-object.js";
import type { QueueState } from "./queue-state.js";
import type { ClaimRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import { Status } from "./state.js";
import { CLAIM_TOKEN, type Claim } from "./types.js";
import { checkQueueName, MAX_MESSAGE_BYTES, truncateUtf8 } from "./validate.js";
import { checkClaimOptions } from "./validate-options.js";
import { jobToRecord } from "./views.js";

/**
 * Takes up to `max` pending jobs of `qs` (in claim order) for claims, or
 * returns `null` when none is pending. The claim records are applied at
 * once (no other claimer can take these jobs from then on) and appended to
 * the log as one unit; the returned promise resolves with the claims only
 * once those records are durable, so a handler never runs for a claim (or
 * an enqueue before it) that a crash could undo. It rejects with the log's
 * failure when the records cannot be made durable (the claims are never
 * handed out), and leaves out claims dropped meanwhile (the queue closed).
 */
export function claimFrom(
  core: QueueCore,
  qs: QueueState,
  max: number,
  leaseMs: number,
  round = 0,
): Promise<Claim[]> | null {
  if (qs.pending.size === 0 || qs.paused || max < 1) return null;
  const limit = core.settings.configs.get(qs.name).rateLimit;
  const allowed = Math.min(max, core.rateLimits.available(qs.name, limit));
  if (allowed < 1) return null;
  const handles = pick(core, qs, allowed);
  if (handles.length === 0) return null;
  const at = core.now();
  const state = core.state;
  const records: ClaimRecord[] = handles.map((h) => {
    const id = state.idOf(h);
    // Read from row h just now: apply takes that row without parsing the id again.
    state.expect(h, id);
    return { tag: Tag.Claim, id, at };
  });
  const takenAt = core.rateLimits.take(qs.name, limit, records.length);
  const written = core.commit(records.length === 1 ? records[0]! : records);
  const leases = handles.map((h, k) => {
    const id = records[k]!.id;
    // The id string made for the record serves as the public id unless the caller chose one.
    return core.leases.add(h, id, qs.name, state.table.extras(h)?.jobId ?? id);
  });
  return written
    .then(() => withPayloads(core, handOut(core, leases, leaseMs)))
    .then(async ({ handed, refillable, deadLettered }) => {
      if (deadLettered === 0) return refill(core, qs, handed, refillable, leaseMs, round);
      // A job dead-lettered for its damaged object was never handed out: it must not use up
      // the rate budget (a small window would leave the refill nothing to take).
      core.rateLimits.giveBack(qs.name, limit, deadLettered, takenAt);
      const claims = await refill(core, qs, handed, refillable, leaseMs, round);
      // What the refill did not take is for the queue's waiting claims.
      core.dispatch(qs.name);
      return claims;
    });
}

/**
 * How many times one claim takes more jobs in place of ones whose payload
 * object is damaged or gone (see {@link refill}). Each such job is settled
 * for good (dead-lettered, or its attempt failed on an object no retry can
 * bring back), so those rounds end by themselves; the bound keeps one claim
 * call short when many such jobs are queued back to back.
 */
export const MAX_PAYLOAD_REFILLS = 16;

/**
 * A claim of `qs` handed out `handed` and lost `refillable` claims to
 * damaged or missing payload objects: claims that many more pending jobs in
 * their place, so a damaged job never makes a claim come back empty while
 * another job waits. A store that failed to answer is not a reason: the next
 * job's read would most likely fail the same way (see {@link withPayloads}).
 * When that leaves no claim at all because the jobs it took were all lost
 * this way, in this round and every refill round after it, the empty result
 * is marked so a waiting claim waits on (see {@link lostToPayloads}); not
 * when a refill round came back empty because the store failed to answer.
 */
async function refill(
  core: QueueCore,
  qs: QueueState,
  handed: Claim[],
  refillable: number,
  leaseMs: number,
  round: number,
): Promise<Claim[]> {
  if (refillable === 0) return handed;
  const more =
    core.closed || round >= MAX_PAYLOAD_REFILLS
      ? null
      : claimFrom(core, qs, refillable, leaseMs, round + 1);
  if (more === null) return handed.length === 0 ? lostEmpty(core) : handed;
  const replaced = await more;
  // Left empty, this claim is lost to payloads only if the refill's own result says so: one
  // that came back empty because the store failed to answer is not.
  return handed.length === 0 ? replaced : handed.concat(replaced);
}

/** An empty claim result marked as lost to unreadable payload objects (see {@link lostToPayloads}). */
function lostEmpty(core: QueueCore): Claim[] {
  const claims: Claim[] = [];
  core.claimsLostToPayloads.add(claims);
  return claims;
}

/**
 * Whether a claim came back empty only because every job it took was lost
 * to an unreadable (damaged or missing) payload object and its refill found
 * nothing: a waiting claim then waits on for the rest of its `waitMs`
 * rather than return early. Not so when a read failed for the store's sake:
 * waiting on would retry it in a loop (see {@link withPayloads}).
 */
export function lostToPayloads(core: QueueCore, claims: readonly Claim[]): boolean {
  return claims.length === 0 && core.claimsLostToPayloads.has(claims);
}

/**
 * Up to `max` pending jobs of `qs` to claim, in claim order: the pending
 * order, or — in a queue with fair groups — round-robin over the groups'
 * rotation (one job per group per round, each group's jobs in claim order),
 * skipping groups at the queue's `groupConcurrency`.
 */
function pick(core: QueueCore, qs: QueueState, max: number): number[] {
  const handles: number[] = [];
  const groups = qs.groups;
  if (groups === null) {
    const position = qs.pending.seek(() => false);
    for (let h = qs.pending.next(position); h !== -1; h = qs.pending.next(position)) {
      handles.push(h);
      if (handles.length === max) break;
    }
    return handles;
  }
  const cap = core.settings.configs.get(qs.name).groupConcurrency;
  const positions = new Map<Group, IndexPosition>();
  const taken = new Map<Group, number>();
  for (;;) {
    let progress = false;
    for (const group of groups.rotation.values()) {
      const count = taken.get(group) ?? 0;
      if (cap !== null && group.key !== NO_GROUP && group.claimed + count >= cap) continue;
      let position = positions.get(group);
      if (position === undefined) {
        position = group.pending.seek(() => false);
        positions.set(group, position);
      }
      const h = group.pending.next(position);
      if (h === -1) continue;
      handles.push(h);
      taken.set(group, count + 1);
      progress = true;
      if (handles.length === max) return handles;
    }
    if (!progress) return handles;
  }
}

/** Whether a claim of `qs` would get a job now (pending, not paused, rate window and group caps allowing). */
export function claimable(core: QueueCore, qs: QueueState): boolean {
  if (qs.pending.size === 0 || qs.paused) return false;
  const config = core.settings.configs.get(qs.name);
  if (core.rateLimits.available(qs.name, config.rateLimit) < 1) return false;
  const cap = config.groupConcurrency;
  if (qs.groups === null || cap === null) return true;
  for (const group of qs.groups.rotation.values())
    if (group.key === NO_GROUP || group.claimed < cap) return true;
  return false;
}

/**
 * At a clean close: gives back the claims not handed out yet (their records
 * still being written, or written and their batch's offloaded payloads
 * still being read) and those a worker holds ready without having started
 * their handler, in the close's
 * last write. No handler saw them, so no attempt may count for them:
 * left claimed, the next open would count each as an interrupted attempt
 * (and dead-letter a job on its last one) though no handler ever saw it.
 * Each job is pending again with its attempt uncounted, or removed when its
 * cancel was requested meanwhile (as `release` does).
 */
export function releaseUnhanded(core: QueueCore): void {
  const now = core.now();
  const records: ReturnType<typeof decideRelease>[] = [];
  for (const lease of core.leases.unhanded()) {
    if (core.state.statusOf(lease.job) !== Status.Claimed) continue;
    records.push(decideRelease(core.state, lease.job, now));
    core.leases.settle(lease);
  }
  core.commitInBackground(records);
}

/** The claim records of `leases` are durable: start their leases and build the claims, leaving out any dropped meanwhile. */
function handOut(core: QueueCore, leases: readonly Lease[], leaseMs: number): Claim[] {
  const claims: Claim[] = [];
  const expiresAt = core.monotonicNow() + leaseMs;
  // One reading of the clocks for the batch, whose leases all end together (as `toRecord`
  // gives it, without its two readings per claim).
  const wallExpiresAt = core.wallTimeOf(expiresAt);
  for (const lease of leases) {
    if (!core.leases.isLive(lease)) continue;
    core.leases.activate(lease, expiresAt);
    const record = jobToRecord(
      core.state,
      lease.job,
      wallExpiresAt,
      lease.progress,
      lease.id,
    ) as Claim & { [CLAIM_TOKEN]: Lease };
    record[CLAIM_TOKEN] = lease;
    claims.push(record);
  }
  return claims;
}

/**
 * Reads the offloaded payloads of `claims`. A claim whose payload cannot be
 * read is not handed out, so one such job never stops a worker: a damaged
 * object (`CorruptionError` on a read and again on one more read: no retry
 * can heal it) dead-letters the job at once with a reason naming the
 * object; any other failure (the object is gone, or the store keeps
 * failing) fails the attempt (retried, or dead when out of attempts). Each
 * is one warning naming the job and the object, and the job's `"dead"` or
 * `"retried"` event. Resolves with the claims handed out, how many of
 * the others a refill may replace: those whose object is damaged or gone,
 * and none at all once a read failed for the store's sake (its retry policy
 * gave up: throttling, 5xx answers, timeouts), since more reads now would
 * only meet the same failure, each at the cost of the whole retry policy;
 * and how many jobs it ended for a damaged object (their claims are given
 * back to the rate limit).
 */
async function withPayloads(
  core: QueueCore,
  claims: Claim[],
): Promise<{ handed: Claim[]; refillable: number; deadLettered: number }> {
  if (!claims.some((c) => c.payloadRef !== undefined))
    return { handed: claims, refillable: 0, deadLettered: 0 };
  const limit = core.payloads.callLimit();
  // Not handed out until the reads end: a clean close meanwhile gives them back.
  for (const claim of claims) (claim[CLAIM_TOKEN] as Lease).readingPayload = true;
  const read = await Promise.allSettled(
    claims.map(async (claim) => {
      try {
        await core.payloads.materialise([claim], limit);
      } catch (error) {
        if (!(error instanceof CorruptionError) || claim.payloadRef === undefined) throw error;
        // A short or garbled body from a proxy or an SDK stream looks like damage: read once more.
        claim.payload = await core.payloads.read(claim.payloadRef, claim.payloadSize, limit);
      }
    }),
  );
  const handed: Claim[] = [];
  let refillable = 0;
  let deadLettered = 0;
  let storeFailed = false;
  for (const [i, outcome] of read.entries()) {
    const claim = claims[i]!;
    const lease = claim[CLAIM_TOKEN] as Lease;
    lease.readingPayload = false;
    // Given back by a clean close while the payloads were read: nobody gets it.
    if (lease.settled) continue;
    if (outcome.status === "fulfilled") {
      handed.push(claim);
      continue;
    }
    if (failPayloadClaim(core, claim, outcome.reason)) deadLettered++;
    if (isUnreadable(outcome.reason)) refillable++;
    else storeFailed = true;
  }
  return { handed, refillable: storeFailed ? 0 : refillable, deadLettered };
}

/**
 * Ends the attempt of `claim`, whose payload could not be read (see
 * {@link withPayloads}); returns whether it ended the job for a damaged object.
 */
function failPayloadClaim(core: QueueCore, claim: Claim, error: unknown): boolean {
  const lease = claim[CLAIM_TOKEN] as Lease;
  const damaged = error instanceof CorruptionError;
  const reason = truncateUtf8(
    `payload unreadable: ${String((error as Error)?.message ?? error)}`,
    MAX_MESSAGE_BYTES,
  );
  const live = !core.closed && core.leases.isLive(lease);
  const outcome = !live ? "not settled" : damaged ? "dead-lettered" : "its attempt fails";
  core.logger.warn(`job ${claim.id}: ${reason}; ${outcome}`, {
    jobId: claim.id,
    queue: lease.queue,
    objectKey: claim.payloadRef,
    error,
  });
  if (!live) return false;
  const record = damaged
    ? decideDeadLetter(core.state, lease.job, core.now(), reason)
    : decideNack(core.state, lease.job, core.settings.configs.get(lease.queue), core.now(), reason);
  core.leases.settle(lease);
  core.commitInBackground([record]);
  if (record.tag === Tag.Retry && record.runAt !== undefined) core.timers.scheduleAt(record.runAt);
  // The job is pending again, or its group has room again.
  else core.dispatch(lease.queue);
  return damaged;
}

/** `Queue.claim` and `Queue.claimBatch` after `max` was checked: claim at once, or wait. */
export async function claimJobs(
  core: QueueCore,
  queue: string,
  max: number,
  options: ClaimOptions,
): Promise<Claim[]> {
  core.check();
  const name = checkQueueName(queue);
  const { leaseMs, waitMs, signal } = checkClaimOptions(options, core.settings.configs.get(name));
  core.settings.optionWarnings.check(options, "claim options", CLAIM_OPTION_KEYS);
  if (max === 0) return [];
  const qs = core.state.queues.get(name);
  let waitLeft = waitMs;
  // Queue behind earlier waiters rather than overtaking them.
  if (qs !== undefined && !core.waiters.has(name)) {
    const startedAt = waitMs === 0 ? 0 : core.monotonicNow();
    const claims = core.claimBatchFrom(qs, max, leaseMs);
    if (claims !== null && waitMs === 0) return claims;
    if (claims !== null) {
      const handed = await claims;
      // Every job taken was lost to an unreadable payload object: wait on for the rest of waitMs.
      if (!lostToPayloads(core, handed)) return handed;
      if (core.closed) return [];
      waitLeft = waitMs - (core.monotonicNow() - startedAt);
      if (waitLeft <= 0) return [];
    }
  }
  if (waitLeft === 0 || signal?.aborted) return [];
  const waiting = core.waiters.wait(name, leaseMs, max, waitLeft, signal);
  // Jobs are there but the rate window is full: be served when it opens.
  if (qs !== undefined) core.dispatch(name);
  return waiting;
}
