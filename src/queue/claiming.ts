/**
 * Claiming: taking pending jobs of a queue for claims in one durable write
 * and handing the claims out once that write is durable (leases start then,
 * offloaded payloads are read back);
 * and the entry of `Queue.claim` and `claimBatch` (claim at once, or wait).
 */
import type { QueueCore } from "./core.js";
import { decideNack } from "./decisions.js";
import { type Group, NO_GROUP } from "./groups.js";
import type { IndexPosition } from "./handle-index.js";
import type { Lease } from "./leases.js";
import type { ClaimOptions } from "./options.js";
import type { ClaimRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import type { QueueState } from "./state.js";
import { CLAIM_TOKEN, type Claim } from "./types.js";
import { checkClaimOptions, checkQueueName, MAX_MESSAGE_BYTES, truncateUtf8 } from "./validate.js";

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
    state.expect(h); // apply finds the row without probing the id index
    return { tag: Tag.Claim, id: state.idOf(h), at };
  });
  core.rateLimits.take(qs.name, limit, records.length);
  const written = core.commit(records.length === 1 ? records[0]! : records);
  const leases = handles.map((h, k) => {
    const id = records[k]!.id;
    // The id string made for the record serves as the public id unless the caller chose one.
    return core.leases.add(h, id, qs.name, state.table.extras(h)?.jobId ?? id);
  });
  return written
    .then(() => handOut(core, leases, leaseMs))
    .then((claims) => withPayloads(core, claims));
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

/** The claim records of `leases` are durable: start their leases and build the claims, leaving out any dropped meanwhile. */
function handOut(core: QueueCore, leases: readonly Lease[], leaseMs: number): Claim[] {
  const claims: Claim[] = [];
  const expiresAt = core.monotonicNow() + leaseMs;
  for (const lease of leases) {
    if (!core.leases.isLive(lease)) continue;
    core.leases.activate(lease, expiresAt);
    const record = core.toRecord(lease.job, lease.id) as Claim & { [CLAIM_TOKEN]: Lease };
    record[CLAIM_TOKEN] = lease;
    claims.push(record);
  }
  return claims;
}

/**
 * Reads the offloaded payloads of `claims`. A claim whose payload cannot be
 * read (its object is gone, or the store keeps failing) is not handed out:
 * its attempt fails with the reason (retried, or dead when out of
 * attempts), so one such job never stops a worker.
 */
async function withPayloads(core: QueueCore, claims: Claim[]): Promise<Claim[]> {
  if (!claims.some((c) => c.payloadRef !== undefined)) return claims;
  const limit = core.payloads.callLimit();
  const read = await Promise.allSettled(
    claims.map((claim) => core.payloads.materialise([claim], limit)),
  );
  const handed: Claim[] = [];
  for (const [i, outcome] of read.entries()) {
    const claim = claims[i]!;
    if (outcome.status === "fulfilled") {
      handed.push(claim);
      continue;
    }
    const lease = claim[CLAIM_TOKEN] as Lease;
    const reason = truncateUtf8(
      `payload unreadable: ${String((outcome.reason as Error)?.message ?? outcome.reason)}`,
      MAX_MESSAGE_BYTES,
    );
    core.logger.warn(`job ${claim.id}: ${reason}; its attempt fails`, { jobId: claim.id });
    if (core.closed || !core.leases.isLive(lease)) continue;
    const record = decideNack(
      core.state,
      lease.job,
      core.settings.configs.get(lease.queue),
      core.now(),
      reason,
    );
    core.leases.settle(lease);
    core.commitInBackground([record]);
    if (record.tag === Tag.Retry) {
      if (record.runAt === undefined) core.dispatch(lease.queue);
      else core.timers.scheduleAt(record.runAt);
    }
  }
  return handed;
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
  if (max === 0) return [];
  const qs = core.state.queues.get(name);
  // Queue behind earlier waiters rather than overtaking them.
  if (qs !== undefined && !core.waiters.has(name)) {
    const claims = core.claimBatchFrom(qs, max, leaseMs);
    if (claims !== null) return claims;
  }
  if (waitMs === 0 || signal?.aborted) return [];
  const waiting = core.waiters.wait(name, leaseMs, max, waitMs, signal);
  // Jobs are there but the rate window is full: be served when it opens.
  if (qs !== undefined) core.dispatch(name);
  return waiting;
}
