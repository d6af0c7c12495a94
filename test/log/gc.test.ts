import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { type Log, type LogOptions, openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { recordingLogger } from "../recording-logger.js";
import { turnCounter } from "../turns.js";
import { countingClock, keysUnder, rec, testOptions, texts } from "./helpers.js";

const BASE = 1_700_000_000_000;
const MIN_AGE_MS = 60_000;

function options(clock: ManualClock, more: LogOptions = {}): LogOptions {
  return testOptions({
    clock,
    flushIntervalMs: 0,
    gcMinAgeMs: MIN_AGE_MS,
    manifestHistory: 2,
    ...more,
  });
}

/** The writer of queue `q` on `clock`, checkpointing a fixed snapshot. */
async function openWriter(store: ObjectStore, clock: ManualClock, more?: LogOptions): Promise<Log> {
  const { log } = await openLog(store, "q", options(clock, more));
  log.setSnapshotSource(() => rec("snapshot"));
  return log;
}

/** `count` times: appends a record (`${label} ${i}`), checkpoints, and moves `clock` `stepMs` on. */
async function appendAndCheckpoint(
  log: Log,
  clock: ManualClock,
  count: number,
  stepMs: number,
  label: string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await log.append(rec(`${label} ${i}`));
    await log.checkpoint();
    clock.advance(stepMs);
  }
}

/** A writer on its own clock makes `count` checkpoints, `stepMs` apart, then closes. */
async function earlierWriter(
  store: ObjectStore,
  clock: ManualClock,
  count: number,
  stepMs = 1_000,
): Promise<void> {
  const log = await openWriter(store, clock);
  await appendAndCheckpoint(log, clock, count, stepMs, "earlier");
  await log.close();
}

describe("GC of an earlier writer's manifests", () => {
  it("goes on when the earlier writer's clock ran a day ahead", async () => {
    // Aged by their own (future) createdAt, they would stop every manifest deletion, and with
    // it the WAL aging by expired manifests, for a day: 23 manifests after 20 checkpoints.
    const store = new MemoryStore();
    await earlierWriter(store, new ManualClock(BASE + 86_400_000), 3);
    const clock = new ManualClock(BASE);
    const log = await openWriter(store, clock);
    await appendAndCheckpoint(log, clock, 20, 40_000, "later");
    const manifests = await keysUnder(store, "q/manifest/");
    const wal = await keysUnder(store, "q/wal/");
    await log.close();
    assert.ok(manifests.length <= 5, `manifests: ${manifests.length}`);
    assert.ok(wal.length <= 5, `wal: ${wal.length}`);
  });

  it("keeps them for the minimum age after the takeover when the earlier writer's clock ran behind", async () => {
    // The earlier writer's clock is 10 min behind: by its createdAt its manifests looked
    // 10 min old at once, so a reader that had just read one lost it (and the WAL above it).
    const store = new MemoryStore();
    await earlierWriter(store, new ManualClock(BASE - 600_000), 6);
    const earlierManifests = await keysUnder(store, "q/manifest/");
    const earlierWal = await keysUnder(store, "q/wal/");
    const clock = new ManualClock(BASE);
    const log = await openWriter(store, clock);
    await appendAndCheckpoint(log, clock, 4, 1_000, "later");
    const manifests = new Set(await keysUnder(store, "q/manifest/"));
    const wal = new Set(await keysUnder(store, "q/wal/"));
    assert.deepEqual(
      earlierManifests.filter((key) => !manifests.has(key)),
      [],
      "no manifest of the earlier writer went within the minimum age of the takeover",
    );
    assert.deepEqual(
      earlierWal.filter((key) => !wal.has(key)),
      [],
      "nor a WAL batch its manifests cover",
    );

    clock.advance(MIN_AGE_MS);
    await log.append(rec("after the minimum age"));
    await log.checkpoint();
    const after = new Set(await keysUnder(store, "q/manifest/"));
    await log.close();
    assert.deepEqual(
      earlierManifests.filter((key) => after.has(key)),
      [],
      "all of them went once the takeover was the minimum age old",
    );
  });

  it("keeps the earlier writer's checkpoints while its manifests are listed, whatever its clock said", async () => {
    // Named by a clock 10 min behind, its checkpoints looked 10 min old at once and went,
    // while the manifests referring to them stayed: a reader of one got a missing checkpoint.
    const store = new MemoryStore();
    await earlierWriter(store, new ManualClock(BASE - 600_000), 6);
    const earlierCheckpoints = await keysUnder(store, "q/checkpoint/");
    const clock = new ManualClock(BASE);
    const log = await openWriter(store, clock);
    await appendAndCheckpoint(log, clock, 4, 1_000, "later");
    const checkpoints = new Set(await keysUnder(store, "q/checkpoint/"));
    assert.equal(earlierCheckpoints.length, 6);
    assert.deepEqual(
      earlierCheckpoints.filter((key) => !checkpoints.has(key)),
      [],
      "no checkpoint of the earlier writer went while its manifests were listed",
    );

    // Once its manifests have gone, so do its checkpoints (the pass after, at the latest).
    clock.advance(MIN_AGE_MS);
    await appendAndCheckpoint(log, clock, 2, 1_000, "after the minimum age");
    const after = new Set(await keysUnder(store, "q/checkpoint/"));
    await log.close();
    assert.deepEqual(
      earlierCheckpoints.filter((key) => after.has(key)),
      [],
      "all of them went once no listed manifest referred to them",
    );
  });

  it("keeps them for the minimum age after the takeover when this writer's wall clock steps forward", async () => {
    // A time correction just after the claim made everything the earlier writer left look
    // 10 min older by the wall clock: its manifests, WAL and checkpoints went at once.
    const store = new MemoryStore();
    await earlierWriter(store, new ManualClock(BASE), 6);
    const earlier = await keysUnder(store, "q/");
    const clock = new ManualClock(BASE + 1_000);
    const log = await openWriter(store, clock);
    clock.stepWall(600_000);
    await appendAndCheckpoint(log, clock, 4, 1_000, "later");
    const kept = new Set(await keysUnder(store, "q/"));
    assert.deepEqual(
      earlier.filter((key) => !kept.has(key) && !key.includes("/probe/")),
      [],
      "nothing of the earlier writer went within the minimum age of the takeover",
    );

    clock.advance(MIN_AGE_MS);
    await appendAndCheckpoint(log, clock, 2, 1_000, "after the minimum age");
    const after = new Set(await keysUnder(store, "q/manifest/"));
    await log.close();
    assert.deepEqual(
      earlier.filter((key) => key.includes("/manifest/") && after.has(key)),
      [],
      "its manifests went once the takeover was the minimum age old",
    );
  });

  it("goes on deleting WAL when this writer's wall clock steps back soon after its claim", async () => {
    // Our manifests written before the wall clock regained the claim's time carry earlier
    // times than it: told from the claim manifest by `createdAt`, they were all aged as the
    // claim, which the step makes young for an hour, and the WAL they cover stayed (43
    // batches after 27 min).
    const store = new MemoryStore();
    await earlierWriter(store, new ManualClock(BASE), 3);
    const clock = new ManualClock(BASE + 1_000);
    const log = await openWriter(store, clock);
    clock.advance(1_000);
    clock.stepWall(-3_600_000);
    await appendAndCheckpoint(log, clock, 40, 40_000, "later");
    const wal = await keysUnder(store, "q/wal/");
    await log.close();
    assert.ok(wal.length <= 5, `wal: ${wal.length}`);
  });

  it("does not let checkpoints pile up under steady checkpointing", async () => {
    // A checkpoint goes once no listed manifest refers to it and its name is old enough:
    // about one minimum age of them stays, however long the writer runs.
    const store = new MemoryStore();
    const clock = new ManualClock(BASE);
    const log = await openWriter(store, clock);
    const stepMs = 2_000;
    let most = 0;
    for (let i = 0; i < 300; i++) {
      await log.append(rec(`steady ${i}`));
      await log.checkpoint();
      clock.advance(stepMs);
      most = Math.max(most, (await keysUnder(store, "q/checkpoint/")).length);
    }
    await log.close();
    const bound = MIN_AGE_MS / stepMs + 2 + 3; // minimum age, history, a pass or two of slack
    assert.ok(most <= bound, `at most ${most} checkpoints, expected <= ${bound}`);
  });

  it("deletes nothing when a newer writer took over while the pass read them", async () => {
    // The pass's clock is two hours ahead of the newer writer's, so the newer writer's fresh
    // checkpoint looks old to it: a pass that proved itself the newest only before its
    // manifest reads deleted that checkpoint.
    const inner = new MemoryStore();
    let duringRead: (() => Promise<void>) | null = null;
    const store: ObjectStore = {
      get: async (key) => {
        const hook = key.includes("/manifest/") ? duringRead : null;
        if (hook !== null) {
          duringRead = null;
          await hook();
        }
        return inner.get(key);
      },
      put: (key, body, putOptions) => inner.put(key, body, putOptions),
      delete: (key) => inner.delete(key),
      list: (prefix, listOptions) => inner.list(prefix, listOptions),
      describe: () => "hooked",
    };
    const history = { manifestHistory: 1 };
    await earlierWriter(store, new ManualClock(BASE), 4);
    const ahead = await openLog(store, "q", options(new ManualClock(BASE + 7_200_000), history));
    let newer: Awaited<ReturnType<typeof openLog>> | null = null;
    duringRead = async () => {
      newer = await openLog(store, "q", options(new ManualClock(BASE + 1_000), history));
      newer.log.setSnapshotSource(() => rec("newer"));
      await newer.log.append(rec("b"));
      await newer.log.checkpoint();
    };
    await ahead.log.collectGarbage().catch(() => {}); // fenced by the newer writer, or not
    assert.ok(newer !== null, "the newer writer took over during the pass");
    const kept = await keysUnder(inner, "q/checkpoint/");
    const reopened = await openLog(inner, "q", options(new ManualClock(BASE + 2_000), history));
    assert.equal(texts([reopened.checkpoint!])[0], "newer", `checkpoints ${kept.join(", ")}`);
    await reopened.log.close();
    await ahead.log.close().catch(() => {});
  });

  it("reports a damaged one it skips, once", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(BASE);
    await earlierWriter(store, clock, 6);
    const damaged = (await keysUnder(store, "q/manifest/"))[2]!;
    const object = await store.get(damaged);
    assert.ok(object !== null);
    const body = Uint8Array.from(object.body);
    body[12]! ^= 1;
    await store.put(damaged, body);

    const logger = recordingLogger();
    // A long history keeps it among the retained manifests, read by every pass.
    const log = await openWriter(store, clock, { logger, manifestHistory: 20 });
    for (let i = 0; i < 3; i++) {
      await log.append(rec(`later ${i}`));
      await log.checkpoint();
      await log.collectGarbage();
      clock.advance(1_000);
    }
    await log.close();
    const warnings = logger.at("warn");
    const reports = warnings.filter((w) => w.fields?.manifest === damaged);
    assert.equal(reports.length, 1, JSON.stringify(warnings));
    assert.match(reports[0]!.message, /damaged manifest/);
  });
});

describe("a GC pass over a store that answers without I/O", { timeout: 60_000 }, () => {
  it("gives the event loop turns while it lists and deletes a long WAL", async () => {
    const inner = new MemoryStore();
    let walDeletes = 0;
    let turnAfter: number | null = null;
    const store: ObjectStore = {
      get: (key) => inner.get(key),
      put: (key, body, putOptions) => inner.put(key, body, putOptions),
      list: (prefix, listOptions) => inner.list(prefix, listOptions),
      describe: () => inner.describe(),
      delete: async (key) => {
        if (key.startsWith("q/wal/") && walDeletes++ === 0)
          setImmediate(() => {
            turnAfter = walDeletes;
          });
        await inner.delete(key);
      },
    };
    // Each reading of the slice clock is a millisecond: a slice is a few requests, whatever
    // the machine's speed.
    const sliceNow = countingClock();
    const { log } = await openLog(
      store,
      "q",
      testOptions({ gcMinAgeMs: 0, checkpointWalBatches: 1_000_000 }),
      { sliceNow },
    );
    log.setSnapshotSource(() => rec("snapshot"));
    const batches = 2_000;
    for (let i = 0; i < batches; i++) {
      const written = log.append(rec(`r${i}`));
      await log.flush();
      await written;
    }
    await log.checkpoint();
    assert.equal(walDeletes, batches, "the pass deletes every batch the checkpoint covers");
    assert.ok(
      turnAfter !== null && turnAfter < batches,
      `the event loop had no turn until ${turnAfter} of ${batches} deletes were made`,
    );
    await log.close();
  });
  it("deletes on, an object per slice at least, on a slice clock that has spent each slice by its next reading", async () => {
    // Its delete lanes asked the budget again after each turn before deleting anything: on a
    // clock past the slice at every reading they only ever yielded. Here the clock stops
    // moving after a while, so a pass that makes no progress ends rather than spins.
    let readings = 0;
    const sliceNow = (): number => (++readings <= 50_000 ? readings * 10 : 500_000);
    const store = new MemoryStore();
    const { log } = await openLog(
      store,
      "q",
      testOptions({ gcMinAgeMs: 0, checkpointWalBatches: 1_000_000 }),
      { sliceNow },
    );
    log.setSnapshotSource(() => rec("snapshot"));
    for (let i = 0; i < 40; i++) {
      const written = log.append(rec(`r${i}`));
      await log.flush();
      await written;
    }
    readings = 0;
    await log.checkpoint();
    assert.deepEqual(await keysUnder(store, "q/wal/"), [], "the pass deleted the WAL it covers");
    assert.ok(readings < 2_000, `the slice clock was read ${readings} times for 40 deletes`);
    await log.close();
  });
  it("lets one delete past a spent slice per turn, not one per delete lane", async () => {
    // After the shared turn every lane deleted before asking the budget again: a turn whose
    // slice was spent by its first delete still ran one delete per lane (8), which on a store
    // with blocking deletes is 8 times the slice.
    const counter = turnCounter();
    const deletesPerTurn = new Map<number, number>();
    class CountingStore extends MemoryStore {
      override async delete(key: string): Promise<void> {
        if (key.includes("/wal/"))
          deletesPerTurn.set(counter.turns, (deletesPerTurn.get(counter.turns) ?? 0) + 1);
        return super.delete(key);
      }
    }
    let spent = false;
    let readings = 0;
    // Within the first slice the clock stands still; once the pass runs, each reading spends it.
    const sliceNow = (): number => (spent ? ++readings * 10 : 0);
    const store = new CountingStore();
    const { log } = await openLog(
      store,
      "q",
      testOptions({ gcMinAgeMs: 0, checkpointWalBatches: 1_000_000 }),
      { sliceNow },
    );
    log.setSnapshotSource(() => rec("snapshot"));
    for (let i = 0; i < 40; i++) {
      const written = log.append(rec(`r${i}`));
      await log.flush();
      await written;
    }
    spent = true;
    await log.checkpoint();
    counter.stop();
    assert.deepEqual(await keysUnder(store, "q/wal/"), [], "the pass deleted the WAL it covers");
    const most = Math.max(...deletesPerTurn.values());
    assert.ok(most <= 1, `a turn ran ${most} WAL deletes on a clock past the slice`);
    await log.close();
  });
  it("keeps every record, and close resolves, when appends and close() go on during a pass", async () => {
    const store = new MemoryStore();
    const sliceNow = countingClock(); // a slice ends at every check: the most turns
    const { log } = await openLog(
      store,
      "q",
      testOptions({ gcMinAgeMs: 0, checkpointWalBatches: 1_000_000 }),
      { sliceNow },
    );
    const all: string[] = [];
    log.setSnapshotSource(() => rec(all.join(",")));
    for (let i = 0; i < 3000; i++) {
      const written = log.append(rec(`r${i}`));
      all.push(`r${i}`);
      await log.flush();
      await written;
    }
    const checkpoint = log.checkpoint(); // its GC pass deletes the 3,000 batches, in slices
    const more: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setImmediate(r));
      more.push(log.append(rec(`m${i}`)));
      all.push(`m${i}`);
    }
    await Promise.all(more);
    const closing = log.close();
    await checkpoint;
    await closing;
    const reopened = await openLog(store, "q", testOptions());
    const snapshot =
      reopened.checkpoint === null ? [] : new TextDecoder().decode(reopened.checkpoint).split(",");
    assert.deepEqual([...snapshot, ...texts(reopened.records)], all);
    await reopened.log.close();
  });
});
