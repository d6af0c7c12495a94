/**
 * The invariant auditor: checks a queue's in-memory state for structural
 * consistency, cross-checks the public API against a recount, and compares
 * the live state with what a fresh replay of the store would rebuild.
 */
import { readLog } from "../../../src/log/index.js";
import { silentLogger } from "../../../src/logger.js";
import { apply } from "../../../src/queue/apply.js";
import { decodeTombstone } from "../../../src/queue/cancelled.js";
import type { Queue } from "../../../src/queue/queue.js";
import { decodeRecord } from "../../../src/queue/records/codec.js";
import { decodeSnapshot } from "../../../src/queue/snapshot.js";
import { State, Status } from "../../../src/queue/state.js";
import { Flag, slot } from "../../../src/queue/table.js";
import type { ObjectStore } from "../../../src/store/types.js";
import { SLICE_CLOCK } from "../../../src/util/slices.js";
import { rowOf, rows, STATUS_NAMES } from "../../queue/state-rows.js";

/** Key of the queue's test-only inspection hook (installed on `Queue.prototype`). */
const INSPECT_STATE = Symbol.for("taquba.inspectState");

/** The live state of `queue`, through the internal inspection hook. */
export function liveState(queue: Queue): State {
  return (queue as unknown as Record<typeof INSPECT_STATE, () => State>)[INSPECT_STATE]();
}

/** Structural invariants of a state; one message per violation (empty = sound). */
export function auditState(state: State): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const qs of state.queues.values()) {
    if (state.queueList[qs.index] !== qs) problems.push(`queue ${qs.name} has a wrong index`);
    const placements = [
      ["pending", qs.pending, Status.Pending],
      ["scheduled", qs.scheduled, Status.Scheduled],
      ["claimed", qs.claimed.generated, Status.Claimed],
      ["claimed with own ids", qs.claimed.ownBySeq, Status.Claimed],
      ["done without result", qs.doneNoResult, Status.Done],
      ["done with result", qs.doneWithResult, Status.Done],
      ["dead", qs.deadByTime, Status.Dead],
    ] as const;
    for (const [index, handles, status] of placements) {
      const order = handles.problems();
      if (order !== null) problems.push(`queue ${qs.name}: ${index} index: ${order}`);
      for (const h of handles.toArray()) {
        const job = rowOf(state, h);
        if (seen.has(h)) problems.push(`job ${job.id} sits in more than one index`);
        seen.add(h);
        if (job.status !== status)
          problems.push(`job ${job.id} is ${STATUS_NAMES[job.status]} but indexed as ${index}`);
        if (job.queue !== qs.name) problems.push(`job ${job.id} is indexed under queue ${qs.name}`);
        if (state.find(job.id) !== h)
          problems.push(`job ${job.id} is indexed but the id index does not give it`);
      }
    }
    for (const h of qs.doneNoResult.toArray())
      if (state.table.extras(h)?.result !== undefined)
        problems.push(`job ${state.idOf(h)} holds a result but is indexed as done without one`);
    for (const h of qs.doneWithResult.toArray())
      if (state.table.extras(h)?.result === undefined)
        problems.push(`job ${state.idOf(h)} holds no result but is indexed as done with one`);
    const claimedById = qs.claimed.problems();
    if (claimedById !== null) problems.push(`queue ${qs.name}: claimed index: ${claimedById}`);
    const byId = qs.deadById.problems();
    if (byId !== null) problems.push(`queue ${qs.name}: dead listing index: ${byId}`);
    const byTime = new Set(qs.deadByTime.toArray());
    const listed = qs.deadById.toArray();
    if (listed.length !== byTime.size || listed.some((h) => !byTime.has(h)))
      problems.push(`queue ${qs.name}: the two dead indexes hold different jobs`);
    if (qs.groups !== null) {
      // Fair groups: each pending job in its group's index, claimed counts per group, the
      // rotation exactly the groups with pending jobs.
      const expected = new Map<string, { pending: number[]; claimed: number }>();
      const entry = (key: string) => {
        let e = expected.get(key);
        if (e === undefined) {
          e = { pending: [], claimed: 0 };
          expected.set(key, e);
        }
        return e;
      };
      for (const h of qs.pending.toArray()) entry(rowOf(state, h).groupKey ?? "").pending.push(h);
      for (const h of qs.claimed.toArray()) entry(rowOf(state, h).groupKey ?? "").claimed++;
      for (const [key, e] of expected) {
        const group = qs.groups.byKey.get(key);
        if (group === undefined) problems.push(`queue ${qs.name}: group ${key} missing`);
        else if (
          group.claimed !== e.claimed ||
          group.pending.toArray().join() !== e.pending.join() ||
          qs.groups.rotation.has(key) !== e.pending.length > 0
        )
          problems.push(`queue ${qs.name}: group ${JSON.stringify(key)} is out of step`);
      }
      if (qs.groups.byKey.size !== expected.size)
        problems.push(
          `queue ${qs.name}: ${qs.groups.byKey.size} groups, ${expected.size} expected`,
        );
    }
    for (const [key, h] of qs.dedup) {
      const job = rowOf(state, h);
      if (job.dedupKey !== key)
        problems.push(`dedup key ${key} points at ${job.id} holding ${job.dedupKey}`);
      if (job.status !== Status.Pending && job.status !== Status.Scheduled)
        problems.push(`dedup key ${key} held by ${STATUS_NAMES[job.status]} job ${job.id}`);
    }
    if (!Number.isSafeInteger(qs.doneCount) || qs.doneCount < 0)
      problems.push(`queue ${qs.name}: done counter ${qs.doneCount}`);
  }
  let payloadBytes = 0;
  const seqs = new Set<number>();
  for (const job of rows(state)) {
    payloadBytes += job.payload.length;
    if (seqs.has(job.seq)) problems.push(`job ${job.id} shares seq ${job.seq}`);
    seqs.add(job.seq);
    if (job.seq >= state.nextSeq) problems.push(`job ${job.id} has seq ≥ nextSeq`);
    if (!seen.has(job.h))
      problems.push(`job ${job.id} (${STATUS_NAMES[job.status]}) is in no index`);
    if (state.lastId === null || job.id > state.lastId)
      problems.push(`job ${job.id} is newer than lastId ${state.lastId}`);
    if (
      job.dedupKey !== undefined &&
      state.queues.get(job.queue)!.dedup.get(job.dedupKey) !== job.h
    )
      problems.push(`job ${job.id} has dedup key ${job.dedupKey} the index does not give it`);
    const live = job.status === Status.Pending || job.status === Status.Scheduled;
    if (live && job.attempts >= job.maxAttempts)
      problems.push(
        `job ${job.id} is ${STATUS_NAMES[job.status]} with ${job.attempts}/${job.maxAttempts} attempts`,
      );
    if (job.status === Status.Claimed && (job.attempts < 1 || job.attempts > job.maxAttempts))
      problems.push(`claimed job ${job.id} has ${job.attempts}/${job.maxAttempts} attempts`);
    // A request that outlived its delivery (dead, kept done) is moot; a live job must not carry one.
    if (job.cancelRequested && (job.status === Status.Pending || job.status === Status.Scheduled))
      problems.push(`job ${job.id} is ${STATUS_NAMES[job.status]} with a cancel request`);
  }
  let withJobId = 0;
  for (const job of rows(state)) {
    if (job.jobId === undefined) continue;
    withJobId++;
    if (state.jobIds.get(job.jobId) !== job.h)
      problems.push(`job ${job.id} has jobId ${job.jobId} the jobId index does not give it`);
  }
  if (state.jobIds.size !== withJobId)
    problems.push(`jobId index holds ${state.jobIds.size} ids, ${withJobId} jobs have one`);
  if (state.ids.size !== state.size)
    problems.push(`id index holds ${state.ids.size} jobs, the table ${state.size}`);
  if (state.arena.liveBytes !== payloadBytes)
    problems.push(`arena counts ${state.arena.liveBytes} live bytes, jobs hold ${payloadBytes}`);
  for (const problem of auditFlows(state, seen)) problems.push(problem);
  return problems;
}

/** Every job of `state`, by its status indexes. */
function allHandles(state: State): number[] {
  const handles: number[] = [];
  for (const qs of state.queues.values())
    for (const index of [
      qs.pending,
      qs.scheduled,
      qs.claimed,
      qs.doneNoResult,
      qs.doneWithResult,
      qs.deadByTime,
    ])
      for (const h of index.toArray()) handles.push(h);
  return handles;
}

/**
 * Flow links: every job naming a parent is listed by it (open while the
 * job runs, ended once it is dead, when only a dead parent keeps it), every
 * open child names its parent and has not ended, a parent's count matches
 * its open children, and a parent waits exactly while it is flagged so.
 */
export function auditFlows(state: State, handles: Iterable<number> = allHandles(state)): string[] {
  const problems: string[] = [];
  const running = (status: number) =>
    status === Status.Pending || status === Status.Scheduled || status === Status.Claimed;
  for (const h of handles) {
    const id = state.idOf(h);
    const extras = state.table.extras(h);
    const status = state.statusOf(h);
    const parentId = extras?.flowParent;
    if (parentId !== undefined) {
      const parent = state.find(parentId);
      const entry =
        parent === -1
          ? undefined
          : state.table.extras(parent)?.flow?.children.find((c) => c.id === id);
      if (parent === -1) problems.push(`flow child ${id} names missing parent ${parentId}`);
      else if (entry === undefined) problems.push(`flow child ${id} is not listed by ${parentId}`);
      else if (running(status) ? entry.ended : !entry.ended || status !== Status.Dead)
        problems.push(
          `flow child ${id} is ${STATUS_NAMES[status]}, its entry ${entry.ended ? "ended" : "open"}`,
        );
      else if (status === Status.Dead && state.statusOf(parent) !== Status.Dead)
        problems.push(`dead flow child ${id} has a ${STATUS_NAMES[state.statusOf(parent)]} parent`);
    }
    const flow = extras?.flow;
    const waiting = (state.table.read(h).flags[slot(h)]! & Flag.WaitingChildren) !== 0;
    if (flow === undefined) {
      if (waiting) problems.push(`job ${id} waits for children it does not have`);
      continue;
    }
    let open = 0;
    for (const child of flow.children) {
      if (child.ended) continue;
      open++;
      const c = state.find(child.id);
      if (c === -1) problems.push(`flow parent ${id} waits for missing child ${child.id}`);
      else if (state.table.extras(c)?.flowParent !== id || !running(state.statusOf(c)))
        problems.push(`flow parent ${id} lists open child ${child.id}, which does not run for it`);
    }
    if (open !== flow.waiting)
      problems.push(`flow parent ${id} counts ${flow.waiting} open of ${open}`);
    if (waiting !== (status === Status.Scheduled && open > 0))
      problems.push(
        `flow parent ${id} is ${STATUS_NAMES[status]} with ${open} open, flagged ${waiting}`,
      );
  }
  return problems;
}

/** A canonical text form of a state, equal for equal states (row positions and seq numbers aside). */
export function stateDigest(state: State): string {
  const lines: string[] = [`lastId ${state.lastId}`];
  for (const name of [...state.queues.keys()].sort()) {
    const qs = state.queues.get(name)!;
    lines.push(
      `queue ${JSON.stringify(name)} done=${qs.doneCount} paused=${qs.paused} heldJob=${qs.heldJob}`,
    );
    const ids = (handles: number[]) => handles.map((h) => state.idOf(h)).join(",");
    lines.push(`  pending ${ids(qs.pending.toArray())}`);
    lines.push(`  scheduled ${ids(qs.scheduled.toArray())}`);
    lines.push(`  done ${ids(qs.doneNoResult.toArray())}`);
    lines.push(`  done with result ${ids(qs.doneWithResult.toArray())}`);
    lines.push(`  dead ${ids(qs.deadByTime.toArray())}`);
  }
  for (const name of [...state.schedules.keys()].sort()) {
    const { payload, ...s } = state.schedules.get(name)!;
    lines.push(`schedule ${JSON.stringify(s)} payload=${Buffer.from(payload).toString("hex")}`);
  }
  // In removal order: the order decides which tombstone goes first at the cap.
  for (const [name, firedUpTo] of state.scheduleTombstones)
    lines.push(`tombstone ${JSON.stringify(name)} ${firedUpTo}`);
  // Tombstones of cancelled jobs, queue by queue, in the order they expire.
  for (const entry of state.cancelled.freeze().entries())
    lines.push(`cancelled ${JSON.stringify(decodeTombstone(entry))}`);
  for (const j of rows(state)) {
    lines.push(
      JSON.stringify([
        j.id,
        j.queue,
        STATUS_NAMES[j.status],
        j.attempts,
        j.maxAttempts,
        j.priority,
        j.enqueuedAt,
        j.at,
        j.lastError ?? null,
        j.dedupKey ?? null,
        j.jobId ?? null,
        j.cancelRequested,
        j.headers ?? null,
        j.payload.length,
        j.payload.length <= 64 ? j.payload : j.payload.slice(0, 64),
        j.result ?? null,
        j.history ?? null,
        j.timeoutMs ?? null,
        j.payloadRef ?? null,
        j.flowParent ?? null,
        j.waitingChildren,
        j.flow ?? null,
        j.groupKey ?? null,
        j.progress ?? null,
      ]),
    );
  }
  for (const { key, value } of state.kv
    .scan("", undefined, Number.POSITIVE_INFINITY)
    .entries.map(([key, value]) => ({ key, value })))
    lines.push(`kv ${JSON.stringify(key)} ${Buffer.from(value).toString("hex")}`);
  return lines.join("\n");
}

/** The state a writer opening `path` now would rebuild, read without fencing anyone. */
export async function replayedState(store: ObjectStore, path: string): Promise<State> {
  // Its slices on a clock that never runs out: where it yields must not depend on the machine.
  const options = Object.assign(
    { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 60_000 } },
    { [SLICE_CLOCK]: () => 0 },
  );
  const { checkpoint, records } = await readLog(store, path, options);
  const state = checkpoint === null ? new State() : decodeSnapshot(checkpoint);
  for (const record of records) apply(state, decodeRecord(record));
  return state;
}

/** Cross-checks the public API against a recount of the state; one message per mismatch. */
export async function auditPublicApi(queue: Queue): Promise<string[]> {
  const state = liveState(queue);
  const problems: string[] = [];
  const names = await queue.listQueues();
  // A queue only pauseQueue named is not listed until it holds a job.
  const expectedNames = state.queueList
    .filter((qs) => qs.heldJob)
    .map((qs) => qs.name)
    .sort();
  if (JSON.stringify(names) !== JSON.stringify(expectedNames))
    problems.push(`listQueues ${JSON.stringify(names)} ≠ ${JSON.stringify(expectedNames)}`);
  const recount = new Map<string, number[]>();
  for (const name of expectedNames) recount.set(name, [0, 0, 0, 0, 0]);
  for (const job of rows(state)) recount.get(job.queue)![job.status]! += 1;
  for (const name of expectedNames) {
    const stats = await queue.stats(name);
    const [pending, scheduled, claimed, , dead] = recount.get(name)!;
    const qs = state.queues.get(name)!;
    const want = {
      queue: name,
      pending,
      claimed,
      done: qs.doneCount,
      dead,
      scheduled,
      paused: qs.paused,
    };
    if (JSON.stringify(stats) !== JSON.stringify(want))
      problems.push(`stats(${name}) ${JSON.stringify(stats)} ≠ recount ${JSON.stringify(want)}`);
    // listJobs walks every status completely, each job once, in the right status.
    for (const [s, status] of STATUS_NAMES.entries()) {
      const seen = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await queue.listJobs(name, status, {
          limit: 50,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const job of page.jobs) {
          if (job.status !== status)
            problems.push(`listJobs(${name}, ${status}) lists a ${job.status} job`);
          if (seen.has(job.id)) problems.push(`listJobs(${name}, ${status}) lists ${job.id} twice`);
          seen.add(job.id);
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      const expected = recount.get(name)![s]!;
      if (seen.size !== expected)
        problems.push(
          `listJobs(${name}, ${status}) walked ${seen.size} jobs, the state has ${expected}`,
        );
    }
    const deadIds: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await queue.deadJobs(
        name,
        after === undefined ? { limit: 50 } : { after, limit: 50 },
      );
      for (const job of page) {
        if (job.status !== "dead")
          problems.push(`deadJobs(${name}) lists ${job.id} as ${job.status}`);
        deadIds.push(job.id);
      }
      if (page.length < 50) break;
      after = page.at(-1)!.id;
    }
    if (deadIds.length !== dead)
      problems.push(`deadJobs(${name}) lists ${deadIds.length} jobs, recount says ${dead}`);
  }
  for (const job of rows(state)) {
    const record = await queue.getJob(job.id);
    if (record === null)
      problems.push(`getJob(${job.id}) is null for a ${STATUS_NAMES[job.status]} job`);
    else if (record.status !== STATUS_NAMES[job.status] || record.attempts !== job.attempts)
      problems.push(`getJob(${job.id}) says ${record.status}/${record.attempts}`);
  }
  return problems;
}
