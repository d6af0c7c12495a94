/**
 * Buffer's own per-encoding slicers. Undocumented but long-standing in Node;
 * calling them directly skips `Buffer#toString` argument handling, which
 * dominates when decoding millions of short strings at open.
 */
interface BufferSlicers {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Bytes `start..end` of `buf` as a latin1 string (one char per byte). */
export function latin1Slice(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as BufferSlicers).latin1Slice(start, end);
}

/** Bytes `start..end` of `buf` decoded as UTF-8. */
export function utf8Slice(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as BufferSlicers).utf8Slice(start, end);
}
