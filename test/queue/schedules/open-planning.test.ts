import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cron } from "croner";
import { openLog } from "../../../src/log/index.js";
import { QueueReader } from "../../../src/queue/reader.js";
import { encodeRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import { COMMON_PROBE_YEARS } from "../../../src/queue/schedules/timing.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { testOptions } from "../../log/helpers.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { clockAt, definition, open } from "./helpers.js";

const ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];

/**
 * A store holding `n` daily crons set a second apart: one expression per zone,
 * four pairs in all.
 */
async function storeWithSharedCrons(n: number): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions());
  await log.append(
    Array.from({ length: n }, (_, i) =>
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(
          `s${String(i).padStart(3, "0")}`,
          ZONES[i % 4]!,
          `${i % 4} 3 * * *`,
          // Out of name order: later names were set earlier.
          Date.parse("2026-01-01T00:00:00Z") + (n - i) * 1_000,
        ),
      }),
    ),
  );
  await log.close();
  return store;
}

/** A queue's listing right after its open over `store`, and the croner searches made meanwhile. */
function listedAtOpen(store: MemoryStore) {
  return cronSearchesDuring(async () => {
    const queue = await open(store, clockAt("2026-01-01T01:00:00Z"));
    try {
      return await queue.listSchedules();
    } finally {
      await queue.close();
    }
  });
}

describe("a queue's planning at open", () => {
  it("parses and checks each (cron, zone) pair once, however many schedules share it", async () => {
    const store = await storeWithSharedCrons(40);
    const { result, searches } = await listedAtOpen(store);
    assert.equal(result.length, 40);
    assert.ok(result.every((s) => s.error === undefined && s.nextRunAt !== null));
    const probes = searches.filter((pattern) => pattern.endsWith(` ${COMMON_PROBE_YEARS}`));
    assert.equal(probes.length, 4, "one probe per (cron, zone) pair");
    // Planned as each schedule's own parse plans it.
    for (const s of result) {
      const zone = s.timezone;
      const minute = Number(s.cron!.split(" ")[0]);
      const local = new Date(s.nextRunAt!).toLocaleString("en-GB", { timeZone: zone });
      assert.match(local, new RegExp(`^\\d+/\\d+/\\d+, 03:0${minute}:00$`), `${s.name} ${local}`);
    }
  });
});

/** The croner searches of `searches` that are schedules' own (not a parse's probes). */
function ownSearches(searches: readonly string[]): string[] {
  return searches.filter((pattern) => /^\d 3 \* \* \*$/.test(pattern));
}

describe("fire times of schedules sharing a cron", () => {
  it("a reader's open and listing search four times per (cron, zone) pair, however many schedules, when their last fires lie between the same two fire times", async () => {
    const store = await storeWithSharedCrons(80);
    const { result, searches } = await cronSearchesDuring(async () =>
      (await QueueReader.open(store, "q")).listSchedules(),
    );
    assert.equal(result.length, 80);
    assert.ok(result.every((s) => s.error === undefined && s.nextRunAt !== null));
    // A search, one from an earlier time finding the same run, one from two days before
    // that run (finding an earlier one), the run before it: four a pair.
    assert.equal(ownSearches(searches).length, 16, searches.join("\n"));
    for (const s of result) {
      const plain = new Cron(
        s.cron!,
        s.timezone === "UTC" ? { utcOffset: 0 } : { timezone: s.timezone },
      );
      assert.equal(s.nextRunAt, plain.nextRun(new Date(s.firedUpTo))!.getTime(), s.name);
    }
  });

  it("a queue's open plans them with four searches per pair", async () => {
    const store = await storeWithSharedCrons(80);
    const { result, searches } = await listedAtOpen(store);
    assert.equal(result.length, 80);
    assert.equal(ownSearches(searches).length, 16, searches.join("\n"));
  });
});

describe("schedule() in a known zone", () => {
  it("checks the zone with the queue's kept format: no new Intl format per call", async () => {
    const queue = await open(new MemoryStore(), clockAt("2026-01-01T01:00:00Z"));
    try {
      await queue.schedule("first", {
        cron: "0 3 * * *",
        timezone: "Europe/Paris",
        queue: "q",
        payload: new Uint8Array(1),
      });
      const Original = Intl.DateTimeFormat;
      let made = 0;
      const counting = function (this: unknown, ...args: ConstructorParameters<typeof Original>) {
        made++;
        return new Original(...args);
      } as unknown as typeof Intl.DateTimeFormat;
      Intl.DateTimeFormat = counting;
      try {
        for (let i = 0; i < 10; i++)
          await queue.schedule(`s${i}`, {
            cron: `${i} 3 * * *`,
            timezone: "Europe/Paris",
            queue: "q",
            payload: new Uint8Array(1),
          });
      } finally {
        Intl.DateTimeFormat = Original;
      }
      assert.equal(made, 0);
      assert.equal((await queue.listSchedules()).length, 11);
    } finally {
      await queue.close();
    }
  });
});
