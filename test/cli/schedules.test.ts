import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { openLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { encodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { FileStore } from "../../src/store/file.js";
import { testOptions } from "../log/helpers.js";
import { cronSearchesDuring } from "../queue/schedules/cron-spy.js";
import { definition } from "../queue/schedules/helpers.js";
import { turnCounter } from "../turns.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-schedules-");
after(temp.removeAll);

/** A file store holding `n` daily crons, each a (cron, zone) pair of its own, and one job. */
async function storeWithCrons(n: number): Promise<string> {
  const dir = await temp.make();
  const zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];
  const { log } = await openLog(new FileStore(dir), "taquba", testOptions());
  await log.append(
    Array.from({ length: n }, (_, i) =>
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(
          `s${String(i).padStart(4, "0")}`,
          zones[i % 4]!,
          `${Math.floor(i / 4) % 60} ${Math.floor(i / 240) % 24} * * *`,
        ),
      }),
    ),
  );
  await log.close();
  return dir;
}

describe("taquba schedules", { timeout: 60_000 }, () => {
  it("lists every schedule with its next fire time, without fencing the writer", async () => {
    const dir = await temp.make();
    const clock = new ManualClock(Date.parse("2027-01-01T00:00:00Z"));
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger, clock });
    const store = ["--store", dir];
    assert.equal((await cli("schedules", ...store)).stdout, "No schedules.\n");
    await queue.schedule("nightly", {
      cron: "0 3 * * *",
      timezone: "Europe/Paris",
      queue: "reports",
      payload: "{}",
    });
    await queue.schedule("tick", { everyMs: 60_000, queue: "ticks", payload: "t", catchUp: "all" });
    const listed = await cli("schedules", ...store);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(
      listed.stdout,
      'nightly  cron "0 3 * * *" Europe/Paris  queue "reports"  next 2027-01-01T02:00:00.000Z  catch-up latest  payload "{}"\n' +
        'tick  every 60000ms  queue "ticks"  next 2027-01-01T00:01:00.000Z  catch-up all  payload "t"\n',
    );
    const json = JSON.parse((await cli("schedules", "--json", ...store)).stdout);
    assert.equal(json.length, 2);
    assert.equal(json[0].name, "nightly");
    assert.equal(json[0].nextRunAt, Date.parse("2027-01-01T02:00:00Z"));
    assert.equal(json[1].payload, "t");
    const bad = await cli("schedules", "extra", ...store);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^taquba schedules: /);
    // The writer was not fenced.
    await queue.unschedule("tick");
    await queue.close();
  });

  it("says why a stored schedule in a time zone this runtime does not know does not fire", async () => {
    const dir = await temp.make();
    const { log } = await openLog(new FileStore(dir), "taquba", testOptions());
    await log.append([
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(
          "mars",
          "Mars/Olympus_Mons",
          "0 3 * * *",
          Date.parse("2027-01-01T00:00:00Z"),
        ),
      }),
    ]);
    await log.close();
    const listed = await cli("schedules", "--store", dir);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^mars {2}cron "0 3 \* \* \*" Mars\/Olympus_Mons {2}queue "reports" {2}next - \(not fired here: "[^"]*Mars\/Olympus_Mons[^"]*"\) {2}catch-up latest {2}payload "\{\}"\n$/,
    );
  });

  it("read commands that list no schedule work out no fire time, in the turns after them either", async () => {
    const dir = await storeWithCrons(40);
    for (const command of ["stats", "queues", "inspect"]) {
      const { result, searches } = await cronSearchesDuring(async () => {
        const ran = await cli(command, "--store", dir);
        // Long enough for a background planning to run through 40 schedules.
        await new Promise((resolve) => setTimeout(resolve, 200));
        return ran;
      });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(searches, [], command);
    }
  });

  it("write commands' read before writing works out no fire time: remove, requeue, pause", async () => {
    const dir = await storeWithCrons(40);
    for (const args of [
      ["remove", "nosuch"],
      ["requeue", "nosuch"],
      ["remove", "--all", "nosuch", "--status", "dead"],
      ["requeue", "--all", "nosuch"],
      ["pause", "nosuch"],
    ]) {
      const { result, searches } = await cronSearchesDuring(async () => {
        // Refused after the read (no such job or queue): no writer opens, which would plan.
        const ran = await cli(...args, "--store", dir);
        // Long enough for a background planning to run through 40 schedules.
        await new Promise((resolve) => setTimeout(resolve, 200));
        return ran;
      });
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /nosuch/, args.join(" "));
      assert.deepEqual(searches, [], args.join(" "));
    }
  });

  it("lists thousands of schedules in turns of the event loop, not in one", async () => {
    const dir = await storeWithCrons(1_000);
    let searchesBefore = 0;
    const perTurn: number[] = [];
    const { result, searches } = await cronSearchesDuring(async (sofar) => {
      const counter = turnCounter(() => {
        perTurn.push(sofar.length - searchesBefore);
        searchesBefore = sofar.length;
      });
      try {
        return await cli("schedules", "--store", dir);
      } finally {
        counter.stop();
        perTurn.push(sofar.length - searchesBefore); // the turn the command ended in
      }
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.split("\n").length, 1_001);
    assert.ok(searches.length >= 1_000);
    assert.ok(
      Math.max(...perTurn) < searches.length / 2,
      `at most ${Math.max(...perTurn)} of ${searches.length} searches in one turn`,
    );
  });
});
