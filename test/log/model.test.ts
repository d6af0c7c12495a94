import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Log, RecoveredLog } from "../../src/log/index.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { decodeNumbers, encodeNumbers } from "./fixtures/numbers.js";
import { testOptions } from "./helpers.js";

type Step =
  | { kind: "append"; count: number; wait: boolean }
  | { kind: "flush" }
  | { kind: "checkpoint" }
  | { kind: "gc" }
  | { kind: "fault"; mode: "before" | "after" }
  | { kind: "crash" }
  | { kind: "close" }
  | { kind: "zombieAppend" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      count: fc.integer({ min: 1, max: 4 }),
      wait: fc.boolean(),
    }),
  },
  fc.constant({ kind: "flush" as const }),
  fc.constant({ kind: "checkpoint" as const }),
  fc.constant({ kind: "gc" as const }),
  fc.record({
    kind: fc.constant("fault" as const),
    mode: fc.constantFrom("before" as const, "after" as const),
  }),
  fc.constant({ kind: "crash" as const }),
  fc.constant({ kind: "close" as const }),
  fc.constant({ kind: "zombieAppend" as const }),
);

interface Writer {
  log: Log;
  numbers: number[];
}

/**
 * Random interleavings of appends, checkpoints, GC, ambiguous and transient
 * faults, crashes, clean closes and zombie writes. After every reopen the
 * recovered numbers must be strictly increasing (no duplicates, in order),
 * hold every acknowledged number, and none a fenced zombie tried to add.
 */
describe("log model", { timeout: 180_000 }, () => {
  it("recovers exactly the acknowledged history under random operations", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const faults = new FaultStore(new MemoryStore());
        const options = testOptions({ checkpointWalBytes: 64, manifestHistory: 1 });
        let next = 1;
        const acked = new Set<number>();
        const zombieNumbers = new Set<number>();
        const pending: Promise<void>[] = [];
        let zombie: Log | null = null;

        const open = async (): Promise<Writer> => {
          const recovered: RecoveredLog = await openLog(faults, "m", options);
          const numbers = recovered.checkpoint ? decodeNumbers(recovered.checkpoint) : [];
          for (const record of recovered.records) numbers.push(...decodeNumbers(record));
          for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!);
          for (const n of acked) assert.ok(numbers.includes(n), `acknowledged ${n} lost`);
          for (const n of numbers) assert.ok(!zombieNumbers.has(n), `zombie's ${n} replayed`);
          recovered.log.setSnapshotSource(() => encodeNumbers(numbers));
          next = Math.max(next, (numbers.at(-1) ?? 0) + 1);
          return { log: recovered.log, numbers };
        };

        let writer = await open();
        for (const s of steps) {
          switch (s.kind) {
            case "append": {
              const batch = Array.from({ length: s.count }, () => next++);
              writer.numbers.push(...batch);
              const done = writer.log.append(batch.map((n) => encodeNumbers([n])));
              const tracked = done.then(() => {
                for (const n of batch) acked.add(n);
              });
              if (s.wait) await tracked;
              else pending.push(tracked);
              break;
            }
            case "flush":
              await writer.log.flush();
              break;
            case "checkpoint":
              await writer.log.checkpoint();
              break;
            case "gc":
              await writer.log.collectGarbage();
              break;
            case "fault":
              faults.addRule({ op: "put", keyPrefix: "m/wal/", mode: s.mode, times: 1 });
              break;
            case "crash":
              await Promise.all(pending.splice(0));
              zombie = writer.log;
              writer = await open();
              break;
            case "close":
              await Promise.all(pending.splice(0));
              await writer.log.close();
              writer = await open();
              break;
            case "zombieAppend":
              if (zombie !== null) {
                const n = next++;
                zombieNumbers.add(n);
                await assert.rejects(zombie.append(encodeNumbers([n])), { code: "FENCED" });
              }
              break;
          }
        }
        await Promise.all(pending.splice(0));
        faults.clearRules();
        await open();
      }),
      { numRuns: 200 },
    );
  });
});
