/**
 * Reading a version-1 snapshot (written by releases before the job table):
 * every job as one varint-coded row in id order, queues with their done
 * counters, and the newest id. A store checkpointed by an earlier release
 * opens through this once; its next checkpoint is version 2.
 */
import { ByteReader, DecodeError } from "./binary.js";
import { holdsResult } from "./done-order.js";
import { HandleIndex } from "./handle-index.js";
import { JobsByIdBuilder } from "./jobs-by-id.js";
import { readHeaders } from "./records/headers.js";
import { State, Status } from "./state.js";
import { ID_BYTES, type JobExtras, slot } from "./table.js";

const HAS_LAST_ERROR = 1;
const HAS_DEDUP = 2;
const HAS_HEADERS = 4;
const CANCEL_REQUESTED = 8;

/** Rebuild a state from a version-1 snapshot. Throws `DecodeError` on malformed input. */
export function decodeSnapshotV1(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== 1) throw new DecodeError(`not a version-1 snapshot (version ${version})`);
  const state = new State();
  if (r.u8() === 1) state.lastId = r.id();
  const queueCount = r.varint();
  const names: string[] = [];
  const doneCounts: number[] = [];
  for (let i = 0; i < queueCount; i++) {
    names.push(r.string());
    doneCounts.push(r.varint());
  }
  if (new Set(names).size !== names.length) throw new DecodeError("a queue appears twice");
  /** Handles per queue and status, in id order (= enqueue order). */
  const lists: number[][] = Array.from({ length: queueCount * 5 }, () => []);
  const { table, arena, ids } = state;
  const jobCount = r.varint();
  for (let n = 0; n < jobCount; n++) {
    const queue = r.varint();
    if (queue >= queueCount) throw new DecodeError("job refers to an unknown queue");
    const idBytes = r.raw(ID_BYTES);
    const status = r.u8();
    const flags = r.u8();
    const attempts = r.varint();
    const maxAttempts = r.varint();
    const priority = r.varint();
    const enqueuedAt = r.varint();
    const at = r.varint();
    const extras: { -readonly [K in keyof JobExtras]: JobExtras[K] } = {};
    if (flags & HAS_LAST_ERROR) extras.lastError = r.string();
    if (flags & HAS_DEDUP) extras.dedupKey = r.string();
    if (flags & HAS_HEADERS) extras.headers = readHeaders(r);
    const payload = r.bytes();
    if (status > Status.Dead) throw new DecodeError(`job ${n} has unknown status ${status}`);
    const h = table.allocate();
    const page = table.write(h);
    const i = slot(h);
    page.id.set(idBytes, i * ID_BYTES);
    page.status[i] = status;
    page.flags[i] = flags & CANCEL_REQUESTED ? 1 : 0;
    page.queue[i] = queue;
    page.attempts[i] = attempts;
    page.maxAttempts[i] = maxAttempts;
    page.priority[i] = priority;
    page.enqueuedAt[i] = enqueuedAt;
    page.at[i] = at;
    page.seq[i] = n;
    page.payloadSegment[i] = arena.write(payload);
    page.payloadOffset[i] = arena.offset;
    page.payloadLength[i] = payload.byteLength;
    table.setExtras(h, extras);
    if (!ids.add(h)) throw new DecodeError(`duplicate job ${state.idOf(h)}`);
    lists[queue * 5 + status]!.push(h);
  }
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after snapshot`);
  state.nextSeq = jobCount;
  const { orders } = state;
  for (let q = 0; q < queueCount; q++) {
    const of = (status: number) => lists[q * 5 + status]!;
    const byId = (handles: number[]) => {
      const builder = new JobsByIdBuilder(orders);
      builder.append(handles);
      return builder.finish();
    };
    const sorted = (status: number, order: (a: number, b: number) => number) =>
      HandleIndex.fromSorted(order, of(status).slice().sort(order));
    const qs = state.restoreQueue(names[q]!, {
      pending: sorted(Status.Pending, orders.byPriority),
      scheduled: sorted(Status.Scheduled, orders.byTime),
      claimed: byId(of(Status.Claimed)),
      doneNoResult: HandleIndex.fromSorted(
        orders.byTime,
        of(Status.Done)
          .filter((h) => !holdsResult(state, h))
          .sort(orders.byTime),
      ),
      doneWithResult: HandleIndex.fromSorted(
        orders.byTime,
        of(Status.Done)
          .filter((h) => holdsResult(state, h))
          .sort(orders.byTime),
      ),
      deadByTime: sorted(Status.Dead, orders.byTime),
      deadById: byId(of(Status.Dead)),
    });
    qs.doneCount = doneCounts[q]!;
    for (const status of [Status.Pending, Status.Scheduled])
      for (const h of of(status)) {
        const key = table.extras(h)?.dedupKey;
        if (key !== undefined) qs.dedup.set(key, h);
      }
  }
  return state;
}
