import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FireHeap } from "../../../src/queue/schedules/fire-heap.js";

type Op = { kind: "set"; name: string; at: number } | { kind: "delete"; name: string };

const name = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h");
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), name, at: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ kind: fc.constant("delete" as const), name }),
);

describe("schedules: fire heap", () => {
  it("peeks the earliest time (ties by name) after any sequence of sets and deletes", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const heap = new FireHeap();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === "set") {
            heap.set(o.name, o.at);
            model.set(o.name, o.at);
          } else {
            heap.delete(o.name);
            model.delete(o.name);
          }
          const expected = [...model].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))[0];
          assert.equal(heap.size, model.size);
          assert.deepEqual(
            heap.peek() === undefined ? undefined : [heap.peek()!.name, heap.peek()!.at],
            expected,
          );
          for (const [n, at] of model) assert.equal(heap.get(n), at);
        }
        // Draining by deleting the earliest gives every entry in order.
        const order: number[] = [];
        for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
          order.push(top.at);
          heap.delete(top.name);
        }
        assert.deepEqual(
          order,
          [...model.values()].sort((x, y) => x - y),
        );
      }),
      { numRuns: 300 },
    );
  });
});
