import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../src/log/index.js";
import { QueueReader } from "../../src/queue/reader.js";
import { planningNoSchedules } from "../../src/queue/reader-hooks.js";
import { encodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { ScheduleInfo } from "../../src/queue/schedules/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { testOptions } from "../log/helpers.js";
import { turnsDuring } from "../turns.js";
import { cronSearchesDuring } from "./schedules/cron-spy.js";
import { definition } from "./schedules/helpers.js";

const ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];

/** The record setting schedule `name` (a daily cron in one of four zones). */
function set(name: string, i: number): Uint8Array {
  return encodeRecord({
    tag: Tag.ScheduleSet,
    schedule: definition(name, ZONES[i % 4]!, `${i % 60} 3 * * *`),
  });
}

const NAMES = Array.from({ length: 40 }, (_, i) => `s${String((i * 7) % 40).padStart(2, "0")}`);

type Hooks = Record<symbol, ((...args: unknown[]) => unknown) | undefined>;

/** The dashboard's listing: `reader`'s schedules, worked out and listed in slices. */
function listInSlices(reader: QueueReader): Promise<ScheduleInfo[]> {
  const hook = (reader as unknown as Hooks)[Symbol.for("taquba.listSchedulesInSlices")];
  assert.ok(hook !== undefined, "the reader has the hook");
  return hook.call(reader) as Promise<ScheduleInfo[]>;
}

/** Every budget check of `reader`'s slices finds the slice spent. */
function tinySlices(reader: QueueReader): QueueReader {
  (reader as unknown as Hooks)[Symbol.for("taquba.setSliceMs")]!.call(reader, 0);
  return reader;
}

async function storeWith(names: readonly string[]): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions());
  await log.append(names.map(set));
  await log.close();
  return store;
}

describe("a reader's listing in slices (the dashboard's)", { timeout: 30_000 }, () => {
  it("lists what listSchedules lists, working out fire times and building the list a slice per turn", async () => {
    const store = await storeWith(NAMES);
    const expected = (await QueueReader.open(store, "q")).listSchedules();
    assert.deepEqual(
      expected.map((s) => s.name),
      [...NAMES].sort(),
    );
    // Opened planning nothing (as the CLI's command opens it), then once it is all worked out.
    const reader = tinySlices(await QueueReader.open(store, "q", planningNoSchedules()));
    const first = await turnsDuring(() => cronSearchesDuring(() => listInSlices(reader)));
    assert.deepEqual(first.result.result, expected);
    assert.ok(first.result.searches.length > 0);
    assert.ok(first.turns >= NAMES.length, `${first.turns} turns for ${NAMES.length} schedules`);
    const again = await turnsDuring(() => cronSearchesDuring(() => listInSlices(reader)));
    assert.deepEqual(again.result.result, expected);
    assert.deepEqual(again.result.searches, []);
    assert.ok(again.turns >= NAMES.length, `${again.turns} turns for ${NAMES.length} schedules`);
  });

  it("lists the snapshot it was called on, even when a reopen takes the reader's state on meanwhile", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append(NAMES.map(set));
    const reader = tinySlices(await QueueReader.open(store, "q"));
    const expected = (await QueueReader.open(store, "q")).listSchedules();
    await log.append([set("zz", 1), encodeRecord({ tag: Tag.Unschedule, name: "s00" })]);
    await log.close();
    const listing = listInSlices(reader);
    const reopened = await reader.reopen();
    assert.deepEqual(await listing, expected);
    assert.deepEqual(
      (await listInSlices(reopened)).map((s) => s.name),
      [...NAMES.filter((name) => name !== "s00"), "zz"].sort(),
    );
  });
});
