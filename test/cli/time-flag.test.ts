import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { UsageError } from "../../src/cli/io.js";
import { durationFlag, timeFlag } from "../../src/cli/time-flag.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MAX_TIMESTAMP_MS } from "../../src/queue/validate.js";
import { FileStore } from "../../src/store/file.js";
import { listAll } from "../../src/store/types.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-time-flag-");
after(temp.removeAll);

const NOW = Date.UTC(2026, 11, 24, 18);

describe("CLI time flags", { timeout: 60_000 }, () => {
  it("--run-at takes relative times up to the end of the Date range, and refuses later ones by the flag's own terms", () => {
    assert.equal(timeFlag("+30s", "run-at", NOW), NOW + 30_000);
    assert.equal(timeFlag("+2h", "run-at", NOW), NOW + 7_200_000);
    const lastDay = Math.floor((MAX_TIMESTAMP_MS - NOW) / 86_400_000);
    assert.equal(timeFlag(`+${lastDay}d`, "run-at", NOW), NOW + lastDay * 86_400_000);
    for (const value of [`+${lastDay + 1}d`, "+999999999999999d", "+999999999999999s"])
      assert.throws(() => timeFlag(value, "run-at", NOW), {
        name: UsageError.name,
        message: `Expected \`--run-at\` to be an ISO 8601 time (2026-12-24T18:00:00Z) or a relative time (+30s, +5m, +2h, +1d) before the end of the Date range (year 275760), got ${JSON.stringify(value)}`,
      });
  });

  it("--run-at reads every UTC offset form it accepts as that offset: ±hh, ±hhmm, ±hh:mm", () => {
    for (const [value, iso] of [
      ["2026-12-24T18:00:00+05", "2026-12-24T13:00:00.000Z"],
      ["2026-12-24T18:00:00-05", "2026-12-24T23:00:00.000Z"],
      ["2026-12-24T18:00+0530", "2026-12-24T12:30:00.000Z"],
      ["2026-12-24T18:00:00.250-0330", "2026-12-24T21:30:00.250Z"],
      ["2026-12-24T18:00:00+05:30", "2026-12-24T12:30:00.000Z"],
      ["2026-12-24 18:00Z", "2026-12-24T18:00:00.000Z"],
      ["2026-12-24", "2026-12-24T00:00:00.000Z"],
    ] as const)
      assert.equal(new Date(timeFlag(value, "run-at", NOW)).toISOString(), iso, value);
  });

  it("a duration flag is at most Number.MAX_SAFE_INTEGER milliseconds, refused by the flag's own terms past that", () => {
    assert.equal(durationFlag("7d", "older-than"), 604_800_000);
    assert.equal(durationFlag("104249991d", "older-than"), 104_249_991 * 86_400_000);
    for (const value of ["104249992d", "999999999999999d", "999999999999999s"])
      assert.throws(() => durationFlag(value, "older-than"), {
        name: UsageError.name,
        message: `Expected \`--older-than\` to be a duration such as 30s, 5m, 2h or 7d, of at most 104249991d, got ${JSON.stringify(value)}`,
      });
  });

  it("an overlong --older-than or --run-at is a usage error before the store is opened as writer", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      defaultQueueConfig: { maxAttempts: 1 },
    });
    await queue.enqueue("mail", "a");
    await queue.nack((await queue.claim("mail"))!, "fail");
    await queue.close();
    const manifests = async () => (await listAll(new FileStore(dir), "taquba/manifest/")).length;
    const before = await manifests();
    const store = ["--store", dir, "--take-over"];
    for (const args of [
      ["remove", "--all", "mail", "--status", "dead", "--older-than", "999999999999999d"],
      ["enqueue", "mail", "b", "--run-at", "+999999999d"],
    ]) {
      const run = await cli(...args, ...store);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /Expected `--(older-than|run-at)` to be .* got "/);
      assert.doesNotMatch(run.stderr, /opened the queue store/);
    }
    assert.equal(await manifests(), before, "no writer opened the store");
  });
});
