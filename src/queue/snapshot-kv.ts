/**
 * The KV section of a queue snapshot: the user KV namespace, written last and,
 * like the tombstones of cancelled jobs, written and read in slices
 * (`snapshot-sliced.ts`), since it can hold millions of entries.
 *
 *     varint kind (21) | varint body length | body
 *     body: varint entry count | per entry, in key order:
 *           varint key bytes, key (UTF-8) | varint value bytes, value
 *
 * A state without KV entries writes no KV section.
 */
import { DecodeError } from "./binary.js";
import type { KvMap, KvView } from "./kv-map.js";
import { Section } from "./snapshot-sections.js";
import { ENTRIES_PER_CHECK, SlicedSectionReader, SlicedSectionWriter } from "./snapshot-sliced.js";

/** Entries handled between two budget checks at most. */
export const KV_ENTRIES_PER_CHECK = ENTRIES_PER_CHECK;

/** Writes the KV section of a frozen view into a snapshot buffer, in slices. */
export function kvSectionWriter(view: KvView): SlicedSectionWriter<[string, Uint8Array]> {
  return new SlicedSectionWriter(Section.Kv, "KV", view, (w, [key, value]) => {
    w.string(key);
    w.bytes(value);
  });
}

/** Loads a KV section's body (null: the snapshot has none) into `kv`, in slices. */
export function kvSectionReader(body: Uint8Array | null, kv: KvMap): SlicedSectionReader {
  return new SlicedSectionReader("KV entries", body, (r) => {
    const key = r.string();
    const value = r.bytes();
    if (key.length === 0) throw new DecodeError("snapshot KV section holds an empty key");
    if (!kv.append(key, value))
      throw new DecodeError(
        `snapshot KV section is out of key order at ${JSON.stringify(key.slice(0, 40))}`,
      );
  });
}
