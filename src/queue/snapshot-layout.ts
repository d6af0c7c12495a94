/**
 * The layout of a version-2 queue snapshot, shared by its encoder and its
 * decoder: a small head, then regions at 8-byte aligned offsets — the job
 * table's columns (little-endian, one value per job, jobs in row order), the
 * payload bytes, the extras, and the order of every index.
 *
 *     u8 version (2) | u8 revision | head (varints) | region table | regions…
 *
 *     head:   lastId (u8 present, 16 bytes) | nextSeq | queue count |
 *             per queue: name, doneCount, flags ({@link QueueFlag}) | job count | extras count
 *     table:  per region, u64 offset (from the snapshot's start) and u64 length
 *
 * Offsets are chosen so that regions are 8-byte aligned in a buffer where the
 * snapshot starts at byte `base` (the log's checkpoint header): a decoder then
 * reads the numeric columns through typed-array views of the bytes it was
 * given instead of copying them, and falls back to copies when they are not
 * aligned after all.
 */

export const SNAPSHOT_VERSION = 2;

/**
 * The revision of the version-2 layout this build writes and the newest it
 * reads: 1 added {@link QueueFlag.NoJobYet} (builds before it wrote 0 and
 * ignored the byte). A change an older build cannot read (a new queue flag,
 * a new region) raises it; a decoder refuses a newer revision as written by
 * a newer release, which says so, rather than as damage.
 */
export const SNAPSHOT_REVISION = 1;

/** The regions, in order. */
export const Region = {
  Id: 0,
  Status: 1,
  Flags: 2,
  Queue: 3,
  Attempts: 4,
  MaxAttempts: 5,
  Priority: 6,
  EnqueuedAt: 7,
  At: 8,
  Seq: 9,
  PayloadLength: 10,
  Payload: 11,
  Extras: 12,
  Indexes: 13,
} as const;
export const REGION_COUNT = 14;
/** Bytes of the region table. */
export const REGION_TABLE_BYTES = REGION_COUNT * 16;

/** Bytes per job of each column region (payload, extras and indexes vary). */
export const COLUMN_WIDTH: readonly number[] = [16, 1, 1, 4, 4, 4, 4, 8, 8, 8, 4];

/** Indexes written per queue, in this order. */
export const INDEXES_PER_QUEUE = 6;

/** Bits of an extras entry's mask. */
export const Extra = {
  Headers: 1,
  LastError: 2,
  DedupKey: 4,
  JobId: 8,
  Result: 16,
  History: 32,
  Timeout: 64,
  PayloadRef: 128,
  FlowParent: 256,
  Flow: 512,
  GroupKey: 4096,
  // Other bits up to 32768 are set aside for transactions, flows and schedules.
  Progress: 65_536,
  /** The producer's trace context: {@link TRACE_BYTES} bytes (not part of `JobExtras`: the table's trace column). */
  Trace: 131_072,
} as const;
/** Every bit of {@link Extra}: a decoder refuses others (written by a newer release). */
export const EXTRA_KNOWN =
  Extra.Headers |
  Extra.LastError |
  Extra.DedupKey |
  Extra.JobId |
  Extra.Result |
  Extra.History |
  Extra.Timeout |
  Extra.PayloadRef |
  Extra.FlowParent |
  Extra.Flow |
  Extra.GroupKey |
  Extra.Progress |
  Extra.Trace;

/**
 * Per-queue flags in the head. `NoJobYet`: only `pauseQueue` named the queue
 * so far (not listed by `listQueues`); absent in snapshots written before it
 * existed, whose queues all held a job or are listed as if they had.
 */
export const QueueFlag = { Paused: 1, NoJobYet: 2 } as const;

/** A queue as the head lists it. */
export interface QueueHead {
  name: string;
  doneCount: number;
  /** See {@link QueueFlag}. */
  flags: number;
}

/** Whether this machine stores typed-array numbers little-endian (every common one does). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Where each region starts and how long it is. */
export interface Layout {
  offsets: number[];
  lengths: number[];
  /** Total bytes of the snapshot. */
  size: number;
}

/**
 * Offsets for regions of `lengths` after a head of `headBytes` (version byte,
 * reserved byte, head and region table), aligned for a snapshot starting at
 * byte `base` of its buffer.
 */
export function layOut(headBytes: number, lengths: readonly number[], base: number): Layout {
  const offsets: number[] = [];
  let at = headBytes;
  for (const length of lengths) {
    at = align8(base + at) - base;
    offsets.push(at);
    at += length;
  }
  return { offsets, lengths: [...lengths], size: at };
}

/** Swaps the byte order of each `width`-byte value in `bytes` (big-endian machines only). */
export function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let at = 0; at + width <= bytes.length; at += width)
    bytes.subarray(at, at + width).reverse();
}
