/**
 * Adding jobs: checking a list of jobs with their own options, and deciding
 * their enqueue records together — caller-chosen ids (refused when taken,
 * also within the list), dedup hits on waiting jobs and on earlier jobs of
 * the same list, `delayMs` and `runAt` — as one atomic commit, after writing
 * payloads above the offload threshold as their own objects. Shared by
 * `enqueue`, `enqueueBatch` and `enqueueMany`.
 */
import { DuplicateJobIdError } from "../errors.js";
import { checkOptionsObject, invalidArgument, invalidArgumentGot } from "../validate.js";
import type { QueueSettings } from "./config.js";
import type { QueueCore } from "./core.js";
import { enqueueRecordOf, inlinePayload, scheduledRunAt } from "./enqueue-record.js";
import { JOB_HINTS } from "./option-warnings.js";
import { ENQUEUE_OPTION_KEYS, type EnqueueOptions, MAX_ENQUEUE_MANY } from "./options.js";
import type { EnqueueRecord, ReplaceRecord } from "./records/enqueue.js";
import { Tag } from "./records/tags.js";
import type { Headers } from "./state.js";
import type { PayloadRef } from "./table.js";
import { formatTraceParent, TRACEPARENT, type TraceContext } from "./trace-context.js";
import type { Payload } from "./types.js";
import { checkPayload, MAX_TIMESTAMP_MS } from "./validate.js";
import { type CheckedEnqueueOptions, checkEnqueueOptions } from "./validate-options.js";

/** One job of `enqueueMany`. */
export interface JobInput {
  /**
   * The job's payload, as for `enqueue`.
   * @example { payload: JSON.stringify({ to: "ada@example.com" }) }
   */
  payload: Payload;
  /**
   * The job's options, as for `enqueue`.
   * @default the queue's config (no id, delay or dedup key of its own)
   * @example { payload: "report-42", options: { jobId: "report-42", delayMs: 60_000 } }
   */
  options?: EnqueueOptions;
}

/** What `enqueueMany` did for one job. */
export interface EnqueueResult {
  /** The job's id (on a dedup hit, the id of the job that holds the key). */
  id: string;
  /** `false` when a dedup key hit a waiting job (nothing was added for this one). */
  created: boolean;
}

/** A job whose payload and options were checked. */
export interface CheckedJob {
  payload: Uint8Array;
  options: CheckedEnqueueOptions;
  /** Argument name of its options, for messages decided later (`options`, `jobs[3].options`). */
  arg: string;
  /** The producer span's context, when the enqueue is traced. */
  trace?: TraceContext | undefined;
}

/** Checks one job's payload and options for `queue`. */
export function checkJob(
  settings: QueueSettings,
  queue: string,
  payload: unknown,
  options: unknown,
  payloadArg: string,
  optionsArg: string,
  /** False for bytes already the queue's own (a flow's private copy): not copied again. */
  copyPayload = true,
): CheckedJob {
  const opts = options ?? {};
  checkOptionsObject(opts, optionsArg);
  const checked: CheckedJob = {
    payload: checkPayload(payload, settings.maxPayloadBytes, payloadArg, copyPayload),
    options: checkEnqueueOptions(opts as EnqueueOptions, settings.configs.get(queue), optionsArg),
    arg: optionsArg,
    // Always present: traced and untraced jobs share one shape.
    trace: undefined,
  };
  settings.optionWarnings.check(opts, "enqueue options", ENQUEUE_OPTION_KEYS, JOB_HINTS);
  return checked;
}

/** The keys of an `enqueueMany` entry. */
const JOB_ENTRY_KEYS: readonly string[] = ["payload", "options"];

/** Checks `enqueueMany`'s list: an array of `{ payload, options? }`. */
export function checkJobList(settings: QueueSettings, queue: string, jobs: unknown): CheckedJob[] {
  if (!Array.isArray(jobs))
    throw invalidArgument("jobs", "an array of { payload, options } objects", jobs);
  if (jobs.length > MAX_ENQUEUE_MANY)
    throw invalidArgumentGot(
      "jobs",
      `an array of at most ${MAX_ENQUEUE_MANY} jobs (MAX_ENQUEUE_MANY; split longer lists into several calls)`,
      `${jobs.length} jobs`,
    );
  return jobs.map((job: unknown, i) => {
    if (typeof job !== "object" || job === null || Array.isArray(job))
      throw invalidArgument(`jobs[${i}]`, "an object { payload, options }", job);
    const { payload, options } = job as { payload?: unknown; options?: unknown };
    const checked = checkJob(
      settings,
      queue,
      payload,
      options,
      `jobs[${i}].payload`,
      `jobs[${i}].options`,
    );
    settings.optionWarnings.check(job, "enqueueMany jobs", JOB_ENTRY_KEYS);
    return checked;
  });
}

/**
 * Decides and commits the enqueue records of `jobs` into `queue` in one
 * atomic write (call once the log is writable); resolves with one result per
 * job, in order, once they are durable. Throws (writing nothing) when a
 * `jobId` is taken or repeated, or a `delayMs` runs past the storable range.
 * With no payload to offload, the records are decided and committed within
 * this call (no call made after it can take a `jobId` of it first).
 *
 * Payloads above the offload threshold are first written as their own
 * objects (in parallel, a bounded number of this call's at a time), then the records that
 * reference them are decided and committed; a debounce (`dedupReplace`)
 * writes its payload too, for its replace record to reference. If that fails
 * before the commit (a write failed, the queue closed, a `jobId` was taken
 * meanwhile), or the commit's log write certainly failed (not when it is in
 * doubt), the objects are deleted again; a job that turns out to be a dedup
 * hit without replacing has its object deleted at once. Once committed, an
 * object is deleted only after its job is gone or its payload was replaced.
 * `committed` is called once the records are committed (applied and
 * appended).
 */
export function enqueueJobs(
  core: QueueCore,
  queue: string,
  jobs: readonly CheckedJob[],
  committed?: () => void,
): Promise<EnqueueResult[]> {
  checkIds(core, jobs, core.now());
  const wanted = offloadWanted(core, queue, jobs);
  if (wanted === undefined) {
    const results = commitJobs(core, queue, jobs, []);
    committed?.();
    return results;
  }
  return offloadAndCommit(core, queue, jobs, wanted, committed);
}

/** {@link enqueueJobs} of jobs with payloads to offload (`wanted`, by index). */
async function offloadAndCommit(
  core: QueueCore,
  queue: string,
  jobs: readonly CheckedJob[],
  wanted: readonly boolean[],
  committed?: () => void,
): Promise<EnqueueResult[]> {
  const refs: (PayloadRef | undefined)[] = new Array(jobs.length).fill(undefined);
  let results: Promise<EnqueueResult[]>;
  try {
    await offload(core, jobs, wanted, refs);
    // A dedup key let go meanwhile turns a hit into a job of its own: its payload is written
    // too. Each round writes at least one more, so this ends.
    for (;;) {
      const more = stillWanted(core, queue, jobs, refs);
      if (more === undefined) break;
      await offload(core, jobs, more, refs);
    }
    core.check();
    // Taken meanwhile, by a call that did not wait for this one (see `flow-job-ids.ts`)?
    checkIds(core, jobs, core.now());
    results = commitJobs(core, queue, jobs, refs);
  } catch (error) {
    core.payloads.delete(keysOf(refs));
    throw error;
  } finally {
    // Committed (the state references them) or deleted: no longer in flight.
    core.payloads.release(keysOf(refs));
  }
  committed?.();
  return results;
}

/** Throws (writing nothing) when a `jobId` of `jobs` is taken or repeated, or a `delayMs` runs past the storable range. */
function checkIds(core: QueueCore, jobs: readonly CheckedJob[], now: number): void {
  const state = core.state;
  const taken = new Set<string>();
  for (const { options, arg } of jobs) {
    const { jobId, delayMs } = options;
    if (jobId !== undefined) {
      // Against the state only: a call holding the id was waited for, and the caller
      // (`addWhenWritable`) waits for the log to be durable before passing this error on,
      // since the id's job may not be durable yet. A duplicate within this call waits too:
      // one rule for every DuplicateJobIdError, at the cost of a wait on an input error.
      if (taken.has(jobId) || state.findPublic(jobId) !== -1)
        throw new DuplicateJobIdError(
          `Expected \`${arg}.jobId\` to be an id no job has, got ${JSON.stringify(jobId)} (taken${taken.has(jobId) ? " earlier in this call" : ""})`,
        );
      taken.add(jobId);
    }
    if (delayMs !== undefined && now + delayMs > MAX_TIMESTAMP_MS)
      throw invalidArgument(
        `${arg}.delayMs`,
        `at most ${MAX_TIMESTAMP_MS - now} (the latest storable time, from now)`,
        delayMs,
      );
  }
}

/**
 * Which jobs' payloads are above the offload threshold (leaving out jobs
 * whose dedup key is held right now, unless they replace its holder's
 * payload), by index; `undefined` when none is.
 */
export function offloadWanted(
  core: QueueCore,
  queue: string,
  jobs: readonly CheckedJob[],
): boolean[] | undefined {
  return stillWanted(core, queue, jobs, []);
}

/** {@link offloadWanted} of the jobs that have no object among `refs` (by index) yet. */
function stillWanted(
  core: QueueCore,
  queue: string,
  jobs: readonly CheckedJob[],
  refs: readonly (PayloadRef | undefined)[],
): boolean[] | undefined {
  const payloads = core.payloads;
  if (!jobs.some((job) => payloads.offloads(job.payload))) return undefined;
  const dedup = core.state.queues.get(queue)?.dedup;
  const wanted = jobs.map(
    ({ payload, options: { dedupKey, dedupReplace } }, i) =>
      refs[i] === undefined &&
      payloads.offloads(payload) &&
      (dedupKey === undefined || dedupReplace || dedup?.get(dedupKey) === undefined),
  );
  return wanted.includes(true) ? wanted : undefined;
}

/**
 * Writes the `wanted` payloads of `jobs` as their own objects, setting their
 * references in `refs` (by index). If a write fails, it throws (the caller
 * deletes the objects of `refs`).
 */
async function offload(
  core: QueueCore,
  jobs: readonly CheckedJob[],
  wanted: readonly boolean[],
  refs: (PayloadRef | undefined)[],
): Promise<void> {
  const payloads = core.payloads;
  const now = core.now();
  const limit = payloads.callLimit();
  const written = await Promise.allSettled(
    jobs.map((job, i) => (wanted[i] ? payloads.write(job.payload, now, limit) : undefined)),
  );
  let failure: PromiseRejectedResult | undefined;
  for (const [i, w] of written.entries()) {
    if (w.status === "rejected") failure ??= w;
    else if (w.value !== undefined) refs[i] = w.value;
  }
  if (failure !== undefined) throw failure.reason;
}

/** The object keys of `refs`. */
function keysOf(refs: readonly (PayloadRef | undefined)[]): string[] {
  return refs.flatMap((ref) => (ref === undefined ? [] : [ref.key]));
}

/** The synchronous decision and commit of {@link enqueueJobs}, after the checks and offloading. */
function commitJobs(
  core: QueueCore,
  queue: string,
  jobs: readonly CheckedJob[],
  refs: readonly (PayloadRef | undefined)[],
): Promise<EnqueueResult[]> {
  const state = core.state;
  const now = core.now();
  const qs = state.queues.get(queue);
  const results: EnqueueResult[] = [];
  const records: (EnqueueRecord | ReplaceRecord)[] = [];
  const unused: string[] = [];
  /** Dedup keys taken by earlier jobs of this call → their public id and record. */
  const claimedKeys = new Map<string, { id: string; at: number }>();
  let earliestRunAt = Number.POSITIVE_INFINITY;
  let anyPending = false;
  let anyHit = false;
  for (const [i, job] of jobs.entries()) {
    const { payload, options } = job;
    const { dedupKey, jobId } = options;
    const payloadRef = refs[i];
    if (dedupKey !== undefined) {
      const holder = qs?.dedup.get(dedupKey);
      const earlier = claimedKeys.get(dedupKey);
      if (holder !== undefined || earlier !== undefined) {
        results.push({ id: earlier?.id ?? state.publicIdOf(holder!), created: false });
        anyHit = true;
        if (!options.dedupReplace) {
          if (payloadRef !== undefined) unused.push(payloadRef.key);
          continue;
        }
        const runAt = scheduledRunAt(options, now);
        // Debounce: the waiting job (or this call's earlier one) takes this enqueue's contents.
        if (earlier !== undefined) {
          const before = records[earlier.at] as EnqueueRecord;
          if (before.payloadRef !== undefined) unused.push(before.payloadRef.key);
          records[earlier.at] = {
            ...before,
            headers: options.headers,
            runAt,
            payload: inlinePayload(payload, payloadRef),
            payloadRef,
          };
        } else {
          // The holder's offloaded payload, if any, is deleted once this is durable (`apply`).
          records.push({
            tag: Tag.Replace,
            id: state.idOf(holder!),
            payload: inlinePayload(payload, payloadRef),
            headers: replacingHeaders(job),
            runAt,
            ...(payloadRef === undefined ? {} : { payloadRef }),
          });
        }
        if (runAt !== undefined) earliestRunAt = Math.min(earliestRunAt, runAt);
        else anyPending = true;
        continue;
      }
    }
    const id = core.ids.next(now);
    const record = enqueueRecordOf(id, queue, job, payloadRef, now);
    records.push(record);
    const publicId = jobId ?? id;
    if (dedupKey !== undefined) claimedKeys.set(dedupKey, { id: publicId, at: records.length - 1 });
    results.push({ id: publicId, created: true });
    if (record.runAt !== undefined) earliestRunAt = Math.min(earliestRunAt, record.runAt);
    else anyPending = true;
  }
  let written: Promise<void> | undefined;
  if (records.length > 0) {
    written = core.commit(records.length === 1 ? records[0]! : records);
    if (earliestRunAt !== Number.POSITIVE_INFINITY) core.timers.scheduleAt(earliestRunAt);
    if (anyPending) core.dispatch(queue);
  }
  core.payloads.delete(unused);
  if (written !== undefined && refs.length > 0)
    core.payloads.deleteIfNotCommitted(written, keysOf(records.map((r) => r.payloadRef)));
  return settled(core, written, anyHit, results);
}

async function settled(
  core: QueueCore,
  written: Promise<void> | undefined,
  anyHit: boolean,
  results: EnqueueResult[],
): Promise<EnqueueResult[]> {
  // A dedup holder's own enqueue may still be in flight: answer once it is durable. A
  // commit of this call covers it (log writes are acknowledged in order); without one,
  // wait for the log, leaving the open batch open.
  if (written !== undefined) await written;
  else if (anyHit) await core.log.whenDurable();
  return results;
}

/**
 * The headers a debounce puts on the waiting job: the replacing enqueue's,
 * with its trace context as a `traceparent` header when it was traced and
 * the caller gave none. A replacement keeps the job's stored context (the
 * first enqueue's), and a header is read in its place: so the job's handler
 * links to the replacing enqueue. An untraced replace after it leaves no
 * such header, and the job falls back to its first enqueue's context.
 */
function replacingHeaders(job: CheckedJob): Headers | undefined {
  const headers = job.options.headers;
  if (job.trace === undefined || headers?.[TRACEPARENT] !== undefined) return headers;
  return { ...headers, [TRACEPARENT]: formatTraceParent(job.trace) };
}
