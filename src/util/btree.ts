// Owns access to sorted-btree's B+ tree class, the same way in the ESM and the CommonJS build.
// sorted-btree is CommonJS with `exports.default`. Under Node's ESM interop the default import
// is the whole `module.exports` ({ default: BTree, ... }); compiled to CommonJS, TypeScript's
// interop already hands back `exports.default`. Unwrap once here so both builds agree.
import sortedBtree from "sorted-btree";
import type { bulkLoad } from "sorted-btree/extended/bulkLoad.js";

type Unwrapped<T> = T extends { default: infer D } ? D : T;

/** An ordered map (B+ tree) with a custom comparator. */
export type BTree<K, V> = ReturnType<typeof bulkLoad<K, V>>;

function unwrapDefault<T>(imported: T): Unwrapped<T> {
  const inner = (imported as { default?: unknown }).default;
  return (typeof inner === "function" ? inner : imported) as Unwrapped<T>;
}

/** An ordered map (B+ tree) with a custom comparator. */
export const BTree = unwrapDefault(sortedBtree);

/** Strings in the order JavaScript compares them (UTF-16 code units), for string-keyed trees. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
