/**
 * Bytes of the JavaScript heap (the objects the garbage collector copies and
 * traces) that `make()`'s result keeps, from two heap snapshots: the sum of
 * the objects' own sizes, without the memory outside the heap that array
 * buffers own (bytes the collector never moves). A snapshot collects garbage
 * first, so only what is still reachable counts.
 */
import { getHeapSnapshot } from "node:v8";

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
}

async function heapBytes(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snapshot = JSON.parse(Buffer.concat(chunks).toString("utf8")) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const typeField = fields.indexOf("type");
  const sizeField = fields.indexOf("self_size");
  let bytes = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeField]!];
    if (type !== "native" && type !== "synthetic") bytes += snapshot.nodes[i + sizeField]!;
  }
  return bytes;
}

/** JavaScript heap bytes reachable from `make()`'s result (and nowhere before). */
export async function heapBytesIn(make: () => unknown): Promise<number> {
  const before = await heapBytes();
  const kept = make();
  const after = await heapBytes();
  // Reachable until the second count is taken.
  if (kept === null) throw new Error("unreachable");
  return after - before;
}
