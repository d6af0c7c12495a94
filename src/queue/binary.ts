/**
 * Minimal growable byte writer and bounds-checked reader for the queue's
 * record and checkpoint formats: unsigned LEB128 varints (safe integers only:
 * the writer refuses any other number rather than store a different one),
 * length-prefixed UTF-8 strings and raw byte strings.
 */

import { latin1Slice, utf8Slice } from "./buffer-codecs.js";
import { DecodeError } from "./decode-error.js";
import { ID_BYTES, idCharsInto, writeIdBytes } from "./ids.js";

export { DecodeError };

/**
 * A value a record or checkpoint cannot store as it is (a negative, fractional
 * or too large number). A bug or an unchecked input, never a storage problem:
 * nothing was applied or written.
 */
export class EncodeError extends Error {
  override name = "EncodeError";
}

const TWO_POW_32 = 2 ** 32;

/** Bytes of `n` as an unsigned varint, as {@link ByteWriter.varint} writes it. */
export function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Bytes of a length-prefixed run of `n` bytes: its varint length, then the bytes. */
export function prefixedBytes(n: number): number {
  return varintBytes(n) + n;
}

export class ByteWriter {
  #buf: Buffer;
  #pos = 0;
  /** Where the bytes not yet taken start (see {@link take}); 0 for a one-shot writer. */
  #start = 0;
  readonly #initialSize: number;

  constructor(initialSize = 256) {
    this.#initialSize = initialSize;
    this.#buf = Buffer.allocUnsafe(initialSize);
  }

  #ensure(extra: number): void {
    const need = this.#pos + extra;
    if (need <= this.#buf.length) return;
    // Only the bytes not yet taken move: views handed out by `take` keep the old buffer.
    const used = this.#pos - this.#start;
    let size = this.#start === 0 ? this.#buf.length * 2 : this.#initialSize;
    while (size < used + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, this.#start, this.#pos);
    this.#buf = next;
    this.#pos = used;
    this.#start = 0;
  }

  /** One byte; throws unless `value` is an integer in [0, 255]. */
  u8(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xff)
      throw new EncodeError(`cannot store ${value} in one byte: expected an integer from 0 to 255`);
    this.#ensure(1);
    this.#buf[this.#pos++] = value;
  }

  /**
   * Unsigned varint. Throws unless `value` is a safe integer ≥ 0: a fraction,
   * a negative number, NaN or anything past 2^53 − 1 would be stored as some
   * other number, so it is refused instead.
   */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new EncodeError(
        `cannot store ${value} as an unsigned varint: expected an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
      );
    this.#ensure(8);
    let v = value;
    // Bit operations truncate to 32 bits, so peel the high part off arithmetically.
    while (v >= 0x80) {
      const low = v % 0x80;
      this.#buf[this.#pos++] = low | 0x80;
      v = v >= TWO_POW_32 ? Math.floor(v / 0x80) : v >>> 7;
    }
    this.#buf[this.#pos++] = v;
  }

  /** Length-prefixed UTF-8. */
  string(value: string): void {
    // Short ASCII strings (queue names, header names, a `traceparent`) are copied
    // here: cheaper than the two native calls below.
    const n = value.length;
    if (n < 0x80) {
      this.#ensure(n + 1);
      const buf = this.#buf;
      const at = this.#pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        buf[at - 1] = n;
        this.#pos = at + n;
        return;
      }
    }
    const max = Buffer.byteLength(value, "utf8");
    this.varint(max);
    this.#ensure(max);
    this.#pos += this.#buf.write(value, this.#pos, max, "utf8");
  }

  /** Length-prefixed raw bytes held as a latin1 ("binary") string: one char per byte. */
  binaryString(value: string): void {
    this.varint(value.length);
    this.#ensure(value.length);
    this.#pos += this.#buf.write(value, this.#pos, value.length, "latin1");
  }

  /** Raw bytes held as a latin1 ("binary") string, one char per byte, with no length prefix. */
  latin1(value: string): void {
    this.#ensure(value.length);
    this.#pos += this.#buf.write(value, this.#pos, value.length, "latin1");
  }

  /** Length-prefixed raw bytes. */
  bytes(value: Uint8Array): void {
    this.varint(value.byteLength);
    this.#ensure(value.byteLength);
    // One native copy: a byte loop over these fields is several times slower, even at 64 bytes.
    this.#buf.set(value, this.#pos);
    this.#pos += value.byteLength;
  }

  /**
   * Makes room for `n` bytes, which the caller then fills in at the returned
   * offset of {@link buffer} (read it after this call: it may have grown).
   */
  reserve(n: number): number {
    this.#ensure(n);
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  /** Bytes written since the last {@link take} (all of them for a one-shot writer). */
  get length(): number {
    return this.#pos - this.#start;
  }

  /** The buffer written into (see {@link reserve}). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** `length` bytes of `source` from `from`, as they are (no length prefix). */
  fixed(source: Uint8Array, from: number, length: number): void {
    this.#ensure(length);
    const buf = this.#buf;
    const at = this.#pos;
    for (let i = 0; i < length; i++) buf[at + i] = source[from + i]!;
    this.#pos = at + length;
  }

  /** A canonical ULID as 16 bytes. */
  id(id: string): void {
    this.#ensure(ID_BYTES);
    writeIdBytes(id, this.#buf, this.#pos);
    this.#pos += ID_BYTES;
  }

  /**
   * The bytes written since the last `take` (a view), leaving the writer to
   * write the next ones after them: many small encodings share one buffer,
   * whose bytes once taken are never written again. A buffer grown past the
   * initial size for a big encoding is let go, not kept for the next ones.
   */
  take(): Uint8Array {
    const view = new Uint8Array(
      this.#buf.buffer,
      this.#buf.byteOffset + this.#start,
      this.#pos - this.#start,
    );
    if (this.#buf.length > this.#initialSize) {
      this.#buf = Buffer.allocUnsafe(this.#initialSize);
      this.#pos = 0;
    }
    this.#start = this.#pos;
    return view;
  }

  /** Drops the bytes written since the last `take` (an encoding that failed halfway). */
  discard(): void {
    this.#pos = this.#start;
  }

  /** The bytes written so far (a view; the writer must not be used afterwards). */
  finish(): Uint8Array {
    // A plain view: Buffer#subarray costs several times more, on every record encoded.
    return new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#pos);
  }
}

/** Strings longer than this are not kept by {@link ByteReader.repeatedString}. */
const REPEATED_MAX_BYTES = 256;

export class ByteReader {
  #buf: Buffer;
  #pos: number;
  /** Where the bytes being read end (exclusive). */
  #end: number;
  /** Scratch space for id strings (made on first use), so each id costs one string allocation. */
  #idChars: Buffer | null = null;
  /** The last {@link repeatedString} and its bytes (a copy). */
  #lastBytes: Uint8Array = new Uint8Array(0);
  #lastString: string | null = null;

  /** Reads `bytes[offset..end)`. */
  constructor(bytes: Uint8Array, offset = 0, end = bytes.byteLength) {
    this.#buf = asBuffer(bytes);
    this.#pos = offset;
    this.#end = end;
  }

  /** Reads `bytes[offset..end)` from now on (one reader for many records, no object per record). */
  reset(bytes: Buffer, offset: number, end: number): void {
    this.#buf = bytes;
    this.#pos = offset;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  /** The bytes being read (what {@link position} counts in). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** Offset of the next byte to read. */
  get position(): number {
    return this.#pos;
  }

  /** Skips `n` bytes (which must be there). */
  skip(n: number): void {
    this.#need(n);
    this.#pos += n;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#end)
      throw new DecodeError(`truncated: need ${n} bytes at offset ${this.#pos}`);
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  /** An unsigned varint; one past 2^53 − 1 was never written by this format, so it is damage. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER)
          throw new DecodeError(`varint past 2^53 − 1 at offset ${this.#pos}`);
        return result;
      }
      scale *= 0x80;
    }
    throw new DecodeError(`varint too long at offset ${this.#pos}`);
  }

  string(): string {
    const len = this.varint();
    this.#need(len);
    const value = utf8Slice(this.#buf, this.#pos, this.#pos + len);
    this.#pos += len;
    return value;
  }

  /**
   * A string that tends to repeat from one read to the next (a queue name in
   * a run of records): when its bytes equal the last one read this way, that
   * same string is returned (no decoding, no new string, and maps keyed by it
   * find its hash already computed).
   */
  repeatedString(): string {
    const len = this.varint();
    this.#need(len);
    const last = this.#lastBytes;
    const buf = this.#buf;
    const at = this.#pos;
    this.#pos += len;
    if (last.length === len && this.#lastString !== null) {
      let same = true;
      for (let i = 0; i < len; i++)
        if (last[i] !== buf[at + i]) {
          same = false;
          break;
        }
      if (same) return this.#lastString;
    }
    const value = utf8Slice(buf, at, at + len);
    if (len <= REPEATED_MAX_BYTES) {
      this.#lastBytes = new Uint8Array(buf.subarray(at, at + len));
      this.#lastString = value;
    }
    return value;
  }

  binaryString(): string {
    const len = this.varint();
    this.#need(len);
    const value = latin1Slice(this.#buf, this.#pos, this.#pos + len);
    this.#pos += len;
    return value;
  }

  /** The next `length` bytes, as a view (not a copy). */
  raw(length: number): Uint8Array {
    this.#need(length);
    const value = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return value;
  }

  /** Length-prefixed raw bytes, as a view into the bytes being read (not a copy). */
  bytes(): Uint8Array {
    const len = this.varint();
    this.#need(len);
    const value = this.#buf.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    return value;
  }

  /** A 16-byte ULID as its 26-char string. */
  id(): string {
    this.#need(ID_BYTES);
    this.#idChars ??= Buffer.allocUnsafe(26);
    idCharsInto(this.#buf, this.#pos, this.#idChars);
    this.#pos += ID_BYTES;
    return latin1Slice(this.#idChars, 0, 26);
  }
}

/** `bytes` as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
