/**
 * Producers' operations of the public `Queue`: `enqueue`, `enqueueBatch` and
 * `enqueueMany` after their checks, with enqueue traces, once the log takes
 * writes (the records themselves are decided by `enqueue.ts`).
 */
import { DuplicateJobIdError } from "../errors.js";
import { checkOptionsObject, invalidArgument } from "../validate.js";
import type { QueueCore } from "./core.js";
import {
  type CheckedJob,
  checkJob,
  checkJobList,
  type EnqueueResult,
  enqueueJobs,
  type JobInput,
  offloadWanted,
} from "./enqueue.js";
import { heldKeysOf } from "./flow-job-ids.js";
import type { EnqueueTrace } from "./instrument.js";
import { JOB_HINTS } from "./option-warnings.js";
import { ENQUEUE_OPTION_KEYS, type EnqueueOptions } from "./options.js";
import { Tag } from "./records/tags.js";
import type { Headers } from "./state.js";
import { TRACEPARENT } from "./trace-context.js";
import { fitTrace } from "./trace-headers.js";
import type { Payload } from "./types.js";
import { checkPayload, checkQueueName, copyBytes } from "./validate.js";
import {
  type CheckedEnqueueOptions,
  checkEnqueueOptions,
  setsNoEnqueueOption,
} from "./validate-options.js";

/**
 * `Queue.enqueue`. A plain job — no `jobId`, dedup key, delay, run time or
 * offloaded payload, while the log takes writes; traced or not — is decided,
 * applied and appended before the call returns (see {@link commitPlain});
 * any other goes through {@link enqueueJobs}.
 */
export function enqueueOne(
  core: QueueCore,
  queue: string,
  payload: Payload,
  options: EnqueueOptions,
): Promise<string> {
  let name: string;
  let job: CheckedJob;
  let trace: EnqueueTrace | undefined;
  try {
    core.check();
    name = checkQueueName(queue);
    const opts = options ?? {};
    // The same checks, in the same order, as `checkJob`; the payload is copied only if needed.
    const bytes = checkPayload(payload, core.settings.maxPayloadBytes, "payload", false);
    checkOptionsObject(opts, "options");
    const config = core.settings.configs.get(name);
    // No options (the common call): the queue's defaults, with no checked copy to make.
    const checked = setsNoEnqueueOption(opts) ? null : checkEnqueueOptions(opts, config, "options");
    core.settings.optionWarnings.check(opts, "enqueue options", ENQUEUE_OPTION_KEYS, JOB_HINTS);
    trace = core.instrumentation?.tracing?.enqueue(name, checked?.headers, 1);
    if (
      (checked === null || isPlain(checked)) &&
      !core.payloads.offloads(bytes) &&
      core.log.isWritable() &&
      // An earlier enqueue call still on its way to its commit goes first (call order).
      core.enqueuesUncommitted === 0
    ) {
      // Encoded and applied within this call: the caller's own bytes do (no observer reads an
      // enqueue's payload, see `observe.ts`).
      return checked === null
        ? commitPlain(core, name, bytes, trace, config.defaultPriority, config.maxAttempts)
        : commitPlain(
            core,
            name,
            bytes,
            trace,
            checked.priority,
            checked.maxAttempts,
            checked.headers,
            checked.timeoutMs,
            checked.groupKey,
          );
    }
    job = {
      // Not `bytes.slice()`: a Buffer's is a view of the caller's memory.
      payload: bytes === payload ? copyBytes(bytes) : bytes,
      options: checked ?? checkEnqueueOptions(opts, config, "options"),
      arg: "options",
      trace: undefined, // the shape of every checked job (see `checkJob`)
    };
  } catch (error) {
    trace?.failed(error);
    return Promise.reject(error);
  }
  return enqueueChecked(core, name, job, trace);
}

/** Whether checked options leave a job plain: no id of the caller's, dedup key, delay or run time. */
function isPlain(options: CheckedEnqueueOptions): boolean {
  return (
    options.jobId === undefined &&
    options.dedupKey === undefined &&
    options.delayMs === undefined &&
    options.runAt === undefined
  );
}

/**
 * Commits a plain job (see {@link enqueueOne}) in the caller's turn: its
 * record is encoded and applied before this returns, so `payload` may be the
 * caller's own bytes. Resolves with its id once durable.
 */
function commitPlain(
  core: QueueCore,
  queue: string,
  payload: Uint8Array,
  trace: EnqueueTrace | undefined,
  priority: number,
  maxAttempts: number,
  headers?: Headers,
  timeoutMs?: number,
  groupKey?: string,
): Promise<string> {
  const now = core.now();
  const id = core.ids.next(now);
  // A trace's headers are the call's own, or those plus `tracestate`, as far as they fit.
  const stored =
    trace === undefined
      ? { headers, trace: undefined }
      : fitTrace(headers, trace.headers, trace.context);
  const written = core.commit({
    // Every field, in the order of `enqueueRecordOf`'s: one hidden class for every enqueue record.
    tag: Tag.Enqueue,
    id,
    queue,
    payload,
    payloadRef: undefined,
    headers: stored.headers,
    trace: stored.trace,
    priority,
    maxAttempts,
    enqueuedAt: now,
    runAt: undefined,
    dedupKey: undefined,
    jobId: undefined,
    timeoutMs,
    groupKey,
    flowParent: undefined,
    waitsForChildren: undefined,
  });
  core.dispatch(queue);
  if (trace === undefined) return written.then(() => id);
  return written.then(
    () => {
      trace.succeeded([id], true);
      return id;
    },
    (error: unknown) => {
      trace.failed(error);
      throw error;
    },
  );
}

/** `Queue.enqueue` of a checked job that is not plain (traced, offloaded, deduplicated, …). */
async function enqueueChecked(
  core: QueueCore,
  name: string,
  job: CheckedJob,
  trace: EnqueueTrace | undefined,
): Promise<string> {
  if (trace === undefined) return (await enqueueWhenWritable(core, name, [job]))[0]!.id;
  try {
    const [result] = await enqueueWhenWritable(core, name, [traced(job, trace)]);
    trace.succeeded([result!.id], result!.created);
    return result!.id;
  } catch (error) {
    trace.failed(error);
    throw error;
  }
}

/**
 * `job` (checked for this call, so it is changed in place) carrying the
 * enqueue's trace context, and its headers when the trace added some
 * (`tracestate`): to the job's own with `merge` (unless the job has a
 * `traceparent` of its own, which stays with its own state), else instead
 * of the call's. What does not fit within the header limits is left out
 * (see `trace-headers.ts`).
 */
export function traced(job: CheckedJob, trace: EnqueueTrace, merge = false): CheckedJob {
  const own = job.options.headers;
  let proposed = trace.headers;
  if (proposed === undefined) proposed = own;
  // A job of a batch with a `traceparent` of its own keeps it and its `tracestate` (its
  // creation context, read in place of the batch span's): no state of another span beside it.
  else if (merge && proposed !== own)
    proposed = own?.[TRACEPARENT] !== undefined ? own : { ...own, ...proposed };
  const stored = fitTrace(own, proposed, trace.context);
  job.trace = stored.trace;
  if (stored.headers !== own) job.options = { ...job.options, headers: stored.headers };
  return job;
}

/**
 * Adds checked jobs once the log takes writes (see {@link enqueueJobs}). A
 * call with a `jobId` or dedup key that an earlier call not settled yet holds
 * (a flow, or a call that did not commit within its own call) first waits
 * for it (see `flow-job-ids.ts`): calls after it without its ids or keys may
 * commit first. So debounces of one key commit in call order, and the last
 * call's payload wins, even when an earlier one writes its payload first.
 */
function enqueueWhenWritable(
  core: QueueCore,
  name: string,
  jobs: CheckedJob[],
): Promise<EnqueueResult[]> {
  const ids = heldKeysOf(name, jobs);
  if (ids.length === 0) return addWhenWritable(core, name, jobs);
  // From the call on, no job gets one of its `jobId`s as its generated id (see `IdGenerator`).
  for (const { options } of jobs) if (options.jobId !== undefined) core.ids.reserve(options.jobId);
  // A `jobId` or dedup key an earlier call holds: decided once that call settled. Or this
  // call does not commit within the call (the log does not take writes, or payloads are
  // written first): its ids and keys are held till it settled. Either way later calls with
  // one of them wait for it.
  const held =
    core.flowJobIds.holdIfHeld(ids) ??
    (core.log.isWritable() && offloadWanted(core, name, jobs) === undefined
      ? undefined
      : core.flowJobIds.hold(ids));
  if (held === undefined) return addWhenWritable(core, name, jobs);
  // Let go once committed, not once durable (see `flow-job-ids.ts`).
  const release = (): void => core.flowJobIds.release(held.hold);
  return (async () => {
    try {
      if (held.earlier !== undefined) await held.earlier;
      return await addWhenWritable(core, name, jobs, release);
    } finally {
      release();
    }
  })();
}

/**
 * {@link enqueueWhenWritable} once no earlier call holds its ids. Counted in
 * `core.enqueuesUncommitted` from here until its records are committed (or
 * it fails): meanwhile a plain enqueue does not commit in its caller's turn,
 * ahead of it, but follows the same path. Not while it waits for an earlier
 * call holding its ids: that wait orders nothing against calls without them,
 * and would keep every plain enqueue off its fast path for as long as a flow
 * takes. `onCommitted` is called once its records are committed (or it
 * failed).
 */
function addWhenWritable(
  core: QueueCore,
  name: string,
  jobs: CheckedJob[],
  onCommitted?: () => void,
): Promise<EnqueueResult[]> {
  core.enqueuesUncommitted++;
  let counted = true;
  const committed = (): void => {
    if (!counted) return;
    counted = false;
    core.enqueuesUncommitted--;
    onCommitted?.();
  };
  const added = (async () => {
    if (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    try {
      return await enqueueJobs(core, name, jobs, committed);
    } catch (error) {
      // The id's job may be applied but not durable yet (its write may still fail): answer
      // once the log is durable up to it, or with the log's failure.
      if (error instanceof DuplicateJobIdError) {
        committed();
        await core.log.whenDurable();
      }
      throw error;
    }
  })();
  added.then(committed, committed);
  return added;
}

/** `Queue.enqueueBatch`. */
export async function enqueueBatchOf(
  core: QueueCore,
  queue: string,
  payloads: Payload[],
): Promise<string[]> {
  core.check();
  const name = checkQueueName(queue);
  if (!Array.isArray(payloads))
    throw invalidArgument("payloads", "an array of Uint8Array or string payloads", payloads);
  const settings = core.settings;
  const jobs = payloads.map((p, i) => checkJob(settings, name, p, {}, `payloads[${i}]`, "options"));
  if (jobs.length === 0) return [];
  const trace = core.instrumentation?.tracing?.enqueue(name, undefined, jobs.length);
  if (trace === undefined) return (await enqueueWhenWritable(core, name, jobs)).map((r) => r.id);
  try {
    const ids = (
      await enqueueWhenWritable(
        core,
        name,
        jobs.map((job) => traced(job, trace)),
      )
    ).map((r) => r.id);
    trace.succeeded(ids, true);
    return ids;
  } catch (error) {
    trace.failed(error);
    throw error;
  }
}

/** `Queue.enqueueMany`. */
export async function enqueueManyOf(
  core: QueueCore,
  queue: string,
  jobs: JobInput[],
): Promise<EnqueueResult[]> {
  core.check();
  const name = checkQueueName(queue);
  const checked = checkJobList(core.settings, name, jobs);
  if (checked.length === 0) return [];
  const trace = core.instrumentation?.tracing?.enqueue(name, undefined, checked.length);
  if (trace === undefined) return enqueueWhenWritable(core, name, checked);
  try {
    const results = await enqueueWhenWritable(
      core,
      name,
      checked.map((job) => traced(job, trace, true)),
    );
    trace.succeeded(
      results.map((r) => r.id),
      results.some((r) => r.created),
    );
    return results;
  } catch (error) {
    trace.failed(error);
    throw error;
  }
}
