/**
 * The job table's pages from a version-2 snapshot's columns: a full page
 * whose columns are aligned becomes typed-array views of the snapshot's own
 * bytes (no copy); any other page is a fresh copy of its rows.
 */
import { COLUMN_WIDTH, LITTLE_ENDIAN, Region, swapBytes } from "./snapshot-layout.js";
import { ID_BYTES, PAGE_SLOTS, Page } from "./table.js";

/** A full page whose columns are views of the snapshot's bytes, or null when they are not aligned. */
export function viewPage(
  snapshot: Uint8Array,
  offsets: readonly number[],
  from: number,
): Page | null {
  if (!LITTLE_ENDIAN) return null;
  const buffer = snapshot.buffer;
  const at = (region: number, width: number) =>
    snapshot.byteOffset + offsets[region]! + from * width;
  for (let c = Region.Queue; c <= Region.PayloadLength; c++)
    if (at(c, COLUMN_WIDTH[c]!) % COLUMN_WIDTH[c]! !== 0) return null;
  const n = PAGE_SLOTS;
  return new Page(
    new Uint8Array(buffer, at(Region.Status, 1), n),
    new Uint8Array(buffer, at(Region.Flags, 1), n),
    new Uint32Array(buffer, at(Region.Queue, 4), n),
    new Uint32Array(buffer, at(Region.Attempts, 4), n),
    new Uint32Array(buffer, at(Region.MaxAttempts, 4), n),
    new Uint32Array(buffer, at(Region.Priority, 4), n),
    new Float64Array(buffer, at(Region.EnqueuedAt, 8), n),
    new Float64Array(buffer, at(Region.At, 8), n),
    new Float64Array(buffer, at(Region.Seq, 8), n),
    new Uint32Array(buffer, at(Region.PayloadLength, 4), n),
    new Uint32Array(n),
    new Uint32Array(n),
    new Uint8Array(buffer, at(Region.Id, ID_BYTES), n * ID_BYTES),
    null,
  );
}

/** A fresh page holding copies of rows `from .. from+rows` (the rest free). */
export function copyPage(region: (column: number) => Uint8Array, from: number, rows: number): Page {
  const page = Page.empty();
  const columns = [
    page.id,
    page.status,
    page.flags,
    page.queue,
    page.attempts,
    page.maxAttempts,
    page.priority,
    page.enqueuedAt,
    page.at,
    page.seq,
    page.payloadLength,
  ];
  for (let c = 0; c < columns.length; c++) {
    const width = COLUMN_WIDTH[c]!;
    const source = region(c).subarray(from * width, (from + rows) * width);
    const target = columns[c]!;
    const bytes = new Uint8Array(target.buffer, target.byteOffset, rows * width);
    bytes.set(source);
    if (!LITTLE_ENDIAN && c !== Region.Id) swapBytes(bytes, width);
  }
  return page;
}
