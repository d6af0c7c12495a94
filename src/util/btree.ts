// sorted-btree is CommonJS with `exports.default`; under Node's ESM interop the
// default import is the whole `module.exports`, so unwrap it once here.
import sortedBtree from "sorted-btree";

/** An ordered map (B+ tree) with a custom comparator. */
export const BTree = sortedBtree.default;
export type BTree<K, V> = sortedBtree.default<K, V>;
