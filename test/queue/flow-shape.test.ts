import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import type { JobExtras } from "../../src/queue/table.js";
import { enqueueRecord as job } from "./helpers.js";

/** What a flow child carries besides its parent, by kind. */
const KINDS: Record<string, (i: number) => Partial<EnqueueRecord>> = {
  headers: (i) => ({ headers: { n: String(i) } }),
  jobId: (i) => ({ jobId: `child-${i}` }),
  timeout: (i) => ({ timeoutMs: 1_000 + i }),
  dedup: (i) => ({ dedupKey: `d${i}` }),
  group: (i) => ({ groupKey: `g${i % 3}` }),
};

describe("a flow child's extras", () => {
  it("share one shape per kind, in a transaction and enqueued alone", () => {
    // A flow's removal and its children's ends read each child's extras: with an object
    // shape (hidden class) of its own each, every read of them is a megamorphic lookup.
    setFlagsFromString("--allow-natives-syntax");
    const sameShape = new Function("a", "b", "return %HaveSameMap(a, b)") as (
      a: object,
      b: object,
    ) => boolean;
    const ids = new IdGenerator(null, 1);
    for (const [kind, extra] of Object.entries(KINDS)) {
      const state = new State();
      const parent = ids.next(1_000);
      const inTx = Array.from({ length: 60 }, () => ids.next(1_000));
      apply(state, {
        tag: Tag.Transaction,
        ops: [
          job(parent, { waitsForChildren: true }),
          ...inTx.map((id, i) => job(id, { flowParent: parent, ...extra(i) })),
        ],
      });
      const alone = Array.from({ length: 20 }, () => ids.next(1_000));
      for (const [i, id] of alone.entries())
        apply(state, job(id, { flowParent: parent, ...extra(100 + i) }));
      for (const list of [inTx, alone]) {
        const all = list.map((id) => state.table.extras(state.find(id))!);
        assert.equal(all[0]!.flowParent, parent);
        const odd = all.filter((other: JobExtras) => !sameShape(all[0]!, other));
        assert.equal(odd.length, 0, `${kind}: ${odd.length} of ${all.length} with another shape`);
      }
    }
  });
});
