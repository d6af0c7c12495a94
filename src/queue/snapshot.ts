/** The checkpoint format of the queue's state: encoding a `State` and decoding it back. */
import { ByteReader, ByteWriter, DecodeError } from "./binary.js";
import { readHeaders, writeHeaders } from "./records.js";
import { Job, type QueueContents, type QueueState, State, Status } from "./state.js";

/**
 * Binary checkpoint of a {@link State}: every job with all its fields (so a
 * restore needs no log), the queues ever seen with their cumulative done
 * counters, and the newest id. Jobs are written in id order so a restore
 * inserts into each index in ascending order.
 */
const FORMAT_VERSION = 1;

const HAS_LAST_ERROR = 1;
const HAS_DEDUP = 2;
const HAS_HEADERS = 4;
const CANCEL_REQUESTED = 8;

export function encodeSnapshot(state: State): Uint8Array {
  const w = new ByteWriter(64 + state.jobs.size * 96);
  w.u8(FORMAT_VERSION);
  if (state.lastId === null) w.u8(0);
  else {
    w.u8(1);
    w.id(state.lastId);
  }
  const queueIndex = new Map<QueueState, number>();
  w.varint(state.queues.size);
  for (const qs of state.queues.values()) {
    queueIndex.set(qs, queueIndex.size);
    w.string(qs.name);
    w.varint(qs.doneCount);
  }
  // Map order is insertion order, i.e. enqueue order, i.e. id order.
  w.varint(state.jobs.size);
  for (const job of state.jobs.values()) {
    w.varint(queueIndex.get(job.queue)!);
    w.id(job.id);
    w.u8(job.status);
    w.u8(
      (job.lastError !== undefined ? HAS_LAST_ERROR : 0) |
        (job.dedupKey !== undefined ? HAS_DEDUP : 0) |
        (job.headers !== undefined ? HAS_HEADERS : 0) |
        (job.cancelRequested ? CANCEL_REQUESTED : 0),
    );
    w.varint(job.attempts);
    w.varint(job.maxAttempts);
    w.varint(job.priority);
    w.varint(job.enqueuedAt);
    w.varint(job.at);
    if (job.lastError !== undefined) w.string(job.lastError);
    if (job.dedupKey !== undefined) w.string(job.dedupKey);
    if (job.headers !== undefined) writeHeaders(w, job.headers);
    w.binaryString(job.payload);
  }
  return w.finish();
}

/** Rebuild a state from {@link encodeSnapshot} output. Throws `DecodeError` on malformed input. */
export function decodeSnapshot(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== FORMAT_VERSION) throw new DecodeError(`unknown snapshot version ${version}`);
  const state = new State();
  if (r.u8() === 1) state.lastId = r.id();
  const queueCount = r.varint();
  const queues: QueueState[] = [];
  const contents: QueueContents[] = [];
  for (let i = 0; i < queueCount; i++) {
    const qs = state.queue(r.string());
    qs.doneCount = r.varint();
    queues.push(qs);
    contents.push({ pending: [], scheduled: [], claimed: [], done: [], dead: [] });
  }
  const jobCount = r.varint();
  for (let i = 0; i < jobCount; i++) {
    const queueIndex = r.varint();
    const qs = queues[queueIndex];
    if (qs === undefined) throw new DecodeError("job refers to an unknown queue");
    const id = r.id();
    const status = r.u8();
    const flags = r.u8();
    const attempts = r.varint();
    const maxAttempts = r.varint();
    const priority = r.varint();
    const enqueuedAt = r.varint();
    const at = r.varint();
    const lastError = flags & HAS_LAST_ERROR ? r.string() : undefined;
    const dedupKey = flags & HAS_DEDUP ? r.string() : undefined;
    const headers = flags & HAS_HEADERS ? readHeaders(r) : undefined;
    const payload = r.binaryString();
    if (status > Status.Dead) throw new DecodeError(`job ${id} has unknown status ${status}`);
    const job = new Job(
      id,
      qs,
      payload,
      headers,
      status as Job["status"],
      attempts,
      maxAttempts,
      priority,
      enqueuedAt,
      at,
      lastError,
      dedupKey,
      (flags & CANCEL_REQUESTED) !== 0,
    );
    const known = state.jobs.size;
    state.jobs.set(id, job);
    if (state.jobs.size === known) throw new DecodeError(`duplicate job ${id}`);
    const lists = contents[queueIndex]!;
    switch (job.status) {
      case Status.Pending:
        lists.pending.push(job);
        break;
      case Status.Scheduled:
        lists.scheduled.push(job);
        break;
      case Status.Claimed:
        lists.claimed.push(job);
        break;
      case Status.Done:
        lists.done.push(job);
        break;
      case Status.Dead:
        lists.dead.push(job);
        break;
    }
  }
  for (let i = 0; i < queues.length; i++) queues[i]!.restore(contents[i]!);
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after snapshot`);
  return state;
}
