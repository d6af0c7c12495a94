/**
 * The section of a queue snapshot that holds the tombstones of cancelled
 * jobs (`cancelled.ts`), written after the other small sections and before
 * the KV section, and like it written and read in slices
 * (`snapshot-sliced.ts`), since a queue may hold a million of them:
 *
 *     varint kind (36) | varint body length | body
 *     body: varint count | per tombstone, queue by queue, oldest first:
 *           varint length, the encoded tombstone
 *
 * A state without tombstones writes no such section.
 */
import type { CancelledView } from "./cancelled.js";
import { Section } from "./snapshot-sections.js";
import { SlicedSectionReader, SlicedSectionWriter } from "./snapshot-sliced.js";
import type { State } from "./state.js";

/** Writes the tombstones section of a frozen view into a snapshot buffer, in slices. */
export function cancelledSectionWriter(view: CancelledView): SlicedSectionWriter<string> {
  return new SlicedSectionWriter(Section.CancelledJobs, "tombstones", view, (w, entry) =>
    w.binaryString(entry),
  );
}

/** Loads a tombstones section's body (null: the snapshot has none) into `state`, in slices. */
export function cancelledSectionReader(body: Uint8Array | null, state: State): SlicedSectionReader {
  return new SlicedSectionReader("tombstones of cancelled jobs", body, (r) =>
    state.cancelled.restore(r, state.queueList.length),
  );
}
