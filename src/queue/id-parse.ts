/**
 * The parse of a job id's 26 base32 digits into its 16 bytes, in
 * straight-line code (`ids.ts` checks and writes ids with it).
 */

/** The Crockford base32 digits, in value order (which is also char code order). */
export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Crockford base32 digit values by char code (-1 = not a digit). Frozen: no code can change a parse. */
export const DIGITS: readonly number[] = Object.freeze(
  Array.from({ length: 128 }, (_, code) => ALPHABET.indexOf(String.fromCharCode(code))),
);

/** {@link DIGITS} as bytes (-1 = not a digit), read with a char code's low 7 bits. */
const DIGIT_BYTES = Int8Array.from(DIGITS);

/**
 * Writes the 128-bit big-endian value of the 26 base32 digits of `id` at
 * `out[offset..offset+16)`; returns a negative number when a char is not a
 * digit (its code is 128 or more, or it is no digit of the alphabet), else
 * the first digit's value. Straight-line code, one table lookup per char and
 * no branch: an id is parsed for every record that names a job (10,000 in
 * one turn for a large flow, which may run before this is optimized).
 */
export function decodeDigits(id: string, out: Uint8Array, offset: number): number {
  const V = DIGIT_BYTES;
  let c = 0;
  let codes = 0;
  c = id.charCodeAt(0);
  codes |= c;
  const d0 = V[c & 0x7f]!;
  c = id.charCodeAt(1);
  codes |= c;
  const d1 = V[c & 0x7f]!;
  c = id.charCodeAt(2);
  codes |= c;
  const d2 = V[c & 0x7f]!;
  c = id.charCodeAt(3);
  codes |= c;
  const d3 = V[c & 0x7f]!;
  c = id.charCodeAt(4);
  codes |= c;
  const d4 = V[c & 0x7f]!;
  c = id.charCodeAt(5);
  codes |= c;
  const d5 = V[c & 0x7f]!;
  c = id.charCodeAt(6);
  codes |= c;
  const d6 = V[c & 0x7f]!;
  c = id.charCodeAt(7);
  codes |= c;
  const d7 = V[c & 0x7f]!;
  c = id.charCodeAt(8);
  codes |= c;
  const d8 = V[c & 0x7f]!;
  c = id.charCodeAt(9);
  codes |= c;
  const d9 = V[c & 0x7f]!;
  c = id.charCodeAt(10);
  codes |= c;
  const d10 = V[c & 0x7f]!;
  c = id.charCodeAt(11);
  codes |= c;
  const d11 = V[c & 0x7f]!;
  c = id.charCodeAt(12);
  codes |= c;
  const d12 = V[c & 0x7f]!;
  c = id.charCodeAt(13);
  codes |= c;
  const d13 = V[c & 0x7f]!;
  c = id.charCodeAt(14);
  codes |= c;
  const d14 = V[c & 0x7f]!;
  c = id.charCodeAt(15);
  codes |= c;
  const d15 = V[c & 0x7f]!;
  c = id.charCodeAt(16);
  codes |= c;
  const d16 = V[c & 0x7f]!;
  c = id.charCodeAt(17);
  codes |= c;
  const d17 = V[c & 0x7f]!;
  c = id.charCodeAt(18);
  codes |= c;
  const d18 = V[c & 0x7f]!;
  c = id.charCodeAt(19);
  codes |= c;
  const d19 = V[c & 0x7f]!;
  c = id.charCodeAt(20);
  codes |= c;
  const d20 = V[c & 0x7f]!;
  c = id.charCodeAt(21);
  codes |= c;
  const d21 = V[c & 0x7f]!;
  c = id.charCodeAt(22);
  codes |= c;
  const d22 = V[c & 0x7f]!;
  c = id.charCodeAt(23);
  codes |= c;
  const d23 = V[c & 0x7f]!;
  c = id.charCodeAt(24);
  codes |= c;
  const d24 = V[c & 0x7f]!;
  c = id.charCodeAt(25);
  codes |= c;
  const d25 = V[c & 0x7f]!;
  // Char 0 carries 3 bits, each other one 5: every 8 digits from char 2 on make 5 bytes.
  out[offset] = (d0 << 5) | d1;
  out[offset + 1] = (d2 << 3) | (d3 >> 2);
  out[offset + 2] = ((d3 & 3) << 6) | (d4 << 1) | (d5 >> 4);
  out[offset + 3] = ((d5 & 15) << 4) | (d6 >> 1);
  out[offset + 4] = ((d6 & 1) << 7) | (d7 << 2) | (d8 >> 3);
  out[offset + 5] = ((d8 & 7) << 5) | d9;
  out[offset + 6] = (d10 << 3) | (d11 >> 2);
  out[offset + 7] = ((d11 & 3) << 6) | (d12 << 1) | (d13 >> 4);
  out[offset + 8] = ((d13 & 15) << 4) | (d14 >> 1);
  out[offset + 9] = ((d14 & 1) << 7) | (d15 << 2) | (d16 >> 3);
  out[offset + 10] = ((d16 & 7) << 5) | d17;
  out[offset + 11] = (d18 << 3) | (d19 >> 2);
  out[offset + 12] = ((d19 & 3) << 6) | (d20 << 1) | (d21 >> 4);
  out[offset + 13] = ((d21 & 15) << 4) | (d22 >> 1);
  out[offset + 14] = ((d22 & 1) << 7) | (d23 << 2) | (d24 >> 3);
  out[offset + 15] = ((d24 & 7) << 5) | d25;
  const digits =
    d0 |
    d1 |
    d2 |
    d3 |
    d4 |
    d5 |
    d6 |
    d7 |
    d8 |
    d9 |
    d10 |
    d11 |
    d12 |
    d13 |
    d14 |
    d15 |
    d16 |
    d17 |
    d18 |
    d19 |
    d20 |
    d21 |
    d22 |
    d23 |
    d24 |
    d25;
  return digits < 0 || codes > 0x7f ? -1 : d0;
}
