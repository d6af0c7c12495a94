/**
 * Binary formats of WAL batches and checkpoints. Both start with a magic and a
 * format version and carry a CRC32, so a flipped bit or a truncated object is
 * reported as {@link CorruptionError} naming the object instead of being
 * replayed as garbage.
 */
import { crc32 } from "node:zlib";
import { CorruptionError } from "../errors.js";
import { nextTurn, SliceBudget } from "../util/slices.js";

const WAL_MAGIC = 0x5451574c; // "TQWL"
const FENCE_MAGIC = 0x5451464e; // "TQFN"
const CHECKPOINT_MAGIC = 0x54514350; // "TQCP"
const FORMAT_VERSION = 1;
/** WAL batches of version 2 also carry the writer's epoch (version 1 ones are still read). */
const WAL_FORMAT_VERSION = 2;
/**
 * The most WAL creates a writer keeps in flight, a constant of the protocol:
 * a writer never has a create in flight more than this many slots past its
 * last acknowledged batch, so when it crashes or is fenced, batches of its
 * can land at most this many slots past the first one missing. The next
 * writer fences that whole window (and starts writing after it), and readers
 * treat objects past a gap within this window as such a crashed tail, not as
 * damage.
 */
export const WAL_WINDOW = 8;
/** Bytes of the random token that tells our batch from anyone else's at the same slot. */
export const WRITE_TOKEN_BYTES = 16;

// v1: magic u32 | version u16 | walId u64 | token 16 | count u32
// v2: magic u32 | version u16 | walId u64 | epoch u64 | acknowledgedThrough u64 | token 16 | count u32
const WAL_V1_HEADER_BYTES = 4 + 2 + 8 + WRITE_TOKEN_BYTES + 4;
const WAL_HEADER_BYTES = 4 + 2 + 8 + 8 + 8 + WRITE_TOKEN_BYTES + 4;
const WAL_EPOCH_OFFSET = 4 + 2 + 8;
const WAL_ACKNOWLEDGED_OFFSET = WAL_EPOCH_OFFSET + 8;
const WAL_TOKEN_OFFSET = WAL_ACKNOWLEDGED_OFFSET + 8;
/**
 * Bytes before the snapshot in a checkpoint object (the room a snapshot
 * encoder leaves free): magic u32 | version u16 | walId u64 | payload length u64 | crc u32.
 */
export const CHECKPOINT_HEADER_BYTES = 4 + 2 + 8 + 8 + 4;
const CHECKPOINT_CRC_OFFSET = CHECKPOINT_HEADER_BYTES - 4;
const CRC_BYTES = 4;
/** Size of a (version 1) batch of no records: every WAL batch is at least this big. */
export const MIN_WAL_BATCH_BYTES = WAL_V1_HEADER_BYTES + CRC_BYTES;
/** Bytes of the length in front of each record of a batch (a big-endian u32). */
export const RECORD_LENGTH_BYTES = 4;
/**
 * Size of a fence: magic u32 | version u16 | epoch u64 | crc u32. Smaller than
 * any WAL batch, so a listing tells fences from batches by size alone, and a
 * batch truncated to nothing is damage, not a fence.
 */
export const FENCE_BYTES = 4 + 2 + 8 + CRC_BYTES;

/** Whether a WAL object of `size` bytes is a fence (no batch is this small). */
export function isFenceSize(size: number): boolean {
  return size === FENCE_BYTES;
}

/** The fence a writer of `epoch` puts in the first free WAL slot when it opens. */
export function encodeFence(epoch: number): Uint8Array {
  const out = new Uint8Array(FENCE_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, FENCE_MAGIC);
  view.setUint16(4, FORMAT_VERSION);
  view.setBigUint64(6, BigInt(epoch));
  view.setUint32(14, crc32(out.subarray(0, 14)));
  return out;
}

/** Verifies a fence stored at `key`; returns the epoch of the writer that wrote it. */
export function decodeFence(key: string, body: Uint8Array): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (
    body.byteLength !== FENCE_BYTES ||
    view.getUint32(0) !== FENCE_MAGIC ||
    view.getUint16(4) !== FORMAT_VERSION ||
    view.getUint32(14) !== crc32(body.subarray(0, 14))
  ) {
    throw new CorruptionError(
      key,
      `WAL object of ${body.byteLength} bytes is neither a batch nor a fence`,
    );
  }
  return Number(view.getBigUint64(6));
}

/** Encoded size of one record inside a batch. */
export function encodedRecordBytes(record: Uint8Array): number {
  return RECORD_LENGTH_BYTES + record.byteLength;
}

/** Who wrote a batch, and what it knew when it did. */
export interface WalBatchHeader {
  /** The writer's epoch. */
  epoch: number;
  /** The newest batch the writer had acknowledged when it sealed this one. */
  acknowledgedThrough: number;
}

/** Encodes batch `walId`; `token` tells it from anyone else's. */
export function encodeWalBatch(
  walId: number,
  header: WalBatchHeader,
  token: Uint8Array,
  records: readonly Uint8Array[],
): Uint8Array {
  let size = WAL_HEADER_BYTES + CRC_BYTES;
  for (const record of records) size += encodedRecordBytes(record);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, WAL_MAGIC);
  view.setUint16(4, WAL_FORMAT_VERSION);
  view.setBigUint64(6, BigInt(walId));
  view.setBigUint64(WAL_EPOCH_OFFSET, BigInt(header.epoch));
  view.setBigUint64(WAL_ACKNOWLEDGED_OFFSET, BigInt(header.acknowledgedThrough));
  out.set(token, WAL_TOKEN_OFFSET);
  view.setUint32(WAL_TOKEN_OFFSET + WRITE_TOKEN_BYTES, records.length);
  let offset = WAL_HEADER_BYTES;
  for (const record of records) {
    view.setUint32(offset, record.byteLength);
    out.set(record, offset + RECORD_LENGTH_BYTES);
    offset += encodedRecordBytes(record);
  }
  view.setUint32(offset, crc32(out.subarray(0, offset)));
  return out;
}

/** Whether `body` is a (current-format) batch written with `token` (resolves ambiguous creates). */
export function hasWriteToken(body: Uint8Array, token: Uint8Array): boolean {
  if (body.byteLength < WAL_HEADER_BYTES + CRC_BYTES) return false;
  if (new DataView(body.buffer, body.byteOffset, 6).getUint16(4) !== WAL_FORMAT_VERSION)
    return false;
  const stored = body.subarray(WAL_TOKEN_OFFSET, WAL_TOKEN_OFFSET + WRITE_TOKEN_BYTES);
  return Buffer.compare(stored, token) === 0;
}

/** A verified WAL batch: its records and its header (`null` for a version 1 batch, which has none). */
export interface WalBatch {
  records: Uint8Array[];
  header: WalBatchHeader | null;
}

/**
 * A verified WAL batch without its records taken apart: they are `count`
 * length-prefixed records (u32 length, then the bytes) starting at byte
 * `recordsAt` of `body`, every one checked to lie inside the batch.
 */
export interface VerifiedWalBatch {
  /** The object it was read from (named when one of its records turns out unusable). */
  key: string;
  body: Uint8Array;
  header: WalBatchHeader | null;
  recordsAt: number;
  count: number;
}

/** Decodes and verifies a non-empty WAL batch stored at `key` for slot `walId`. */
export function decodeWalBatch(key: string, walId: number, body: Uint8Array): Uint8Array[] {
  return decodeWalBatchWithEpoch(key, walId, body).records;
}

/** {@link decodeWalBatch}, also telling which epoch wrote the batch. */
export function decodeWalBatchWithEpoch(key: string, walId: number, body: Uint8Array): WalBatch {
  const batch = verifyWalBatch(key, walId, body);
  const records: Uint8Array[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = batch.recordsAt;
  for (let i = 0; i < batch.count; i++) {
    const start = offset + RECORD_LENGTH_BYTES;
    const end = start + view.getUint32(offset);
    // Views, not copies: the caller decodes each record once and drops the batch.
    records.push(body.subarray(start, end));
    offset = end;
  }
  return { records, header: batch.header };
}

/**
 * Verifies WAL batch `walId` stored at `key` — magic, version, checksum, slot,
 * and that its records exactly fill it — without making an object per record.
 * Throws {@link CorruptionError} naming `key` otherwise.
 */
export function verifyWalBatch(key: string, walId: number, body: Uint8Array): VerifiedWalBatch {
  if (body.byteLength < WAL_V1_HEADER_BYTES + CRC_BYTES) {
    throw new CorruptionError(
      key,
      `WAL batch of ${body.byteLength} bytes is shorter than a header`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (view.getUint32(0) !== WAL_MAGIC)
    throw new CorruptionError(key, "not a WAL batch (bad magic)");
  const version = view.getUint16(4);
  if (version !== 1 && version !== WAL_FORMAT_VERSION) {
    throw new CorruptionError(key, `unsupported WAL format version ${version}`);
  }
  const headerBytes = version === 1 ? WAL_V1_HEADER_BYTES : WAL_HEADER_BYTES;
  if (body.byteLength < headerBytes + CRC_BYTES) {
    throw new CorruptionError(
      key,
      `WAL batch of ${body.byteLength} bytes is shorter than a header`,
    );
  }
  const crcOffset = body.byteLength - CRC_BYTES;
  if (view.getUint32(crcOffset) !== crc32(body.subarray(0, crcOffset))) {
    throw new CorruptionError(key, "WAL batch checksum mismatch (damaged or truncated)");
  }
  const storedId = view.getBigUint64(6);
  if (storedId !== BigInt(walId)) {
    throw new CorruptionError(key, `WAL batch says it is batch ${storedId}, expected ${walId}`);
  }
  const count = view.getUint32(headerBytes - 4);
  const header =
    version === 1
      ? null
      : {
          epoch: Number(view.getBigUint64(WAL_EPOCH_OFFSET)),
          acknowledgedThrough: Number(view.getBigUint64(WAL_ACKNOWLEDGED_OFFSET)),
        };
  let offset = headerBytes;
  for (let i = 0; i < count; i++) {
    if (offset + RECORD_LENGTH_BYTES > crcOffset) {
      throw new CorruptionError(key, `WAL batch ends inside record ${i} of ${count}`);
    }
    const end = offset + RECORD_LENGTH_BYTES + view.getUint32(offset);
    if (end > crcOffset) {
      throw new CorruptionError(key, `WAL batch ends inside record ${i} of ${count}`);
    }
    offset = end;
  }
  if (offset !== crcOffset) {
    throw new CorruptionError(key, `WAL batch has ${crcOffset - offset} unexpected trailing bytes`);
  }
  return { key, body, header, recordsAt: headerBytes, count };
}

/**
 * How many records a WAL batch that failed {@link verifyWalBatch} says it
 * holds, when its header still reads as the header of batch `walId` (magic,
 * a known version and the slot are right): damage there is in its records or
 * checksum, or it was cut short. `null` when the header cannot be read (the
 * object is shorter than a header, or is not batch `walId`), or when the
 * count is more than its bytes could hold. Nothing but the failed checksum
 * covers the count: it is the best guess there is.
 */
export function damagedWalBatchCount(walId: number, body: Uint8Array): number | null {
  if (body.byteLength < WAL_V1_HEADER_BYTES) return null;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (view.getUint32(0) !== WAL_MAGIC) return null;
  const version = view.getUint16(4);
  if (version !== 1 && version !== WAL_FORMAT_VERSION) return null;
  const headerBytes = version === 1 ? WAL_V1_HEADER_BYTES : WAL_HEADER_BYTES;
  if (body.byteLength < headerBytes || view.getBigUint64(6) !== BigInt(walId)) return null;
  const count = view.getUint32(headerBytes - 4);
  // More records than the bytes after the header could hold: the count is damaged too.
  return count * RECORD_LENGTH_BYTES <= body.byteLength - headerBytes ? count : null;
}

export function encodeCheckpoint(walId: number, snapshot: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHECKPOINT_HEADER_BYTES + snapshot.byteLength);
  out.set(snapshot, CHECKPOINT_HEADER_BYTES);
  writeCheckpointHeader(out, walId);
  setCheckpointCrc(out, crc32Parts(...checkpointCrcParts(out)));
  return out;
}

/**
 * Turns `body` — a snapshot already placed after {@link CHECKPOINT_HEADER_BYTES}
 * free bytes — into a checkpoint covering WAL ids up to `walId`, in place.
 * The checksum runs in slices of `budget`'s time, with `between()` awaited
 * after each, so a large checkpoint never blocks the event loop.
 */
export async function sealCheckpoint(
  walId: number,
  body: Uint8Array,
  budget: SliceBudget = new SliceBudget(),
  between: () => Promise<void> = nextTurn,
): Promise<Uint8Array> {
  writeCheckpointHeader(body, walId);
  setCheckpointCrc(body, await crc32InSlices(checkpointCrcParts(body), budget, between));
  return body;
}

function writeCheckpointHeader(out: Uint8Array, walId: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, CHECKPOINT_MAGIC);
  view.setUint16(4, FORMAT_VERSION);
  view.setBigUint64(6, BigInt(walId));
  view.setBigUint64(14, BigInt(out.byteLength - CHECKPOINT_HEADER_BYTES));
}

/** What a checkpoint's checksum covers: the header up to the checksum, then the snapshot. */
function checkpointCrcParts(body: Uint8Array): [Uint8Array, Uint8Array] {
  return [body.subarray(0, CHECKPOINT_CRC_OFFSET), body.subarray(CHECKPOINT_HEADER_BYTES)];
}

function setCheckpointCrc(out: Uint8Array, crc: number): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(CHECKPOINT_CRC_OFFSET, crc);
}

/** Decodes and verifies a checkpoint that must cover WAL ids up to `walId`. Returns the caller's bytes. */
export function decodeCheckpoint(key: string, walId: number, body: Uint8Array): Uint8Array {
  const snapshot = checkCheckpointHeader(key, walId, body);
  checkCheckpointCrc(key, body, crc32Parts(...checkpointCrcParts(body)));
  return snapshot;
}

/**
 * {@link decodeCheckpoint} with the checksum verified in slices (awaiting
 * `between()` after each), for checkpoints read while the process serves.
 */
export async function decodeCheckpointInSlices(
  key: string,
  walId: number,
  body: Uint8Array,
  budget: SliceBudget = new SliceBudget(),
  between: () => Promise<void> = nextTurn,
): Promise<Uint8Array> {
  const snapshot = checkCheckpointHeader(key, walId, body);
  checkCheckpointCrc(key, body, await crc32InSlices(checkpointCrcParts(body), budget, between));
  return snapshot;
}

/** Checks everything but the checksum; returns the snapshot (a view, not a copy). */
function checkCheckpointHeader(key: string, walId: number, body: Uint8Array): Uint8Array {
  if (body.byteLength < CHECKPOINT_HEADER_BYTES) {
    throw new CorruptionError(
      key,
      `checkpoint of ${body.byteLength} bytes is shorter than its ${CHECKPOINT_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (view.getUint32(0) !== CHECKPOINT_MAGIC) {
    throw new CorruptionError(key, "not a checkpoint (bad magic)");
  }
  const version = view.getUint16(4);
  if (version !== FORMAT_VERSION) {
    throw new CorruptionError(key, `unsupported checkpoint format version ${version}`);
  }
  const length = view.getBigUint64(14);
  const actual = BigInt(body.byteLength - CHECKPOINT_HEADER_BYTES);
  if (length !== actual) {
    throw new CorruptionError(
      key,
      `checkpoint holds ${actual} snapshot bytes, header says ${length}`,
    );
  }
  const storedId = view.getBigUint64(6);
  if (storedId !== BigInt(walId)) {
    throw new CorruptionError(key, `checkpoint covers WAL id ${storedId}, expected ${walId}`);
  }
  // A view: copying a checkpoint of a million jobs costs a third of a second.
  return body.subarray(CHECKPOINT_HEADER_BYTES);
}

function checkCheckpointCrc(key: string, body: Uint8Array, crc: number): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (view.getUint32(CHECKPOINT_CRC_OFFSET) !== crc) {
    throw new CorruptionError(key, "checkpoint checksum mismatch");
  }
}

/**
 * CRC32 of the concatenation of `parts`. Empty parts are skipped: zlib treats
 * an empty array without a backing store as a NULL buffer and answers 0
 * instead of carrying the running value.
 */
function crc32Parts(...parts: Uint8Array[]): number {
  let crc = 0;
  for (const part of parts) if (part.byteLength > 0) crc = crc32(part, crc);
  return crc;
}

/**
 * Bytes checksummed between two checks of the slice's budget. CRC32 of 4 MiB
 * takes 2–4 ms on a slow core (more while it is shared): a fixed number of
 * bytes per slice would run a slice of its own on top of the turn's other
 * work, so the slice ends by time, looked at every 64 KiB (a few tenths of a
 * millisecond at most).
 */
export const CRC_PIECE_BYTES = 64 * 1024;

/** {@link crc32Parts} in slices of `budget` (started here), `between()` awaited after each. */
async function crc32InSlices(
  parts: readonly Uint8Array[],
  budget: SliceBudget,
  between: () => Promise<void>,
): Promise<number> {
  let crc = 0;
  budget.start();
  for (const part of parts) {
    for (let at = 0; at < part.byteLength; at += CRC_PIECE_BYTES) {
      if (at > 0 && budget.spent()) {
        await between();
        budget.start();
      }
      crc = crc32(part.subarray(at, Math.min(part.byteLength, at + CRC_PIECE_BYTES)), crc);
    }
  }
  return crc;
}
