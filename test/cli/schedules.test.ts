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
import { definition } from "../queue/schedules/helpers.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-schedules-");
after(temp.removeAll);

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
});
