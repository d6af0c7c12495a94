import assert from "node:assert/strict";
import { it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { listAll } from "../../src/store/types.js";
import { seededRandom } from "../../src/util/random.js";
import { ListHookStore, readerView } from "./reader-helpers.js";

const described = (r: QueueReader) => ({
  ...r.inspection,
  checkpoint: r.inspection.checkpoint && { ...r.inspection.checkpoint, ageMs: 0 },
});

/** Seeds and reopens per seed (`TAQUBA_REOPEN_SEEDS` runs more, e.g. 100, for a longer search). */
const SEEDS = Number(process.env.TAQUBA_REOPEN_SEEDS ?? 8);
const STEPS = 40;

/**
 * Chains of reopens against fresh opens, with the writer enqueueing, settling and writing KV entries,
 * checkpointing and collecting (GC at once or after a minute), restarting cleanly, crashing, and a new
 * writer salvaging a damaged WAL batch; a third of the reopens have writer work or a takeover happen
 * inside them (a store hook before the WAL or checkpoint listing). Each reopen answers as a fresh open at
 * the same moment (a raced one as one before or after the race, or as it was: the next reopen catches
 * up), every older reader keeps answering as it did, and two concurrent reopens of an older reader
 * answer as a fresh open.
 */
it("chains of reopens answer as fresh opens, older readers as they did", {
  timeout: 600_000,
}, async () => {
  const failures: string[] = [];
  const stale: string[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = seededRandom(seed);
    const pick = (n: number) => Math.floor(r() * n);
    const store = new ListHookStore();
    // The writers' clock moves only where the test says: on the real clock, a nack's backoff
    // could end between a reopen and the fresh open it is compared with, and the writer's
    // promotion in between made them differ (on a busy machine, a few times a run).
    const clock = new ManualClock();
    const openWriter = (skip = false) =>
      Queue.open(store, "q", {
        clock,
        logger: silentLogger,
        defaultQueueConfig: { keepDoneJobsMs: 3_600_000, maxAttempts: 2 },
        log: {
          checkpointWalBatches: 2 + pick(6),
          gcMinAgeMs: pick(2) ? 0 : 60_000,
          ...(skip ? { recoverCorruption: "skip" as const } : {}),
        },
      });
    let w: Queue = await openWriter();
    const zombies: Queue[] = [];
    let n = 0;
    let hookWhat = "";
    const work = async (): Promise<void> => {
      const k = pick(6);
      const q = ["a", "b"][pick(2)]!;
      if (k <= 1) await w.enqueue(q, `job ${n++}`);
      else if (k === 2) {
        const c = await w.claim(q);
        if (c) await w.ack(c);
      } else if (k === 3) {
        const c = await w.claim(q);
        if (c) await (pick(2) ? w.nack(c, "x") : w.deadLetter(c, "y"));
      } else if (k === 4) await w.kvPut(`k${pick(5)}`, `v${n++}`);
      else await w.enqueueBatch(q, [`b${n++}`, `b${n++}`]);
    };
    const takeover = async (): Promise<void> => {
      const k = pick(4);
      if (k === 0) {
        hookWhat += " clean";
        await w.close();
        w = await openWriter();
      } else if (k === 1) {
        hookWhat += " crash";
        zombies.push(w);
        w = await openWriter();
      } else {
        // damage a WAL batch of the current (crashed) writer, then salvage
        const wal = (await listAll(store, "q/wal/")).filter((o) => o.size > 64);
        zombies.push(w);
        hookWhat += ` salvage${k}`;
        if (wal.length > 0 && k === 2) {
          const o =
            wal[pick(2) ? wal.length - 1 - pick(Math.min(3, wal.length)) : pick(wal.length)]!;
          const got = await store.get(o.key);
          if (got) {
            const body = got.body.slice();
            body[Math.floor(body.byteLength / 2)]! ^= 0xff;
            await store.put(o.key, body);
          }
        }
        w = await openWriter(true);
      }
    };
    for (let i = 0; i < 3; i++) await work();
    let reader = await QueueReader.open(store, "q");
    const old: { reader: QueueReader; seen: unknown; step: number }[] = [];
    try {
      for (let step = 0; step < STEPS; step++) {
        const ops = pick(5);
        for (let i = 0; i < ops; i++) await work();
        if (pick(6) === 0) await takeover();
        if (pick(4) === 0) {
          // Backoffs end: the writer promotes the jobs due before anyone reads.
          clock.advance(1_000 + pick(4_000));
          await w.promoteScheduledNow();
        }
        await w.flush();
        let pre: unknown = null;
        hookWhat = "";
        let post: unknown = null;
        const raced = pick(3) === 0;
        if (raced) {
          store.hook = {
            prefix: pick(2) ? "q/wal/" : "q/checkpoint/",
            run: async () => {
              pre = readerView(await QueueReader.open(store, "q"));
              hookWhat = "raced";
              if (pick(3) === 0) {
                hookWhat += " takeover";
                await takeover();
              } else for (let i = 0; i < 1 + pick(3); i++) await work();
              await w.flush();
              post = readerView(await QueueReader.open(store, "q"));
            },
          };
        }
        const stable = raced ? null : described(await QueueReader.open(store, "q"));
        const before = reader;
        const prevView = readerView(reader);
        const infos: string[] = [];
        reader = await reader.reopen({
          logger: { ...silentLogger, info: (m: string) => infos.push(m) },
        });
        store.hook = null;
        if (reader !== before) old.push({ reader: before, seen: null, step });
        const got = readerView(reader);
        if (raced && pre !== null) {
          try {
            assert.deepEqual(got, post);
          } catch {
            try {
              assert.deepEqual(got, pre);
            } catch {
              try {
                assert.deepEqual(got, prevView);
                stale.push(
                  `seed ${seed} step ${step}: raced reopen brought nothing (stale): ${hookWhat}`,
                );
                reader = await reader.reopen();
                continue;
              } catch {}
              failures.push(
                `seed ${seed} step ${step}: raced reopen matches neither before nor after: ${hookWhat} ${infos.join(" | ")}`,
              );
              break;
            }
          }
          // the next reopen must catch up in any case
          reader = await reader.reopen();
        }
        const fresh = await QueueReader.open(store, "q");
        try {
          assert.deepEqual(readerView(reader), readerView(fresh));
        } catch (e) {
          failures.push(`seed ${seed} step ${step}: reopen != fresh: ${String(e).slice(0, 300)}`);
          break;
        }
        try {
          if (stable !== null && JSON.stringify(stable) === JSON.stringify(described(fresh)))
            assert.deepEqual(described(reader), described(fresh));
        } catch (e) {
          failures.push(
            `seed ${seed} step ${step}: inspection differs: ${String(e).slice(0, 1500)}`,
          );
        }
        // remember what this reader shows; old readers must keep showing it
        old.push({ reader, seen: readerView(reader), step });
        if (pick(4) === 0) {
          // concurrent reopens of an older reader
          const o = old[pick(old.length)]!;
          const [x, y] = await Promise.all([o.reader.reopen(), o.reader.reopen()]);
          const f = readerView(await QueueReader.open(store, "q"));
          try {
            assert.deepEqual(readerView(x), f);
            assert.deepEqual(readerView(y), f);
          } catch {
            failures.push(`seed ${seed} step ${step}: concurrent reopen of old reader != fresh`);
          }
        }
        for (const o of old)
          if (o.seen !== null && pick(3) === 0) {
            try {
              assert.deepEqual(readerView(o.reader), o.seen);
            } catch (e) {
              failures.push(
                `seed ${seed} step ${step}: old reader of step ${o.step} changed: ${String(e).slice(0, 200)}`,
              );
            }
          }
      }
    } catch (e) {
      failures.push(`seed ${seed}: threw ${String(e).slice(0, 300)}`);
    }
    for (const o of old)
      if (o.seen !== null)
        try {
          assert.deepEqual(readerView(o.reader), o.seen);
        } catch {
          failures.push(`seed ${seed}: old reader of step ${o.step} changed (final check)`);
        }
    await w.close().catch(() => {});
    for (const z of zombies) await z.close().catch(() => {});
  }
  assert.deepEqual(
    failures,
    [],
    `${failures.length} failures (${stale.length} raced reopens stale, as allowed)`,
  );
});
