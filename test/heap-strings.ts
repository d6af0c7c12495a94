/**
 * Counting the strings of the heap that are not flat (a `+` of strings whose
 * result is 13 chars or longer is a tree of pieces, a `slice` of one a view
 * of its parent), from a heap snapshot: a string the state keeps for long
 * should be one object, not a tree the garbage collector copies and traces
 * piece by piece. The snapshot collects garbage first, so only strings still
 * reachable count.
 */
import { getHeapSnapshot } from "node:v8";

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
}

/** Concatenated and sliced strings reachable in the heap now. */
export async function unflatStrings(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  // Decoded whole: a chunk may end inside a character.
  const snapshot = JSON.parse(Buffer.concat(chunks).toString("utf8")) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const typeField = fields.indexOf("type");
  let count = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeField]!];
    if (type === "concatenated string" || type === "sliced string") count++;
  }
  return count;
}

/** Concatenated and sliced strings reachable in `make()`'s result (and nowhere before). */
export async function unflatStringsIn(make: () => unknown): Promise<number> {
  const before = await unflatStrings();
  const kept = make();
  const after = await unflatStrings();
  // Reachable until the second count is taken.
  if (kept === null) throw new Error("unreachable");
  return after - before;
}
