/**
 * A flow's tree as `enqueueFlow` was called with it, copied in the call's
 * own turn. The flow is checked, decided and encoded in later turns of the
 * event loop (see `flows.ts`, `flow-commit.ts`), and the caller may change
 * or reuse its objects and buffers as soon as the call returns: those turns
 * read this copy instead, so what is enqueued is what was passed.
 *
 * The copy is shallow but complete for what a flow reads: each job object,
 * its payload bytes, its options and headers objects, a `runAt` date and
 * its list of children. Values of the wrong type are kept as they are, for
 * the checks to refuse. It stops where the checks would (past
 * `MAX_FLOW_JOBS` jobs, below `MAX_FLOW_DEPTH` levels), so even a huge or
 * cyclic tree costs the call's turn a bounded walk. A job object inside
 * itself (a cycle) is refused here, where the caller's objects are seen: the
 * copy of a cycle is a tree that would only be found too deep.
 */

import { types } from "node:util";
import { invalidArgumentGot } from "../validate.js";
import { copyBytes } from "./validate.js";

/** What a copy found besides the tree: the caller's `jobId`s (strings), to hold from the call on. */
export interface CopiedFlow {
  readonly root: unknown;
  readonly jobIds: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The enqueue options a flow job's checks read (`checkEnqueueOptions`), copied. */
function copyOptions(options: unknown): unknown {
  if (!isObject(options)) return options;
  const { headers, runAt } = options;
  return {
    jobId: options.jobId,
    delayMs: options.delayMs,
    priority: options.priority,
    maxAttempts: options.maxAttempts,
    runAt: types.isDate(runAt) ? new Date((runAt as Date).getTime()) : runAt,
    dedupKey: options.dedupKey,
    headers: isObject(headers) ? { ...headers } : headers,
    timeoutMs: options.timeoutMs,
    dedupReplace: options.dedupReplace,
    groupKey: options.groupKey,
  };
}

/**
 * Most bytes of each buffer that a flow's payload copies share. Copies made one after another
 * lie side by side in it, so the commit writes a run of them into the arena at once
 * (`apply-tx.ts`). The buffers start small and double up to this, so a small flow holds about
 * its own bytes until its commit is durable (and its events are told).
 */
const PAYLOAD_CHUNK_BYTES = 256 * 1024;

/**
 * Copies the flow `flow` for jobs up to `maxJobs + 1` in pre-order (the
 * order the checks walk it in) and down to `maxDepth + 1` levels. Throws
 * `InvalidArgumentError` for a job that is one of its own ancestors.
 */
export function copyFlow(flow: unknown, maxJobs: number, maxDepth: number): CopiedFlow {
  const jobIds: string[] = [];
  let jobs = 0;
  let chunk = new Uint8Array(0);
  let used = 0;
  const copyPayload = (payload: Uint8Array): Uint8Array => {
    const length = payload.byteLength;
    if (length === 0 || length > PAYLOAD_CHUNK_BYTES / 4) return copyBytes(payload);
    if (used + length > chunk.byteLength) {
      // Sized by what the flow copied so far (doubling up to the cap): a small flow holds
      // about its own bytes, not a whole chunk.
      chunk = new Uint8Array(
        Math.min(PAYLOAD_CHUNK_BYTES, Math.max(4 * length, 2 * chunk.byteLength, 1024)),
      );
      used = 0;
    }
    const copy = chunk.subarray(used, used + length);
    copy.set(payload);
    used += length;
    return copy;
  };
  const copyJob = (node: unknown): unknown => {
    jobs++;
    if (!isObject(node)) return node;
    const { queue, payload, options, children } = node;
    const copied = copyOptions(options);
    if (isObject(copied) && typeof copied.jobId === "string") jobIds.push(copied.jobId);
    return {
      queue,
      payload: types.isUint8Array(payload) ? copyPayload(payload) : payload,
      options: copied,
      children: Array.isArray(children) ? [...children] : children,
    };
  };
  const root = copyJob(flow);
  /**
   * Pre-order with an explicit stack: each entry a job whose copied list of
   * children is being walked (the caller's object, named as the checks name
   * it), the next to copy. The stack is the path from the root.
   */
  const stack: { list: unknown[]; next: number; job: object; arg: string }[] = [];
  /** The caller's job objects on the path, by the name of the first. */
  const path = new Map<object, string>();
  const push = (original: unknown, job: unknown, arg: string): void => {
    if (!isObject(job) || !Array.isArray(job.children) || stack.length + 1 >= maxDepth + 1) return;
    stack.push({ list: job.children as unknown[], next: 0, job: original as object, arg });
    path.set(original as object, arg);
  };
  push(flow, root, "flow");
  while (stack.length > 0 && jobs <= maxJobs) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.list.length) {
      stack.pop();
      path.delete(top.job);
      continue;
    }
    const i = top.next++;
    const original = top.list[i];
    const arg = `${top.arg}.children[${i}]`;
    const ancestor = isObject(original) ? path.get(original) : undefined;
    if (ancestor !== undefined)
      throw invalidArgumentGot(
        arg,
        "a flow job that is not one of its own ancestors (a flow is a tree)",
        `the job \`${ancestor}\` again (a cycle)`,
      );
    const job = copyJob(original);
    top.list[i] = job;
    push(original, job, arg);
  }
  return { root, jobIds };
}
