import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { ObjectExistsError, type ObjectStore } from "../../src/store/types.js";

// Keys from a small alphabet so that random operations collide, nest and share prefixes,
// with characters whose UTF-8 and UTF-16 orders differ ("\uff01" vs "😀").
const segment = fc
  .array(fc.constantFrom("a", "b", "-", "%", "é", "\uff01", "😀", "."), {
    minLength: 1,
    maxLength: 3,
  })
  .map((chars) => chars.join(""))
  .filter((s) => s !== "." && s !== "..");
const key = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"));
const prefix = fc.oneof(
  fc.constant(""),
  key,
  key.map((k) => `${k}/`),
  key.map((k) => k.slice(0, -1)),
);

type Op =
  | { kind: "put"; key: string; body: number; create: boolean }
  | { kind: "delete"; key: string }
  | { kind: "list"; prefix: string; startAfter?: string; limit: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("put" as const),
    key,
    body: fc.nat(50),
    create: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("delete" as const), key }),
  fc.record(
    {
      kind: fc.constant("list" as const),
      prefix,
      startAfter: fc.oneof(key, prefix),
      limit: fc.integer({ min: 1, max: 6 }),
    },
    { requiredKeys: ["kind", "prefix", "limit"] },
  ),
);

async function apply(store: ObjectStore, step: Op): Promise<unknown> {
  switch (step.kind) {
    case "put":
      try {
        await store.put(step.key, new Uint8Array(step.body).fill(7), {
          ...(step.create ? { ifNoneMatch: "*" as const } : {}),
        });
        return "ok";
      } catch (err) {
        if (err instanceof ObjectExistsError) return "exists";
        throw err;
      }
    case "delete":
      await store.delete(step.key);
      return "ok";
    case "list": {
      const page = await store.list(step.prefix, {
        limit: step.limit,
        ...(step.startAfter === undefined ? {} : { startAfter: step.startAfter }),
      });
      return {
        objects: page.objects.map((o) => [o.key, o.size]),
        nextStartAfter: page.nextStartAfter,
      };
    }
  }
}

describe("FileStore matches MemoryStore on random operation sequences", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-filestore-model-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("returns the same results for puts, creates, deletes and paginated lists", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (steps) => {
        const file = new FileStore(join(dir, String(run++)), { fsync: false });
        const model = new MemoryStore();
        for (const step of steps)
          assert.deepEqual(await apply(file, step), await apply(model, step), JSON.stringify(step));
        const all = await apply(file, { kind: "list", prefix: "", limit: 1000 });
        assert.deepEqual(all, await apply(model, { kind: "list", prefix: "", limit: 1000 }));
      }),
      { numRuns: 60 },
    );
  });
});
