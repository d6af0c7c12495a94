/**
 * Job ids: the ULID generator (strictly increasing, even within a millisecond,
 * and never repeating within a store: each writer's ids carry its epoch) and
 * the 16-byte binary form ids take in records and checkpoints.
 */
import { decodeTime } from "ulid";
import { type RandomSource, systemRandom } from "../util/random.js";
import { latin1Slice } from "./buffer-codecs.js";
import { DecodeError } from "./decode-error.js";
import { ALPHABET, DIGITS, decodeDigits } from "./id-parse.js";

/** Byte length of an id in the binary formats. */
export const ID_BYTES = 16;

/** Is `id` a canonical 26-character ULID (uppercase Crockford base32, first digit ≤ 7)? */
export function isUlid(id: string): boolean {
  if (id.length !== 26) return false;
  for (let i = 0; i < 26; i++) {
    const code = id.charCodeAt(i);
    if (code >= 128 || DIGITS[code]! < 0) return false;
  }
  return DIGITS[id.charCodeAt(0)]! <= 7;
}

/** Write a canonical ULID as its 128-bit big-endian value. The caller guarantees `isUlid(id)`. */
export function writeIdBytes(id: string, out: Uint8Array, offset: number): void {
  decodeDigits(id, out, offset);
}

/**
 * {@link writeIdBytes} of `id` if it is a canonical ULID (checked in the same
 * pass, as {@link isUlid} does); false, with `out` partly written, if not.
 */
export function writeIdBytesIfUlid(id: string, out: Uint8Array, offset: number): boolean {
  if (id.length !== 26) return false;
  const first = decodeDigits(id, out, offset);
  return first >= 0 && first <= 7;
}

/** Char codes of the base32 digits. */
const ALPHABET_CODES: readonly number[] = Array.from(ALPHABET, (c) => c.charCodeAt(0));

/**
 * Write the 26 ASCII chars of the ULID stored as 16 bytes at `offset` into
 * `out` (from index 0). Lets decoders build the id string in one allocation.
 */
export function idCharsInto(bytes: Uint8Array, offset: number, out: Uint8Array): void {
  if (offset + ID_BYTES > bytes.length) throw new DecodeError("truncated id");
  const first = bytes[offset]!;
  out[0] = ALPHABET_CODES[first >> 5]!;
  let pos = 1;
  let acc = first & 0x1f;
  let bits = 5;
  for (let i = 1; i < ID_BYTES; i++) {
    acc = ((acc << 8) | bytes[offset + i]!) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[pos++] = ALPHABET_CODES[(acc >> bits) & 0x1f]!;
    }
  }
}

/** Read 16 bytes back into the canonical ULID string. */
export function readIdBytes(bytes: Uint8Array, offset: number): string {
  const chars = Buffer.allocUnsafe(26);
  idCharsInto(bytes, offset, chars);
  return chars.toString("latin1");
}

const TWO_POW_20 = 2 ** 20;
const TWO_POW_39 = 2 ** 39;
const TWO_POW_40 = 2 ** 40;
const MAX_TIME = 2 ** 48 - 1;

/** Write `value` (< 2^40) as 8 base32 digits at `out[at..]`. */
function put40(value: number, out: Uint8Array, at: number): void {
  const high = Math.floor(value / TWO_POW_20);
  const low = value % TWO_POW_20;
  for (let i = 3; i >= 0; i--) {
    out[at + i] = ALPHABET_CODES[(high >> ((3 - i) * 5)) & 0x1f]!;
    out[at + 4 + i] = ALPHABET_CODES[(low >> ((3 - i) * 5)) & 0x1f]!;
  }
}

/** Parse 8 base32 digits of a canonical ULID into a number < 2^40. */
function get40(id: string, at: number): number {
  let value = 0;
  for (let i = 0; i < 8; i++) value = value * 32 + DIGITS[id.charCodeAt(at + i)]!;
  return value;
}

/** Largest writer epoch an id can carry (the high 40 bits of its random part). */
export const MAX_ID_EPOCH = TWO_POW_40 - 1;

/**
 * Strictly increasing ULIDs in call order that never repeat within a store,
 * not even after a crash lost ids that were issued but never made durable.
 *
 * An id is 48 bits of time, then 80 bits this generator splits in two: the
 * high 40 bits are the writer's epoch (a number no other writer of the store
 * ever had), the low 40 bits a counter that starts at a random value in each
 * new millisecond and counts up within it. So a writer can only issue ids
 * carrying its own epoch: no later writer, whatever its clock says, can
 * re-issue an id an earlier one handed out, and because epochs grow, the
 * first id of a new writer in the same millisecond as the store's newest id
 * sorts after it. Seeded with the newest id the store holds, the generator
 * never returns an id ≤ that one, even if the clock stands still or goes back.
 * Each id is built in a scratch buffer so it is one flat string.
 *
 * A caller's `jobId` may be spelt like an id this generator has yet to issue
 * (the id after one an enqueue returned, in the same millisecond): such ids
 * are {@link reserve}d when their call is made and skipped when their turn
 * comes, so no generated id is ever a caller's. Skipping keeps ids
 * increasing (listings rely on generated ids growing in enqueue order).
 */
export class IdGenerator {
  readonly #chars = Buffer.alloc(26);
  readonly #epoch: number;
  #time = -1;
  /** The 80-bit random part as two 40-bit halves: the epoch of the id's writer, and the counter. */
  #high = 0;
  #low = 0;
  /** Random bytes for counter starts, drawn 64 starts at a time (one system call per 64 milliseconds). */
  #random: Buffer = Buffer.alloc(0);
  #randomOffset = 0;
  #issued = 0;
  /** The 8 base32 digits of this writer's epoch: an id's chars 10..17 when this generator could issue it. */
  readonly #epochCodes: readonly number[];
  /**
   * Caller ids this generator could still issue ({@link reserve}), ascending,
   * from {@link #reservedFrom} on (those before it were passed).
   */
  #reserved: string[] = [];
  #reservedFrom = 0;

  constructor(
    lastId: string | null,
    epoch: number,
    /** Where each millisecond's random counter start comes from. */
    readonly random: RandomSource = systemRandom,
  ) {
    if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_ID_EPOCH)
      throw new RangeError(
        `writer epoch ${epoch} does not fit in a job id (at most ${MAX_ID_EPOCH})`,
      );
    this.#epoch = epoch;
    const digits = Buffer.alloc(8);
    put40(epoch, digits, 0);
    this.#epochCodes = Array.from(digits);
    if (lastId === null) return;
    if (!isUlid(lastId)) throw new DecodeError(`not a ULID: ${JSON.stringify(lastId)}`);
    this.#setTime(decodeTime(lastId));
    this.#high = get40(lastId, 10);
    this.#low = get40(lastId, 18);
    // The scratch buffer holds the newest id whole: `reserve` compares with it.
    put40(this.#high, this.#chars, 10);
    put40(this.#low, this.#chars, 18);
  }

  #setTime(time: number): void {
    this.#time = time;
    let t = time;
    for (let i = 9; i >= 0; i--) {
      this.#chars[i] = ALPHABET_CODES[t % 32]!;
      t = Math.floor(t / 32);
    }
  }

  /** Start millisecond `time` with this writer's epoch and a random counter (leaving room to count up). */
  #start(time: number): void {
    this.#setTime(time);
    this.#high = this.#epoch;
    if (this.#randomOffset === this.#random.length) {
      this.#random = this.random.bytes(5 * 64);
      this.#randomOffset = 0;
    }
    this.#low = this.#random.readUIntBE(this.#randomOffset, 5) % TWO_POW_39;
    this.#randomOffset += 5;
  }

  /**
   * How many ids this generator issued so far: unchanged between two looks
   * means no id was issued in between (ids taken ahead of their commit are
   * then still the newest).
   */
  get issued(): number {
    return this.#issued;
  }

  /**
   * Never issue `id` (a caller's `jobId`, from its call on): a no-op unless
   * it is an id this generator could still issue in its current millisecond,
   * a canonical ULID carrying this writer's epoch and the time of the newest
   * id issued, sorting after it. Ids of later milliseconds are not kept: a
   * new millisecond's counter starts at a random value, so they cannot be
   * predicted, and keeping them would let callers grow the list without
   * bound. ULIDs made elsewhere, whose middle digits are random, and every
   * other id cost a look at a few chars and are not kept.
   */
  reserve(id: string): void {
    if (id.length !== 26) return;
    const codes = this.#epochCodes;
    for (let i = 0; i < 8; i++) if (id.charCodeAt(10 + i) !== codes[i]) return;
    if (this.#time < 0) return;
    for (let i = 0; i < 10; i++) if (id.charCodeAt(i) !== this.#chars[i]) return;
    if (!isUlid(id) || id <= latin1Slice(this.#chars, 0, 26)) return;
    const reserved = this.#reserved;
    // Binary search among those not passed yet; ids reserved in increasing order append.
    let lo = this.#reservedFrom;
    let hi = reserved.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (reserved[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    if (reserved[lo] === id) return;
    if (lo === reserved.length) reserved.push(id);
    else reserved.splice(lo, 0, id);
  }

  /** How many reserved ids are not passed yet (tests). */
  get reservedCount(): number {
    return this.#reserved.length - this.#reservedFrom;
  }

  next(nowMs: number): string {
    this.#issued++;
    this.#advance(Math.min(Math.max(0, Math.floor(nowMs)), MAX_TIME));
    const id = latin1Slice(this.#chars, 0, 26);
    return this.#reservedFrom === this.#reserved.length ? id : this.#unreserved(id);
  }

  /** `id`, just made, or if a caller reserved it the next id that no caller did; drops the reserved ids passed. */
  #unreserved(id: string): string {
    const reserved = this.#reserved;
    let from = this.#reservedFrom;
    for (;;) {
      while (from < reserved.length && reserved[from]! < id) from++;
      if (from === reserved.length || reserved[from] !== id) break;
      // Issued ids carry this writer's epoch from here on: count up (or move on a millisecond).
      from++;
      this.#advance(this.#time);
      id = latin1Slice(this.#chars, 0, 26);
    }
    if (from === reserved.length) {
      this.#reserved = [];
      this.#reservedFrom = 0;
    } else if (from > 1_024 && from * 2 > reserved.length) {
      this.#reserved = reserved.slice(from);
      this.#reservedFrom = 0;
    } else this.#reservedFrom = from;
    return id;
  }

  /** Moves the scratch buffer on to the next id at `now` (a clamped millisecond). */
  #advance(now: number): void {
    if (now > this.#time) this.#start(now);
    else if (this.#high === this.#epoch) {
      // Our own millisecond: count up; a full counter moves on to the next millisecond.
      if (++this.#low === TWO_POW_40) this.#start(this.#time + 1);
    } else if (this.#high < this.#epoch) {
      // The newest id is an earlier writer's, in this (or a later) millisecond: our epoch sorts after it.
      this.#start(this.#time);
    } else {
      // An id from before epochs were part of ids (random high bits): move past its millisecond.
      this.#start(this.#time + 1);
    }
    put40(this.#high, this.#chars, 10);
    put40(this.#low, this.#chars, 18);
  }
}
