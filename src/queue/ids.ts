import { decodeTime, incrementBase32, monotonicFactory, type ULIDFactory } from "ulid";
import { DecodeError } from "./decode-error.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Crockford base32 digit values by char code (-1 = not a digit). Built once, never written again. */
const DIGITS: readonly number[] = Array.from({ length: 128 }, (_, code) =>
  ALPHABET.indexOf(String.fromCharCode(code)),
);

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
  // 26 digits carry 3 + 25·5 = 128 bits.
  let acc = DIGITS[id.charCodeAt(0)]!;
  let bits = 3;
  let pos = offset;
  for (let i = 1; i < 26; i++) {
    acc = ((acc << 5) | DIGITS[id.charCodeAt(i)]!) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[pos++] = (acc >> bits) & 0xff;
    }
  }
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

/**
 * Strictly increasing ULIDs in call order, also across restarts: seeded with
 * the newest id the store ever issued, it never returns an id ≤ that one even
 * if the clock stands still or goes backwards.
 */
export class IdGenerator {
  readonly #factory: ULIDFactory = monotonicFactory();
  #last: string | null;

  constructor(lastId: string | null) {
    this.#last = lastId;
  }

  next(nowMs: number): string {
    const last = this.#last;
    let id: string;
    if (last === null || nowMs > decodeTime(last)) id = this.#factory(nowMs);
    else id = last.slice(0, 10) + incrementBase32(last.slice(10));
    if (last !== null && id <= last) id = last.slice(0, 10) + incrementBase32(last.slice(10));
    this.#last = id;
    return id;
  }
}
