import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { dashboard } from "../../src/dashboard/index.js";
import { DashboardSource } from "../../src/dashboard/source.js";
import { InvalidArgumentError, StorageError, TaqubaError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { type Logger, silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { encodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll, type ObjectStore } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { GatedStore } from "../log/gated.js";
import { testOptions } from "../log/helpers.js";
import { mustClaim, otherBuildsQueue } from "../queue/helpers.js";
import { cronSearchesDuring } from "../queue/schedules/cron-spy.js";
import { definition } from "../queue/schedules/helpers.js";
import { type RecordingLogger, recordingLogger } from "../recording-logger.js";
import { turnsDuring } from "../turns.js";
import { formFields, http, serve } from "./helpers.js";

const EVIL = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

/** A queue with jobs in several states, user data full of markup. */
async function seeded(
  store: ObjectStore = new MemoryStore(),
  clock = new ManualClock(1_780_000_000_000),
) {
  const queue = await Queue.open(store, "app", { clock, logger: silentLogger, flushIntervalMs: 0 });
  const evilQueue = `mail<b>${"&"}</b>`;
  const evil = await queue.enqueue(evilQueue, EVIL, { headers: { [`x-${"<i>"}`]: EVIL } });
  await queue.enqueue("emails", JSON.stringify({ to: "a@example.com" }));
  await queue.enqueue("emails", new Uint8Array([0, 1, 2, 255]));
  const dead = await queue.enqueue("emails", "poison", { maxAttempts: 1 });
  const c1 = await mustClaim(queue, "emails");
  await queue.ack(c1);
  const c2 = await mustClaim(queue, "emails");
  await queue.nack(c2, "try later");
  const c3 = await mustClaim(queue, "emails");
  assert.equal(c3.id, dead);
  await queue.deadLetter(c3, `bad ${EVIL}`);
  return { queue, clock, store, dead, evil, evilQueue };
}

/** The outcome shown by a bulk action's page, asking again (as its refresh does) until it ended. */
async function taskOutcome(url: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const reply = await http(url);
    assert.equal(reply.status, 200);
    const outcome = /<div id="task-outcome"[^>]*>([^<]*)<\/div>/.exec(reply.body);
    if (outcome !== null) {
      assert.doesNotMatch(reply.body, /http-equiv="refresh"/, "an ended task stops refreshing");
      return `${outcome[1]} ${reply.body}`;
    }
    assert.match(reply.body, /<meta http-equiv="refresh" content="1">/);
  }
  assert.fail(`${url} never showed an outcome`);
}

function assertNoMarkupInjected(body: string): void {
  assert.ok(!body.includes("<script"), "a script tag reached the page");
  assert.ok(!body.includes("<img"), "an img tag reached the page");
  assert.ok(!body.includes("<b>&"), "a queue name was not escaped");
}

describe("dashboard", { timeout: 60_000 }, () => {
  it("renders every page over a live queue, escaping user data, with a CSP that allows no script", async () => {
    const { queue, dead, evil, evilQueue } = await seeded();
    const served = await serve(dashboard(queue));
    try {
      const home = await http(`${served.url}/`);
      assert.equal(home.status, 200);
      assert.match(String(home.headers["content-security-policy"]), /default-src 'none'/);
      assert.doesNotMatch(String(home.headers["content-security-policy"]), /script-src/);
      assert.match(home.body, /<table id="queues">/);
      assert.match(home.body, /mail&lt;b&gt;&amp;&lt;\/b&gt;/);
      assert.match(home.body, /<svg [^>]*role="img"/);
      assertNoMarkupInjected(home.body);

      const pending = await http(
        `${served.url}/queue?name=${encodeURIComponent(evilQueue)}&state=pending`,
      );
      assert.equal(pending.status, 200);
      assertNoMarkupInjected(pending.body);
      const escapedEvil = /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/;
      if (!pending.body.includes("Listing pending jobs is unavailable"))
        assert.match(pending.body, escapedEvil);
      const evilJob = await http(`${served.url}/job?id=${evil}`);
      assert.equal(evilJob.status, 200);
      assert.match(
        evilJob.body,
        /<pre>&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&lt;img/,
      );
      assert.match(evilJob.body, /<td><code>x-&lt;i&gt;<\/code><\/td>/);
      assertNoMarkupInjected(evilJob.body);

      const deadPage = await http(`${served.url}/queue?name=emails&state=dead`);
      assert.equal(deadPage.status, 200);
      assert.match(deadPage.body, new RegExp(`data-job="${dead}"`));
      assert.match(deadPage.body, /data-action="requeue"/);
      assert.match(deadPage.body, /data-action="requeue-all"/);
      assertNoMarkupInjected(deadPage.body);

      const job = await http(`${served.url}/job?id=${dead}`);
      assert.equal(job.status, 200);
      assert.match(
        job.body,
        /<h1>Job <code>[0-9A-Z]+<\/code> <span class="badge s-dead">dead<\/span>/,
      );
      assert.match(job.body, /poison/);
      assertNoMarkupInjected(job.body);

      const ids = await queue.listQueues();
      assert.deepEqual(ids, ["emails", evilQueue]);
      const binary = (await queue.deadJobs("emails")).length;
      assert.equal(binary, 1);

      const health = await http(`${served.url}/health`);
      assert.equal(health.status, 200);
      assert.match(
        health.body,
        /<div class="card" id="epoch"><span class="muted">Writer epoch<\/span><b>1<\/b>/,
      );
      assert.match(health.body, /id="wal-backlog"/);
      assert.match(health.body, /id="checkpoint-age"/);
      const puts = queue.storeRequests().counts.put;
      assert.ok(puts > 0);
      assert.match(health.body, new RegExp(`<tr><td>put</td><td class="n">${puts}</td>`));
      assert.match(
        health.body,
        /id="cost"><span class="muted">Estimated request cost<\/span><b>\$/,
      );

      assert.equal((await http(`${served.url}/job?id=01NOPE`)).status, 404);
      assert.equal((await http(`${served.url}/queue?name=emails&state=lost`)).status, 400);
      assert.equal((await http(`${served.url}/queue`)).status, 400);
      assert.equal((await http(`${served.url}/nothing`)).status, 404);
      assert.equal((await http(`${served.url}/`, { method: "DELETE" })).status, 405);
      assert.equal((await http(`${served.url}/action`)).status, 405);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("error pages carry the dashboard's own badge: live queue or read-only", async () => {
    const { queue, store } = await seeded();
    const reader = await QueueReader.open(store, "app");
    const mode = (body: string) => /<span class="mode">([^<]*)<\/span>/.exec(body)?.[1];
    for (const [handler, expected] of [
      [dashboard(queue), "live queue"],
      [dashboard(queue, { readOnly: true }), "read-only"],
      [dashboard(reader), "read-only"],
    ] as const) {
      const served = await serve(handler);
      try {
        for (const [path, status] of [
          ["/", 200],
          ["/nothing", 404],
          ["/queue", 400],
          ["/job?id=01NOPE", 404],
        ] as const) {
          const reply = await http(`${served.url}${path}`);
          assert.equal(reply.status, status, path);
          assert.equal(mode(reply.body), expected, `${expected}: ${path}`);
        }
      } finally {
        await served.close();
      }
    }
    await queue.close();
  });

  it("requeues a dead job with the page's token; refuses cross-site requests and missing tokens", async () => {
    const { queue, dead } = await seeded();
    const served = await serve(dashboard(queue));
    try {
      const page = (await http(`${served.url}/queue?name=emails&state=dead`)).body;
      const form = formFields(page, "requeue", ["id", dead]);
      const action = `${served.url}/action`;

      const refused = [
        await http(action, { form: { ...form, token: "forged" } }),
        await http(action, { form: { ...form, token: "" } }),
        await http(action, { form, headers: { origin: "https://evil.example" } }),
        await http(action, { form, headers: { "sec-fetch-site": "cross-site" } }),
        await http(action, { form, headers: { "content-type": "text/plain" } }),
      ];
      assert.deepEqual(
        refused.map((r) => r.status),
        [403, 403, 403, 403, 400],
      );
      assert.equal((await queue.getJob(dead))?.status, "dead", "nothing changed");

      const done = await http(action, {
        form,
        headers: { origin: served.url, "sec-fetch-site": "same-origin" },
      });
      assert.equal(done.status, 303);
      const location = String(done.headers.location);
      assert.match(location, /^\/queue\?name=emails&state=dead&notice=/);
      assert.equal((await queue.getJob(dead))?.status, "pending");
      const after = await http(`${served.url}${location}`);
      assert.match(after.body, new RegExp(`Job ${dead} was requeued: it is pending again.`));
      assert.match(after.body, /No dead jobs\./);
      // A notice is shown once, and a made-up notice id shows nothing.
      assert.doesNotMatch((await http(`${served.url}${location}`)).body, /was requeued/);

      // A stale requeue says so instead of failing.
      const again = await http(action, { form });
      assert.equal(again.status, 303);
      assert.match(
        (await http(`${served.url}${again.headers.location}`)).body,
        /is not dead \(any more\)/,
      );

      // "back" never leaves the dashboard.
      const offsite = await http(action, { form: { ...form, back: "//evil.example/x" } });
      assert.match(String(offsite.headers.location), /^\/\?notice=/);
      // Not by dot segments either, which resolve to "//evil.example/x".
      for (const back of ["/.//evil.example/x", "/%2e//evil.example/x", "/q/..//evil.example/x"]) {
        const dotted = await http(action, { form: { ...form, back } });
        assert.match(String(dotted.headers.location), /^\/\?notice=/, back);
      }
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("requeues all dead jobs of a queue and cancels a pending one", async () => {
    const clock = new ManualClock(1_780_000_000_000);
    const queue = await Queue.open(new MemoryStore(), "app", { clock, logger: silentLogger });
    for (let i = 0; i < 3; i++) {
      await queue.enqueue("q", `job ${i}`, { maxAttempts: 1 });
      await queue.deadLetter(await mustClaim(queue, "q"), "boom");
    }
    const waiting = await queue.enqueue("q", "waiting");
    const served = await serve(dashboard(queue));
    try {
      const page = (await http(`${served.url}/queue?name=q&state=dead`)).body;
      const all = await http(`${served.url}/action`, { form: formFields(page, "requeue-all") });
      assert.equal(all.status, 303);
      assert.match(String(all.headers.location), /^\/task\?id=[\w-]+$/);
      const outcome = await taskOutcome(`${served.url}${all.headers.location}`);
      assert.match(outcome, /Requeued 3 dead jobs of q\./);
      assert.match(outcome, /<a id="task-back" href="\/queue\?name=q&amp;state=dead">/);
      assert.deepEqual(await queue.stats("q"), {
        queue: "q",
        pending: 4,
        claimed: 0,
        done: 0,
        dead: 0,
        scheduled: 0,
        paused: false,
      });
      assert.equal((await http(`${served.url}/task?id=nope`)).status, 404);

      const pendingPage = (await http(`${served.url}/queue?name=q&state=pending`)).body;
      const cancel = await http(`${served.url}/action`, {
        form: formFields(pendingPage, "cancel", ["id", waiting]),
      });
      assert.equal(cancel.status, 303);
      assert.equal(await queue.getJob(waiting), null);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("its remove actions emit one removed event per job, with the status it had", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    const dead: string[] = [];
    for (let i = 0; i < 3; i++) {
      dead.push(await queue.enqueue("q", `job ${i}`, { maxAttempts: 1 }));
      await queue.deadLetter(await mustClaim(queue, "q"), "boom");
    }
    const removed: string[] = [];
    queue.on("removed", (event) => void removed.push(`${event.id} ${event.state}`));
    const served = await serve(dashboard(queue));
    try {
      const deadPage = (await http(`${served.url}/queue?name=q&state=dead`)).body;
      const one = await http(`${served.url}/action`, {
        form: formFields(deadPage, "remove", ["id", dead[1]!]),
      });
      assert.equal(one.status, 303);
      assert.deepEqual(removed, [`${dead[1]} dead`]);
      const all = await http(`${served.url}/action`, { form: formFields(deadPage, "remove-dead") });
      assert.match(
        await taskOutcome(`${served.url}${all.headers.location}`),
        /Removed 2 dead jobs of q\./,
      );
      assert.deepEqual(removed.slice(1), [`${dead[0]} dead`, `${dead[2]} dead`]);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("over a reader without a reopen option, re-reads the reader's own store and path every refreshMs", async () => {
    const { queue, store, dead } = await seeded();
    await queue.flush();
    const clock = new ManualClock(1_780_000_000_000);
    const reader = await QueueReader.open(store, "app");
    const served = await serve(dashboard(reader, { refreshMs: 5_000, clock }));
    try {
      const deadPage = () => http(`${served.url}/queue?name=emails&state=dead`);
      assert.match((await deadPage()).body, new RegExp(`data-job="${dead}"`));
      await queue.requeueDeadJob(dead);
      await queue.enqueue("beta", "new queue");
      await queue.flush();
      assert.match(
        (await deadPage()).body,
        /data-job=/,
        "the snapshot stays until refreshMs passed",
      );
      clock.advance(5_000);
      assert.match((await deadPage()).body, /No dead jobs\./);
      assert.match((await http(`${served.url}/`)).body, /beta/);
      assert.match((await deadPage()).body, /No dead jobs\./);
      // The reader handed in is untouched: reopen() gave the dashboard new snapshots.
      assert.equal(reader.stats("emails").dead, 1);
      assert.equal((await reader.reopen()).stats("emails").dead, 0);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("over a reader without a reopen option, goes on from the snapshot shown: a refresh reads only the WAL written since", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { logger: silentLogger });
    await queue.enqueue("emails", "first");
    await queue.close(); // a checkpoint, which no refresh reads again
    const live = await Queue.open(store, "app", { logger: silentLogger });
    const gets: string[] = [];
    const recorded = new (class extends CountingStore {
      override get(key: string) {
        gets.push(key);
        return super.get(key);
      }
    })(store);
    const clock = new ManualClock(1_780_000_000_000);
    const served = await serve(
      dashboard(await QueueReader.open(recorded, "app"), { refreshMs: 5_000, clock }),
    );
    const walKeys = async () => (await listAll(store, "app/wal/")).map((o) => o.key);
    try {
      for (let round = 1; round <= 3; round++) {
        const before = new Set(await walKeys());
        await live.enqueue("emails", `round ${round}`);
        const written = (await walKeys()).filter((key) => !before.has(key));
        gets.length = 0;
        clock.advance(5_000);
        assert.match((await http(`${served.url}/`)).body, /emails/);
        // The newest manifest is read on every refresh: whose it is tells whether to read on.
        const manifests = gets.filter((key) => key.startsWith("app/manifest/"));
        assert.equal(manifests.length, 1, `refresh ${round}: one manifest read`);
        // The first refresh that brings records reads the first snapshot's checkpoint again (what
        // that reader would rebuild from), once; none reads a newer one.
        const checkpoints = gets.filter((key) => key.startsWith("app/checkpoint/"));
        assert.equal(checkpoints.length, round === 1 ? 1 : 0, `refresh ${round}: checkpoints read`);
        assert.deepEqual(
          gets.filter(
            (key) =>
              !key.startsWith("app/heartbeat/") &&
              !manifests.includes(key) &&
              !checkpoints.includes(key),
          ),
          written,
          `refresh ${round}: the new WAL objects only`,
        );
      }
    } finally {
      await served.close();
      await live.close();
    }
  });

  it("over a reader, the schedules page lists in turns of the event loop, what listSchedules lists", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "app", testOptions());
    const zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];
    await log.append(
      Array.from({ length: 40 }, (_, i) =>
        encodeRecord({
          tag: Tag.ScheduleSet,
          schedule: definition(`s${String(i).padStart(2, "0")}`, zones[i % 4]!, `${i} 3 * * *`),
        }),
      ),
    );
    await log.close();
    const reader = await QueueReader.open(store, "app");
    const hooks = reader as unknown as Record<symbol, (...args: unknown[]) => unknown>;
    await hooks[Symbol.for("taquba.schedulesPlanned")]!.call(reader);
    // Every budget check finds the slice spent: even planned, the list is built a schedule a turn.
    hooks[Symbol.for("taquba.setSliceMs")]!.call(reader, 0);
    const source = new DashboardSource(reader, {
      refreshMs: 5_000,
      logger: silentLogger,
      prices: undefined,
      now: () => 1_780_000_000_000,
    });
    const { result: listed, turns } = await turnsDuring(() => source.schedules());
    assert.deepEqual(listed, (await QueueReader.open(store, "app")).listSchedules());
    assert.ok(turns >= 40, `the event loop turned ${turns} times while 40 schedules were listed`);
  });

  it("over a reader, a schedules page that spans a refresh lists the snapshot it was asked on, never listing the reader the refresh retired", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "app", testOptions());
    const zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];
    const set = (name: string, i: number) =>
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(name, zones[i % 4]!, `${i} 3 * * *`),
      });
    await log.append(
      Array.from({ length: 40 }, (_, i) => set(`s${String(i).padStart(2, "0")}`, i)),
    );
    const first = await QueueReader.open(store, "app");
    const hooks = first as unknown as Record<symbol, (...args: unknown[]) => unknown>;
    // Planning works out every fire time of the snapshot first: a page that lists that
    // state has no fire time left to search for. A state rebuilt from a retired reader
    // has lost them, so listing it would search again.
    await hooks[Symbol.for("taquba.schedulesPlanned")]!.call(first);
    // The page takes many turns: the refresh lands while it lists.
    hooks[Symbol.for("taquba.setSliceMs")]!.call(first, 0);
    // The only pattern the new snapshot adds: the reopen's planning parses (probes) and searches it.
    const added = "40 3 * * *";
    const ofAdded = (pattern: string): boolean =>
      pattern === added || pattern.startsWith(`0 ${added} `) || pattern.startsWith("0 0 0 * * * ");
    await log.append([set("zz", 40)]);
    await log.close();
    const listedAtOnce: string[] = [];
    const spied = (reader: QueueReader, name: string): QueueReader => {
      const list = reader.listSchedules.bind(reader);
      reader.listSchedules = () => {
        // A listing at once of a reader whose state was handed on would rebuild that state.
        listedAtOnce.push(name);
        return list();
      };
      return reader;
    };
    const source = new DashboardSource(spied(first, "first"), {
      reopen: async (options, current) => spied(await current.reopen(options), "reopened"),
      refreshMs: 5_000,
      logger: silentLogger,
      prices: undefined,
      now: () => 1_780_000_000_000,
    });
    const { result: listed, searches } = await cronSearchesDuring(async () => {
      const page = source.schedules();
      await new Promise((resolve) => setImmediate(resolve));
      const refresh = source.refresh(true);
      const listed = await page;
      await refresh;
      return listed;
    });
    assert.deepEqual(
      listed.map((s) => s.name),
      Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, "0")}`),
    );
    assert.ok(listed.every((s) => s.error === undefined && s.nextRunAt !== null));
    assert.deepEqual(
      searches.filter((pattern) => !ofAdded(pattern)),
      [],
      "the page lists the planned state, not one rebuilt from the reader the refresh retired",
    );
    // The next page lists the new snapshot.
    assert.equal((await source.schedules()).length, 41);
    assert.deepEqual(listedAtOnce, []);
  });

  it("over a reader, answers a request that arrives during a refresh from the new snapshot", async () => {
    const store = new MemoryStore();
    const live = await Queue.open(store, "app", { logger: silentLogger });
    const reader = await QueueReader.open(store, "app");
    // Every budget check finds the slice spent: the reopen applies its records over many turns.
    (reader as unknown as Record<symbol, (ms: number) => void>)[Symbol.for("taquba.setSliceMs")]!(
      0,
    );
    const payload = new Uint8Array(1);
    for (let i = 0; i < 999; i++) await live.enqueue("emails", payload);
    const newest = await live.enqueue("emails", "newest");
    const clock = new ManualClock(1_780_000_000_000);
    const source = new DashboardSource(reader, {
      reopen: (options, current) => current.reopen(options),
      refreshMs: 5_000,
      logger: silentLogger,
      prices: undefined,
      now: () => clock.now(),
    });
    try {
      const refreshed = source.refresh(true);
      // Read while the reopen applies its records: the reader it reopens has handed its state on.
      const [job, page, stats] = await Promise.all([
        source.getJob(newest),
        source.jobs("emails", "pending", undefined, 1_000),
        source.stats("emails"),
        refreshed,
      ]);
      assert.equal(job?.id, newest, "the job page reads the new snapshot");
      assert.equal(page.jobs.length, 1_000);
      assert.ok(
        page.jobs.some((j) => j.id === newest),
        "the listing reads the new snapshot",
      );
      assert.equal(stats.pending, 1_000);
    } finally {
      await live.close();
    }
  });

  it("over a reader whose refresh fails, keeps serving the last snapshot, tries at most every refreshMs, and logs once", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue, dead } = await seeded(faults);
    await queue.flush();
    const clock = new ManualClock(1_780_000_000_000);
    const logger = recordingLogger();
    const reader = await QueueReader.open(faults, "app", { logger: silentLogger });
    const served = await serve(dashboard(reader, { refreshMs: 5_000, clock, logger }));
    try {
      const deadPage = () => http(`${served.url}/queue?name=emails&state=dead`);
      assert.match((await deadPage()).body, new RegExp(`data-job="${dead}"`));
      await queue.requeueDeadJob(dead);
      await queue.flush();
      // The store now refuses every read (a permanent error: no retries).
      const stop = faults.addRule({
        op: ["get", "list"],
        mode: "before",
        error: () => new StorageError("store unavailable", { permanent: true }),
      });
      clock.advance(5_000);
      let reply = await deadPage();
      assert.equal(reply.status, 200);
      assert.match(reply.body, new RegExp(`data-job="${dead}"`), "the old snapshot is shown");
      const afterFirstTry = faults.injectedCount;
      assert.ok(afterFirstTry > 0, "the refresh was tried");
      for (let i = 0; i < 3; i++) {
        reply = await deadPage();
        assert.equal(reply.status, 200);
        assert.match(reply.body, new RegExp(`data-job="${dead}"`));
      }
      assert.equal((await http(`${served.url}/health`)).status, 200);
      assert.equal(faults.injectedCount, afterFirstTry, "no new try within refreshMs");
      clock.advance(5_000);
      assert.equal((await deadPage()).status, 200);
      assert.ok(faults.injectedCount > afterFirstTry, "tried again after refreshMs");
      const warnings = logger.messages("warn");
      const failed = warnings.filter((w) => w.includes("snapshot refresh failed"));
      assert.equal(failed.length, 1, warnings.join("\n"));
      assert.deepEqual(logger.messages("error"), []);

      stop();
      assert.match((await deadPage()).body, new RegExp(`data-job="${dead}"`), "within refreshMs");
      clock.advance(5_000);
      assert.match((await deadPage()).body, /No dead jobs\./, "refreshed once the store is back");
      const infos = logger.messages("info");
      assert.equal(infos.filter((m) => m.includes("works again")).length, 1, infos.join("\n"));
      assert.equal(
        logger.messages("warn").filter((w) => w.includes("snapshot refresh failed")).length,
        1,
      );
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("over a reader with reopen: null, shows the first snapshot as is", async () => {
    const { queue, store, dead } = await seeded();
    await queue.flush();
    const clock = new ManualClock(1_780_000_000_000);
    const reader = await QueueReader.open(store, "app");
    const served = await serve(dashboard(reader, { reopen: null, refreshMs: 5_000, clock }));
    try {
      await queue.requeueDeadJob(dead);
      await queue.flush();
      clock.advance(60_000);
      const page = (await http(`${served.url}/queue?name=emails&state=dead`)).body;
      assert.match(
        page,
        new RegExp(`data-job="${dead}"`),
        "never re-read (the default would have)",
      );
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("over a reader whose reopen hands back the same reader, counts its requests once, and passes the logger", async () => {
    const { queue, store } = await seeded();
    await queue.flush();
    const clock = new ManualClock(1_780_000_000_000);
    const reader = await QueueReader.open(store, "app");
    const loggers: Logger[] = [];
    const served = await serve(
      dashboard(reader, {
        reopen: async ({ logger }) => {
          loggers.push(logger);
          return reader;
        },
        refreshMs: 5_000,
        clock,
        logger: silentLogger,
      }),
    );
    try {
      const listed = async () => {
        const body = (await http(`${served.url}/health`)).body;
        return Number(/<tr><td>list<\/td><td class="n">(\d+)/.exec(body)?.[1]);
      };
      const before = await listed();
      assert.equal(before, reader.storeRequests().counts.list);
      for (let i = 0; i < 3; i++) {
        clock.advance(5_000);
        assert.equal(await listed(), before);
      }
      assert.equal(loggers.length, 3);
      assert.ok(loggers.every((l) => l === silentLogger));
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("over a reader is read-only, and shows new snapshots at most every refreshMs", async () => {
    const { queue, store, dead } = await seeded();
    await queue.flush();
    const clock = new ManualClock(1_780_000_000_000);
    let opens = 0;
    const reopen = async () => {
      opens++;
      return QueueReader.open(store, "app");
    };
    const served = await serve(
      dashboard(await QueueReader.open(store, "app"), { reopen, refreshMs: 5_000, clock }),
    );
    try {
      const page = (await http(`${served.url}/queue?name=emails&state=dead`)).body;
      assert.match(page, new RegExp(`data-job="${dead}"`));
      assert.doesNotMatch(page, /<form/);
      assert.match(page, /read-only/);
      const post = await http(`${served.url}/action`, {
        form: { action: "requeue", id: dead, token: "x" },
      });
      assert.equal(post.status, 403);
      assert.match(post.body, /read-only/);

      await queue.requeueDeadJob(dead);
      await queue.flush();
      assert.match(
        (await http(`${served.url}/queue?name=emails&state=dead`)).body,
        /data-job=/,
        "old snapshot",
      );
      assert.equal(opens, 0);
      clock.advance(5_000);
      assert.match(
        (await http(`${served.url}/queue?name=emails&state=dead`)).body,
        /No dead jobs\./,
      );
      assert.equal(opens, 1);

      const health = (await http(`${served.url}/health`)).body;
      assert.match(health, /Read-only snapshot taken/);
      assert.match(health, /id="heartbeat"/);
      assert.match(health, /<tr><td>list<\/td><td class="n">[1-9]/);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("store health of a queue fenced by another writer says it stopped, not that it is live", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { logger: silentLogger });
    await queue.enqueue("emails", "hello");
    const served = await serve(dashboard(queue));
    const other = await Queue.open(store, "app", { logger: silentLogger });
    try {
      const live = (await http(`${served.url}/health`)).body;
      assert.match(live, /Live: this process owns the store\./);
      await other.enqueue("emails", "taken over");
      await assert.rejects(queue.enqueue("emails", "fenced"), { code: "FENCED" });
      assert.equal(queue.closed, true);

      const health = await http(`${served.url}/health`);
      assert.equal(health.status, 200);
      assert.doesNotMatch(health.body, /Live: this process owns the store/);
      // Why it stopped, as the other pages' 503 answers say it.
      assert.match(
        health.body,
        /<p class="muted">Stopped: another writer fenced this process&#39;s queue \(FENCED: [^<]+\)\. These are its last values\.<\/p>/,
      );
      assert.match(
        health.body,
        /id="heartbeat"><span class="muted">Writer heartbeat<\/span><b>stopped<\/b><span class="muted">fenced by another writer \(FENCED\)<\/span>/,
      );
      // The header's badge too, on every page (the others answer with the queue's error).
      assert.match(health.body, /<span class="mode">stopped queue<\/span>/);
      const overview = await http(`${served.url}/`);
      assert.equal(overview.status, 503);
      assert.match(overview.body, /<span class="mode">stopped queue<\/span>/);
    } finally {
      await served.close();
      await other.close();
      await queue.close().catch(() => {});
    }
  });

  it("store health of a queue whose store failed says it failed, with the error's code", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "app", {
      logger: silentLogger,
      log: { retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 20 } },
    });
    await queue.enqueue("emails", "hello");
    const served = await serve(dashboard(queue));
    try {
      faults.addRule({ op: "put", mode: "before" });
      await assert.rejects(queue.enqueue("emails", "lost"), { code: "STORAGE" });
      const health = await http(`${served.url}/health`);
      assert.equal(health.status, 200);
      assert.match(
        health.body,
        /<p class="muted">Stopped: this process&#39;s queue failed \(STORAGE: [^<]+\)\. These are its last values\.<\/p>/,
      );
      assert.match(health.body, /<b>stopped<\/b><span class="muted">failed \(STORAGE\)<\/span>/);
    } finally {
      await served.close();
      await queue.close().catch(() => {});
    }
  });

  it("over a queue that closed normally, store health and the badge say it stopped", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    await queue.enqueue("emails", "hello");
    const served = await serve(dashboard(queue));
    try {
      assert.match((await http(`${served.url}/`)).body, /<span class="mode">live queue<\/span>/);
      await queue.close();
      const health = await http(`${served.url}/health`);
      assert.equal(health.status, 200);
      assert.match(
        health.body,
        /<p class="muted">Stopped: this process&#39;s queue is closed\. These are its last values\.<\/p>/,
      );
      assert.match(
        health.body,
        /<b>stopped<\/b><span class="muted">this process&#39;s queue is closed<\/span>/,
      );
      assert.match(health.body, /<span class="mode">stopped queue<\/span>/);
    } finally {
      await served.close();
    }
  });

  it("shows a flow parent as waiting for its children, not as a job with no run time", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_780_000_000_000);
    const queue = await Queue.open(store, "app", { clock, logger: silentLogger });
    const flow = await queue.enqueueFlow({
      queue: "report",
      payload: "r",
      children: [
        { queue: "part", payload: "a" },
        { queue: "part", payload: "b" },
      ],
    });
    const timed = await queue.enqueue("report", "later", { runAt: clock.now() + 60_000 });
    await queue.flush();
    const live = await serve(dashboard(queue));
    const read = await serve(dashboard(await QueueReader.open(store, "app")));
    try {
      for (const served of [live, read]) {
        const job = await http(`${served.url}/job?id=${flow.id}`);
        assert.equal(job.status, 200);
        assert.match(job.body, /<dt>Status<\/dt><dd><span class="badge s-scheduled">scheduled</);
        assert.match(
          job.body,
          /<dt>Waits for<\/dt><dd>its 2 children \(a flow parent runs once each has ended\)<\/dd>/,
        );
        assert.doesNotMatch(job.body, /<dt>Runs at<\/dt>/);
        const list = (await http(`${served.url}/queue?name=report&state=scheduled`)).body;
        // Within the job's row.
        const row = (id: string, cell: string) =>
          new RegExp(`data-job="${id}">(?:(?!</tr>)[^])*<td>${cell}</td>`);
        assert.match(list, row(flow.id, "waits for 2 children"));
        assert.match(list, row(timed, "runs [^<]+"));
      }
      // One child ended: one left.
      await queue.ack(await mustClaim(queue, "part"));
      const job = await http(`${live.url}/job?id=${flow.id}`);
      assert.match(job.body, /<dd>its 1 child \(a flow parent/);
      const timedJob = await http(`${live.url}/job?id=${timed}`);
      assert.doesNotMatch(timedJob.body, /Waits for/);
    } finally {
      await live.close();
      await read.close();
      await queue.close();
    }
  });

  it("finds its mount path, asks authorize first, and answers only allowed hosts", async () => {
    const { queue, dead } = await seeded();
    let allow = true;
    const mounted = await serve(dashboard(queue, { authorize: () => allow }), "/admin/queues");
    const direct = await serve(
      dashboard(queue, { basePath: "/ops/", allowedHosts: ["ops.example:80"] }),
    );
    try {
      const home = await http(`${mounted.url}/admin/queues`);
      assert.equal(home.status, 200);
      assert.match(home.body, /href="\/admin\/queues\/queue\?name=emails&amp;state=pending"/);
      const page = (await http(`${mounted.url}/admin/queues/queue?name=emails&state=dead`)).body;
      const form = formFields(page, "requeue", ["id", dead]);
      assert.equal(form.back, "/admin/queues/queue?name=emails&state=dead");
      assert.match(page, /action="\/admin\/queues\/action"/);
      allow = false;
      assert.equal((await http(`${mounted.url}/admin/queues/`)).status, 403);
      assert.equal((await http(`${mounted.url}/admin/queues/action`, { form })).status, 403);
      assert.equal((await queue.getJob(dead))?.status, "dead");
      allow = true;
      const moved = await http(`${mounted.url}/admin/queues/action`, { form });
      assert.match(
        String(moved.headers.location),
        /^\/admin\/queues\/queue\?name=emails&state=dead&notice=/,
      );
      // Nor out of its mount path by dot segments.
      const out = await http(`${mounted.url}/admin/queues/action`, {
        form: { ...form, back: "/admin/queues/../../elsewhere" },
      });
      assert.match(String(out.headers.location), /^\/admin\/queues\/\?notice=/);

      assert.equal(
        (await http(`${direct.url}/ops/health`)).status,
        403,
        "Host 127.0.0.1 is not allowed",
      );
      const ok = await http(`${direct.url}/ops/health`, { headers: { host: "ops.example:80" } });
      assert.equal(ok.status, 200);
      assert.match(ok.body, /href="\/ops\/"/);

      // No allowedHosts: loopback names and IP literals only (DNS rebinding).
      for (const host of [`localhost:${mounted.port}`, `127.0.0.1:${mounted.port}`])
        assert.equal(
          (await http(`${mounted.url}/admin/queues/`, { headers: { host } })).status,
          200,
          host,
        );
      const rebound = await http(`${mounted.url}/admin/queues/`, {
        headers: { host: `attacker.example:${mounted.port}` },
      });
      assert.equal(rebound.status, 403);
      assert.match(rebound.body, /attacker\.example.*is not allowed.*allowedHosts/);
      const action = await http(`${mounted.url}/admin/queues/action`, {
        form,
        headers: { host: `attacker.example:${mounted.port}` },
      });
      assert.equal(action.status, 403);
    } finally {
      await mounted.close();
      await direct.close();
      await queue.close();
    }
  });

  it("counts throughput from the queue's events into the chart", async () => {
    const clock = new ManualClock(1_780_000_000_000);
    const queue = await Queue.open(new MemoryStore(), "app", { clock, logger: silentLogger });
    const handler = dashboard(queue, { bucketMs: 1_000, buckets: 10 });
    const served = await serve(handler);
    try {
      for (let i = 0; i < 5; i++) await queue.enqueue("t", `job ${i}`, { maxAttempts: 1 });
      for (let i = 0; i < 3; i++) await queue.ack(await mustClaim(queue, "t"));
      await queue.deadLetter(await mustClaim(queue, "t"), "boom");
      await queue.flush();
      const body = (await http(`${served.url}/queue?name=t`)).body;
      assert.match(
        body,
        /<title>[0-9:]+ UTC: 3 completed, 1 failed, 5 enqueued, 1 pending<\/title>/,
      );
      handler.close();
      await queue.enqueue("t", "after close");
      await queue.flush();
      assert.match((await http(`${served.url}/queue?name=t`)).body, /5 enqueued/);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("keeps charting the depth of all queues after its wall clock steps back", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const handler = dashboard(queue, { clock, bucketMs: 60_000 });
    const served = await serve(handler);
    try {
      await queue.enqueue("a", "x");
      await http(`${served.url}/`);
      clock.advance(86_400_000); // a day ahead, then corrected
      await http(`${served.url}/`);
      clock.advance(-86_400_000 + 60_000);
      await queue.enqueue("a", "y");
      await http(`${served.url}/`);
      clock.advance(60_000);
      await queue.enqueue("a", "z");
      const titles = [...(await http(`${served.url}/`)).body.matchAll(/<title>([^<]*)<\/title>/g)];
      assert.deepEqual(
        titles.slice(-2).map((m) => /(\d+) pending/.exec(m[1]!)?.[1]),
        ["2", "3"],
      );
    } finally {
      handler.close();
      await served.close();
      await queue.close();
    }
  });

  it("over a reader charts completions and depth only: no failed or enqueued series it cannot know", async () => {
    const store = new MemoryStore();
    const writer = await Queue.open(store, "app", { logger: silentLogger, flushIntervalMs: 0 });
    await writer.enqueueBatch("t", ["a", "b", "c", "d", "e"]);
    const clock = new ManualClock(1_780_000_000_000);
    const reopen = () => QueueReader.open(store, "app");
    const served = await serve(
      dashboard(await reopen(), { reopen, refreshMs: 1_000, clock, bucketMs: 60_000 }),
    );
    try {
      assert.equal((await http(`${served.url}/`)).status, 200); // the first snapshot
      for (let i = 0; i < 2; i++) await writer.ack(await mustClaim(writer, "t"));
      await writer.nack(await mustClaim(writer, "t"), "again"); // scheduled for its retry
      await writer.enqueue("t", "f");
      await writer.flush();
      clock.advance(1_000);
      for (const path of ["/", "/queue?name=t"]) {
        const body = (await http(`${served.url}${path}`)).body;
        assert.match(body, /<title>[0-9:]+ UTC: 2 completed, 3 pending<\/title>/, path);
        assert.doesNotMatch(body, /failed \(retried or dead\)|class="c-fail"|class="c-enq"/, path);
        assert.doesNotMatch(body, /\d+ enqueued/, path);
        assert.match(body, /<figcaption>.*completed .*pending \(right axis\)/, path);
      }
    } finally {
      await served.close();
      await writer.close();
    }
  });

  it("shows a job's result and attempt history, removes dead jobs one by one or all, and a reader's heartbeat", async () => {
    const clock = new ManualClock(1_780_000_000_000);
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", {
      clock,
      logger: silentLogger,
      defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2, keepDoneJobsMs: 60_000 },
      heartbeatMs: 1_000,
    });
    const waiting = await queue.enqueue("q", "waiting");
    const done = await queue.enqueue("q", "done");
    const dead = await queue.enqueue("q", "dead");
    const alsoDead = await queue.enqueue("q", "also dead", { maxAttempts: 1 });
    await queue.ack(await mustClaim(queue, "q")); // "waiting" is claimed first and acked
    const doneClaim = await mustClaim(queue, "q");
    assert.equal(doneClaim.id, done);
    await queue.ack(doneClaim, { result: "the result <b>" });
    for (let settled = 0; settled < 3; settled++) {
      const claim = await mustClaim(queue, "q");
      if (claim.id === alsoDead) await queue.deadLetter(claim, "broken");
      else await queue.nack(claim, claim.attempts === 1 ? "first failure" : "second failure");
    }
    assert.equal((await queue.getJob(dead))?.status, "dead");
    assert.equal((await queue.getJob(alsoDead))?.status, "dead");
    const fresh = await queue.enqueue("q", "pending one");
    await queue.flush();
    const served = await serve(dashboard(queue));
    try {
      const pending = (await http(`${served.url}/queue?name=q&state=pending`)).body;
      assert.match(pending, new RegExp(`data-job="${fresh}"`));

      const deadJob = (await http(`${served.url}/job?id=${dead}`)).body;
      assert.match(deadJob, /<table id="attempts">/);
      const outcomes = [...deadJob.matchAll(/<span class="badge s-([a-z_]+)">/g)].map((m) => m[1]);
      assert.deepEqual(outcomes.slice(-2), ["retried", "dead_lettered"]);
      assert.match(deadJob, /first failure[\s\S]*second failure/);
      assert.match(deadJob, /data-action="requeue"/);
      assert.match(deadJob, /data-action="remove"/);

      const donePage = (await http(`${served.url}/job?id=${done}`)).body;
      assert.match(donePage, /<pre>the result &lt;b&gt;<\/pre>/);
      assert.match(donePage, /<span class="badge s-completed">completed<\/span>/);
      assert.ok(waiting);

      // One dead job removed from its row, then the rest with the bulk button.
      const deadPage = (await http(`${served.url}/queue?name=q&state=dead`)).body;
      const one = await http(`${served.url}/action`, {
        form: formFields(deadPage, "remove", ["id", alsoDead]),
      });
      assert.equal(one.status, 303);
      assert.equal(await queue.getJob(alsoDead), null);
      const after = (await http(`${served.url}${one.headers.location}`)).body;
      assert.match(after, new RegExp(`Job ${alsoDead} was removed\\.`));
      assert.doesNotMatch(after, new RegExp(`data-job="${alsoDead}"`));
      assert.match(after, new RegExp(`data-job="${dead}"`));
      const stale = await http(`${served.url}/action`, {
        form: formFields(deadPage, "remove", ["id", alsoDead]),
      });
      assert.match(
        (await http(`${served.url}${stale.headers.location}`)).body,
        /was not found, or is running \(cancel it instead\): nothing was removed/,
      );
      const all = await http(`${served.url}/action`, { form: formFields(after, "remove-dead") });
      assert.equal(all.status, 303);
      assert.match(
        await taskOutcome(`${served.url}${all.headers.location}`),
        /Removed 1 dead job of q\./,
      );
      assert.equal((await queue.stats("q")).dead, 0);

      const reader = await QueueReader.open(store, "app");
      const readOnly = await serve(dashboard(reader, { clock }));
      try {
        const health = (await http(`${readOnly.url}/health`)).body;
        assert.match(
          health,
          /id="heartbeat"><span class="muted">Writer heartbeat<\/span><b>[^<]+<\/b><span class="muted">live; beat #\d+ of epoch 1, every 1\.0 s/,
        );
      } finally {
        await readOnly.close();
      }
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("shows a running job's progress live, and keeps it with the job after a retry", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      defaultQueueConfig: { retryBackoffBaseMs: 60_000, maxAttempts: 3 },
    });
    const id = await queue.enqueue("videos", "encode <movie>");
    const served = await serve(dashboard(queue));
    const stop = new AbortController();
    let release = (): void => {};
    let reportedProgress = (): void => {};
    const reported = new Promise<void>((resolve) => {
      reportedProgress = resolve;
    });
    const worker = runWorker(
      queue,
      "videos",
      async (_job, ctx) => {
        ctx.progress({ step: "<encode>", done: 40, of: 100 });
        reportedProgress();
        await new Promise<void>((r) => {
          release = r;
        });
        throw new Error("encoder crashed");
      },
      { signal: stop.signal, pollIntervalMs: 5 },
    );
    try {
      await reported;
      const live = (await http(`${served.url}/job?id=${id}`)).body;
      assert.match(live, /<span class="badge s-claimed">claimed<\/span>/);
      assert.match(
        live,
        /<code id="progress">\{&quot;step&quot;:&quot;&lt;encode&gt;&quot;,&quot;done&quot;:40,&quot;of&quot;:100\}<\/code>/,
      );
      stop.abort();
      release();
      await worker; // resolves once the failed attempt's retry is durable
      const kept = (await http(`${served.url}/job?id=${id}`)).body;
      assert.match(kept, /<span class="badge s-scheduled">scheduled<\/span>/);
      assert.match(
        kept,
        /<code id="progress">\{&quot;step&quot;:&quot;&lt;encode&gt;&quot;,&quot;done&quot;:40/,
      );
      assert.match(kept, /encoder crashed/);
    } finally {
      stop.abort();
      release();
      await worker;
      await served.close();
      await queue.close();
    }
  });

  it("a bulk action's page shows its progress while its writes wait, then its outcome", async () => {
    const store = new GatedStore();
    store.gating = false;
    const queue = await Queue.open(store, "app", { logger: silentLogger, flushIntervalMs: 0 });
    for (let i = 0; i < 3; i++) {
      await queue.enqueue("q", `job ${i}`, { maxAttempts: 1 });
      await queue.deadLetter(await mustClaim(queue, "q"), "boom");
    }
    const served = await serve(dashboard(queue));
    try {
      const page = (await http(`${served.url}/queue?name=q&state=dead`)).body;
      store.gating = true;
      const all = await http(`${served.url}/action`, { form: formFields(page, "requeue-all") });
      assert.equal(all.status, 303, "answered before the requeue is durable");
      await store.whenHeld(1);
      const running = (await http(`${served.url}${all.headers.location}`)).body;
      assert.match(running, /<h1>Requeue the dead jobs of q<\/h1>/);
      assert.match(running, /<progress value="\d" max="3">/);
      assert.match(running, /\d of 3 jobs done…/);
      assert.match(running, /<meta http-equiv="refresh" content="1">/);
      assert.equal((await queue.stats("q")).dead, 0, "decided, not yet durable");
      store.gating = false;
      for (const slot of store.held()) store.release(slot);
      assert.match(
        await taskOutcome(`${served.url}${all.headers.location}`),
        /Requeued 3 dead jobs of q\./,
      );
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("lists offloaded payloads by their size without reading their objects; the job page reads it", async () => {
    let payloadGets = 0;
    const store = new (class extends MemoryStore {
      override async get(key: string) {
        if (key.includes("/payload/")) payloadGets++;
        return super.get(key);
      }
    })();
    const queue = await Queue.open(store, "app", { logger: silentLogger, payloadOffloadBytes: 16 });
    const big = `large payload ${"x".repeat(64)}`;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await queue.enqueue("big", big));
    const small = await queue.enqueue("big", "tiny");
    const served = await serve(dashboard(queue));
    try {
      const list = (await http(`${served.url}/queue?name=big&state=pending`)).body;
      assert.equal(payloadGets, 0, "listing read no payload object");
      for (const id of ids)
        assert.match(
          list,
          new RegExp(
            `<tr data-job="${id}">.*?<a class="muted offloaded" href="/job\\?id=${id}">offloaded, ${Buffer.byteLength(big)} bytes</a>`,
            "s",
          ),
        );
      assert.match(list, new RegExp(`<tr data-job="${small}">.*?tiny`, "s"));
      assert.ok(!list.includes("x".repeat(64)), "no offloaded payload text in the list");
      const page = (await http(`${served.url}/job?id=${ids[0]}`)).body;
      assert.match(page, /large payload x{64}/);
      assert.equal(payloadGets, 1, "the job page read its payload");
      // The public option behind it.
      const listed = await queue.listJobs("big", "pending", { loadPayloads: false });
      assert.equal(listed.jobs[0]?.payload.byteLength, 0);
      assert.equal(listed.jobs[0]?.payloadSize, Buffer.byteLength(big));
      assert.equal(payloadGets, 1);
      const loaded = await queue.listJobs("big", "pending");
      assert.equal(Buffer.from(loaded.jobs[0]!.payload).toString(), big);
      await assert.rejects(
        queue.listJobs("big", "pending", { loadPayloads: "no" as unknown as boolean }),
        /Expected `options.loadPayloads` to be a boolean/,
      );
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("a job page over a reader shows an offloaded payload, not an empty one", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { logger: silentLogger, payloadOffloadBytes: 16 });
    const id = await queue.enqueue("big", `large payload ${"x".repeat(64)}`);
    await queue.close();
    const served = await serve(dashboard(await QueueReader.open(store, "app")));
    try {
      const body = (await http(`${served.url}/job?id=${id}`)).body;
      assert.match(body, /large payload x{64}/);
      assert.ok(!body.includes("(empty)"), "the payload was shown as empty");
    } finally {
      await served.close();
    }
  });

  it("a job page whose payload object is damaged or gone shows the job, why, and its actions", async () => {
    /** Payload reads can be garbled (cut short) a number of times, or fail as the store failing to answer. */
    const store = new (class extends MemoryStore {
      garble = 0;
      fail = false;
      override async get(key: string) {
        if (!key.includes("/payload/")) return super.get(key);
        if (this.fail) throw new StorageError("store unavailable", { permanent: true });
        const got = await super.get(key);
        if (got === null || this.garble === 0) return got;
        this.garble--;
        return { ...got, body: got.body.subarray(0, 3) };
      }
    })();
    const queueLogger = recordingLogger();
    const queue = await Queue.open(store, "app", { logger: queueLogger, payloadOffloadBytes: 16 });
    const enqueueBig = (fill: string) => queue.enqueue("big", `large payload ${fill.repeat(64)}`);
    const [damaged, gone, healthy] = [
      await enqueueBig("x"),
      await enqueueBig("y"),
      await enqueueBig("z"),
    ];
    const pending = (await queue.listJobs("big", "pending", { loadPayloads: false })).jobs;
    const keyOf = (id: string) => pending.find((j) => j.id === id)!.payloadRef!;
    await store.put(keyOf(damaged), new TextEncoder().encode("not the payload it was"));
    await store.delete(keyOf(gone));
    await assert.rejects(queue.getJob(damaged)); // getJob itself still rejects, as documented
    const unreadable = /id="payload-error">Unreadable: <code>[^<]+<\/code>/;
    const check = async (url: string, logger: RecordingLogger, live: boolean) => {
      for (const id of [damaged, gone]) {
        for (let view = 0; view < 2; view++) {
          const reply = await http(`${url}/job?id=${id}`);
          assert.equal(reply.status, 200, reply.body);
          assert.match(reply.body, new RegExp(`<h1>Job <code>${id}</code>`));
          assert.match(reply.body, unreadable);
          assert.ok(reply.body.includes(keyOf(id)), "the page names the object");
          assert.ok(!reply.body.includes("(empty)"), "not shown as an empty payload");
          if (live) formFields(reply.body, "cancel", ["id", id]); // its action is offered
        }
      }
      // One warning per object, on the dashboard's logger, however often the page is viewed.
      const warnings = logger.messages("warn");
      assert.equal(warnings.length, 2, warnings.join("\n"));
      assert.match(
        warnings[0]!,
        new RegExp(`^dashboard: job ${damaged} shown without its payload: corrupt`),
      );
      assert.match(warnings[1]!, new RegExp(`^dashboard: job ${gone} shown without its payload: `));
      // A body garbled once is read again: the payload is shown, nothing warned.
      store.garble = 1;
      const garbled = await http(`${url}/job?id=${healthy}`);
      assert.equal(garbled.status, 200);
      assert.match(garbled.body, /large payload z{64}/);
      assert.doesNotMatch(garbled.body, /payload-error/);
      assert.equal(store.garble, 0, "the garbled read happened");
      assert.equal(logger.messages("warn").length, 2);
      // A store that fails to answer still fails the page: that is no damage to show.
      store.fail = true;
      const failed = await http(`${url}/job?id=${damaged}`);
      store.fail = false;
      assert.ok(failed.status >= 500, `${failed.status}`);
      assert.doesNotMatch(failed.body, /payload-error/);
    };
    for (const source of [queue, otherBuildsQueue(queue)]) {
      const logger = recordingLogger();
      const served = await serve(dashboard(source, { logger }));
      try {
        // A Queue of the other build is live too: its actions are offered.
        await check(served.url, logger, true);
      } finally {
        await served.close();
      }
    }
    assert.deepEqual(
      queueLogger.messages("warn").filter((m) => m.includes("without")),
      [],
      "the queue's logger is not told of the page's reads",
    );
    // A reader's snapshot from before the cancel below.
    const reader = await QueueReader.open(store, "app", { logger: silentLogger });
    // The action the page offers works on the damaged job.
    const served = await serve(dashboard(queue, { logger: silentLogger }));
    try {
      const page = (await http(`${served.url}/job?id=${damaged}`)).body;
      const cancelled = await http(`${served.url}/action`, {
        form: formFields(page, "cancel", ["id", damaged]),
      });
      assert.ok(cancelled.status < 400, cancelled.body);
      assert.equal(await queue.getJob(damaged), null);
    } finally {
      await served.close();
      await queue.close();
    }
    // Over the reader alike (the cancel removed the object; it is damaged again here).
    const logger = recordingLogger();
    await store.put(keyOf(damaged), new TextEncoder().encode("damaged again"));
    const viaReader = await serve(dashboard(reader, { logger, reopen: null }));
    try {
      await check(viaReader.url, logger, false);
    } finally {
      await viaReader.close();
    }
  });

  it("gives every page its own action token; refuses forged, foreign and expired ones", async () => {
    const { queue, dead, clock } = await seeded();
    const handler = dashboard(queue, { actionTokenTtlMs: 60_000 });
    const served = await serve(handler);
    const other = await serve(dashboard(queue));
    try {
      const pageA = (await http(`${served.url}/queue?name=emails&state=dead`)).body;
      const pageB = (await http(`${served.url}/job?id=${dead}`)).body;
      const a = formFields(pageA, "requeue", ["id", dead]);
      const b = formFields(pageB, "requeue", ["id", dead]);
      assert.notEqual(a.token, b.token, "one token per page");
      const foreign = formFields(
        (await http(`${other.url}/queue?name=emails&state=dead`)).body,
        "requeue",
        ["id", dead],
      );
      const [issued, nonce] = a.token!.split(".");
      const refused = [
        await http(`${served.url}/action`, { form: { ...a, token: foreign.token! } }),
        await http(`${served.url}/action`, { form: { ...a, token: `${issued}.${nonce}.x` } }),
        await http(`${served.url}/action`, {
          form: {
            ...a,
            token: `${(Number.parseInt(issued!, 36) + 1).toString(36)}.${nonce}.${a.token!.split(".")[2]}`,
          },
        }),
      ];
      for (const reply of refused) {
        assert.equal(reply.status, 403);
        assert.match(reply.body, /missing or was not issued by this dashboard/);
      }
      clock.advance(60_001);
      const expired = await http(`${served.url}/action`, { form: a });
      assert.equal(expired.status, 403);
      assert.match(expired.body, /token has expired: reload the page/);
      assert.equal((await queue.getJob(dead))?.status, "dead", "nothing changed");
      // A page loaded now carries a fresh token that works.
      const fresh = formFields((await http(`${served.url}/job?id=${dead}`)).body, "requeue", [
        "id",
        dead,
      ]);
      assert.equal((await http(`${served.url}/action`, { form: fresh })).status, 303);
      assert.equal((await queue.getJob(dead))?.status, "pending");
    } finally {
      await served.close();
      await other.close();
      await queue.close();
    }
  });

  it("lists schedules with their next run, over a queue and a reader", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { clock, logger: silentLogger });
    const served = await serve(dashboard(queue));
    try {
      assert.match((await http(`${served.url}/schedules`)).body, /id="no-schedules"/);
      await queue.schedule("nightly <report>", {
        cron: "0 3 * * *",
        queue: "reports",
        payload: '{"kind":"nightly"}',
      });
      await queue.schedule("heartbeat", { everyMs: 300_000, queue: "pings", payload: "ping" });
      await queue.flush();
      const body = (await http(`${served.url}/schedules`)).body;
      assert.match(body, /<a href="\/schedules" class="on">Schedules<\/a>/);
      assertNoMarkupInjected(body);
      const row = (name: string) =>
        new RegExp(`<tr data-schedule="${name}">[\\s\\S]*?</tr>`).exec(body)?.[0] ?? "";
      const nightly = row("nightly &lt;report&gt;");
      assert.match(nightly, /<code>0 3 \* \* \*<\/code> <span class="muted">UTC<\/span>/);
      assert.match(
        nightly,
        /<td class="next">2026-12-03 03:00:00 UTC <span class="muted">\(in 19 h/,
      );
      assert.match(nightly, /&quot;kind&quot;:&quot;nightly&quot;/);
      const ping = row("heartbeat");
      assert.match(ping, /every 5 min 0 s/);
      assert.match(ping, /<td class="next">2026-12-02 08:05:00 UTC/);

      const reader = await QueueReader.open(store, "app");
      const readOnly = await serve(dashboard(reader, { clock }));
      try {
        const fromReader = (await http(`${readOnly.url}/schedules`)).body;
        assert.match(fromReader, /data-schedule="heartbeat"/);
        assert.match(fromReader, /data-schedule="nightly &lt;report&gt;"/);
      } finally {
        await readOnly.close();
      }
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("shows why a stored schedule in a time zone this runtime does not know never fires, over a queue and a reader", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const store = new MemoryStore();
    const { log } = await openLog(store, "app", testOptions());
    await log.append([
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition("mars", "Mars/Olympus_Mons", "0 3 * * *", clock.now()),
      }),
    ]);
    await log.close();
    const queue = await Queue.open(store, "app", { clock, logger: silentLogger });
    const reader = await QueueReader.open(store, "app");
    for (const source of [queue, reader]) {
      const served = await serve(dashboard(source, { clock }));
      try {
        const body = (await http(`${served.url}/schedules`)).body;
        const row = /<tr data-schedule="mars">[\s\S]*?<\/tr>/.exec(body)?.[0] ?? "";
        assert.match(
          row,
          /<td class="next"><span class="failed">not fired here: <code>[^<]*Mars\/Olympus_Mons/,
        );
        assert.doesNotMatch(row, /ended/);
      } finally {
        await served.close();
      }
    }
    await queue.close();
  });

  it("lists a queue paused before its first job, over a queue and a reader", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { logger: silentLogger });
    await queue.enqueue("emails", "hello");
    await queue.pauseQueue("later");
    await queue.flush();
    const served = await serve(dashboard(queue));
    const readOnly = await serve(dashboard(await QueueReader.open(store, "app")));
    try {
      for (const url of [served.url, readOnly.url]) {
        const home = (await http(`${url}/`)).body;
        assert.match(home, /href="\/queue\?name=emails&amp;state=pending"/);
        assert.match(home, /href="\/queue\?name=later&amp;state=pending"/);
      }
    } finally {
      await readOnly.close();
      await served.close();
      await queue.close();
    }
  });

  it("rejects bad options, naming them", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    const cases: [object, RegExp][] = [
      [{ basePath: "admin" }, /`options.basePath` to be a path starting with "\/"/],
      [{ refreshMs: -1 }, /`options.refreshMs`/],
      [{ buckets: 1 }, /`options.buckets`/],
      [{ authorize: "yes" }, /`options.authorize` to be a function/],
      [{ allowedHosts: "x" }, /`options.allowedHosts` to be an array of host names/],
      [{ actionTokenTtlMs: 0 }, /`options.actionTokenTtlMs`/],
      [{ clock: {} }, /`options.clock` to be a Clock/],
      [{ logger: "console" }, /`options.logger` to be a Logger/],
      // A misspelt security option is refused, not ignored with actions left on.
      [
        { readonly: true },
        /^Expected `options` to have only the keys basePath, readOnly, .*logger; got `readonly` \(did you mean `readOnly`\?\)$/,
      ],
    ];
    for (const [options, message] of cases)
      assert.throws(
        () => dashboard(queue, options as never),
        (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
      );
    await queue.close();
  });

  it("takes a Queue of the other build (ESM vs CommonJS): the source is checked by shape", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    dashboard(otherBuildsQueue(queue)).close();
    await queue.close();
  });

  it("offers actions over a Queue of the other build, and tells its errors by code", async () => {
    const { queue, dead } = await seeded();
    // The other build's queue rejects with the other build's errors: same code, no class of this build.
    const other = otherBuildsQueue(queue) as unknown as Record<string, unknown>;
    for (const name of ["requeueDeadJob", "pauseQueue"]) {
      const method = other[name] as (...args: unknown[]) => Promise<unknown>;
      other[name] = (...args: unknown[]) =>
        method(...args).catch((error: unknown) => {
          const copy = Object.assign(new Error((error as Error).message), {
            code: (error as { code: string }).code,
          });
          assert.ok(!(copy instanceof TaqubaError));
          throw copy;
        });
    }
    const logger = recordingLogger();
    const served = await serve(dashboard(other as unknown as Queue, { logger }));
    try {
      const page = (await http(`${served.url}/queue?name=emails&state=dead`)).body;
      assert.match(page, /live queue/);
      const form = formFields(page, "requeue", ["id", dead]);
      const action = `${served.url}/action`;
      const done = await http(action, { form });
      assert.equal(done.status, 303);
      assert.equal((await queue.getJob(dead))?.status, "pending");
      // A stale requeue (JOB_NOT_FOUND of the other build) says so instead of failing.
      const again = await http(action, { form });
      assert.equal(again.status, 303, again.body);
      assert.match(
        (await http(`${served.url}${again.headers.location}`)).body,
        /is not dead \(any more\)/,
      );
      // An INVALID_ARGUMENT of the other build is the caller's mistake (400), not logged.
      const bad = await http(action, {
        form: { ...form, action: "pause", queue: "x".repeat(300) },
      });
      assert.equal(bad.status, 400, bad.body);
      assert.match(bad.body, /Expected/);
      assert.deepEqual(logger.messages("error"), []);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("refuses a source that is neither a Queue nor a QueueReader when called, not on a request", () => {
    for (const source of [null, undefined, {}, "queue"])
      assert.throws(
        () => dashboard(source as never),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          /^Expected `source` to be a Queue or a QueueReader/.test(e.message),
      );
  });
});
