import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-job-lookup-");
after(temp.removeAll);

async function epochOf(dir: string): Promise<number | undefined> {
  return (await QueueReader.open(new FileStore(dir), "taquba")).inspection.manifest?.epoch;
}

/** What `remove` and `requeue` say of a job they do not change, with what each takes and does. */
const REFUSALS = [
  { command: "remove", statuses: "pending, scheduled, done or dead", verb: "removed" },
  { command: "requeue", statuses: "dead", verb: "requeued" },
] as const;

describe("remove <job-id> and requeue <job-id> look the job up alike", { timeout: 60_000 }, () => {
  it("refuse an unknown job, and one a live writer runs, as JOB_NOT_FOUND, opening no writer", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: 60_000,
    });
    await queue.enqueue("mail", "one");
    const running = await queue.claim("mail");
    assert.ok(running);
    const epoch = await epochOf(dir);
    for (const { command, statuses, verb } of REFUSALS) {
      const unknown = await cli(command, "nosuch", "--store", dir);
      assert.equal(unknown.code, 1, command);
      assert.match(
        unknown.stderr,
        new RegExp(
          `^taquba ${command}: JOB_NOT_FOUND: no ${statuses} job with id nosuch: nothing was ${verb}`,
        ),
      );
      const claimed = await cli(command, running.id, "--store", dir);
      assert.equal(claimed.code, 1, command);
      assert.match(
        claimed.stderr,
        new RegExp(
          `^taquba ${command}: JOB_NOT_FOUND: no ${statuses} job with id ${running.id} \\(it is claimed by live writer epoch ${epoch}\\): nothing was ${verb}`,
        ),
      );
    }
    assert.equal(await epochOf(dir), epoch, "no writer was opened");
    // The writer was not fenced: it settles its job.
    await queue.ack(running);
    await queue.close();
  });

  it("report a place with no queue store, --create or not, and create none", async () => {
    const dir = await temp.make();
    for (const { command } of REFUSALS)
      for (const create of [[], ["--create"]]) {
        const out = await cli(command, "nosuch", "--store", dir, ...create);
        assert.equal(out.code, 1, `${command} ${create}`);
        assert.match(
          out.stderr,
          new RegExp(
            `^taquba ${command}: no taquba queue store at --path "taquba" in --store ".*"(?: \\(no manifest there\\))?; check --store and --path\\n$`,
          ),
        );
        assert.equal(await epochOf(dir), undefined, "no store was created");
      }
  });
});
