import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { openLog } from "../../../src/log/index.js";
import { apply } from "../../../src/queue/apply.js";
import { QueueReader } from "../../../src/queue/reader.js";
import { encodeRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import { decodeSnapshot, encodeSnapshot } from "../../../src/queue/snapshot.js";
import { State } from "../../../src/queue/state.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { testOptions } from "../../log/helpers.js";
import { definition } from "./helpers.js";

const ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];

/** The record setting schedule `name` (a daily cron in one of four zones). */
function set(name: string, i: number): Uint8Array {
  return encodeRecord({
    tag: Tag.ScheduleSet,
    schedule: definition(name, ZONES[i % 4]!, `${i % 60} 3 * * *`),
  });
}

/** Resolves once `reader`'s background planning is done (the dashboard's hook). */
async function schedulesPlanned(reader: QueueReader): Promise<void> {
  const hooks = reader as unknown as Record<symbol, (() => Promise<void>) | undefined>;
  const planned = hooks[Symbol.for("taquba.schedulesPlanned")];
  assert.ok(planned !== undefined, "the reader has the hook");
  await planned.call(reader);
}

/** `f`'s result, and how many times any array was sorted meanwhile. */
function sortsDuring<T>(f: () => T): { result: T; sorts: number } {
  const sort = Array.prototype.sort;
  let sorts = 0;
  Array.prototype.sort = function <U>(this: U[], compare?: (a: U, b: U) => number): U[] {
    sorts++;
    return sort.call(this, compare) as U[];
  };
  try {
    return { result: f(), sorts };
  } finally {
    Array.prototype.sort = sort;
  }
}

/** Names of `n` schedules set in an order that is not theirs by name. */
function shuffledNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `s${String((i * 7) % n).padStart(3, "0")}`);
}

describe("a reader's schedule order", { timeout: 30_000 }, () => {
  it("is worked out with the background planning: a listing after it sorts nothing", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append(shuffledNames(40).map(set));
    await log.close();
    const reader = await QueueReader.open(store, "q");
    await schedulesPlanned(reader);
    const { result, sorts } = sortsDuring(() => reader.listSchedules());
    assert.equal(sorts, 0);
    assert.deepEqual(
      result.map((s) => s.name),
      [...shuffledNames(40)].sort(),
    );
  });

  it("stays right as reopens add, remove and fire schedules, and lists as a fresh reader does", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append(shuffledNames(40).map(set));
    let reader = await QueueReader.open(store, "q");
    await schedulesPlanned(reader);
    reader.listSchedules();
    const steps: Uint8Array[][] = [
      // Fires (the schedule objects are replaced; the names stay).
      ["s003", "s017"].map((name) =>
        encodeRecord({
          tag: Tag.ScheduleFire,
          name,
          fireAt: Date.parse("2026-01-01T03:00:00Z"),
          job: undefined,
        }),
      ),
      // New names among the old ones, and at both ends.
      ["s0035", "a", "zz"].map(set),
      // Removals.
      ["s000", "s0035", "zz"].map((name) => encodeRecord({ tag: Tag.Unschedule, name })),
      // As many removed as added: the count stays the same.
      [encodeRecord({ tag: Tag.Unschedule, name: "s039" }), set("s0391", 3)],
    ];
    for (const records of steps) {
      await log.append(records);
      reader = await reader.reopen();
      // Listed before its planning (at once) and after it.
      const fresh = (await QueueReader.open(store, "q")).listSchedules();
      assert.deepEqual(
        fresh.map((s) => s.name),
        fresh.map((s) => s.name).sort(),
      );
      assert.deepEqual(reader.listSchedules(), fresh);
      await schedulesPlanned(reader);
      assert.deepEqual(reader.listSchedules(), fresh);
    }
    await log.close();
  });
});

describe("a state's schedule objects", () => {
  it("share one shape, whether set, fired or restored from a checkpoint", async () => {
    // A listing and the writer's timers read every schedule's fields: with an object shape
    // (hidden class) of its own each, every read of them is a megamorphic lookup.
    setFlagsFromString("--allow-natives-syntax");
    const sameShape = new Function("a", "b", "return %HaveSameMap(a, b)") as (
      a: object,
      b: object,
    ) => boolean;
    const state = new State();
    for (const [i, name] of shuffledNames(40).entries())
      apply(state, { tag: Tag.ScheduleSet, schedule: definition(name, ZONES[i % 4]!) });
    // A name set again takes its predecessor's fires into account.
    apply(state, { tag: Tag.ScheduleSet, schedule: definition("s002", "UTC") });
    apply(state, {
      tag: Tag.ScheduleFire,
      name: "s001",
      fireAt: Date.parse("2026-01-01T03:00:00Z"),
      job: undefined,
    });
    const restored = decodeSnapshot(encodeSnapshot(state));
    for (const s of [state, restored]) {
      const all = [...s.schedules.values()];
      assert.equal(all.length, 40);
      assert.deepEqual(
        all.filter((other) => !sameShape(all[0]!, other)).map((other) => other.name),
        [],
      );
    }
  });
});
