import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ContainerClient } from "@azure/storage-blob";
import { openLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { type AzuriteServer, startAzurite } from "../servers/azurite.js";
import { type FencingTarget, runFencing, startWriter, type Writer } from "./lib/fencing.js";

/** Fast form; the soak runs many more handovers. */
const HANDOVERS = 5;

/** Wall-clock wait: a child process runs on real time. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function expectSafeHandovers(target: FencingTarget, handovers: number): Promise<void> {
  const report = await runFencing(target, handovers);
  assert.deepEqual(report.violations, []);
  assert.equal(report.handovers, handovers);
  assert.ok(report.acknowledged >= handovers * 20, `only ${report.acknowledged} acknowledged`);
}

describe("fencing: writer processes take over one store in turn", { timeout: 180_000 }, () => {
  let azurite: AzuriteServer | undefined;
  after(async () => {
    await azurite?.stop();
  });

  it(`FileStore, ${HANDOVERS} handovers: the older always ends FENCED, no acknowledged job lost`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-fence-"));
    try {
      await expectSafeHandovers({ url: dir }, HANDOVERS);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Regression (a flake on a loaded machine): the writer exited right after writing
  // "failed FENCED"; when the parent read its output late, the pipe was full, the line was
  // still queued inside the writer, and exiting dropped it, so a fenced writer looked like
  // one that had ended without being fenced. Here the parent stops reading on purpose.
  it("FileStore: the older writer's FENCED report reaches a parent that reads late", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-fence-late-"));
    const older = startWriter({ url: dir });
    let newer: Writer | undefined;
    try {
      await older.opened;
      await older.acksAfter(20);
      const ended = new Promise<void>((resolve) => older.child.once("exit", () => resolve()));
      older.child.stdout.pause(); // acks pile up in the pipe until it is full
      await pause(1_000);
      newer = startWriter({ url: dir });
      await newer.opened;
      // A fixed writer cannot end before its report is read; give an unfixed one time to drop it.
      await Promise.race([ended, pause(2_000)]);
      older.child.stdout.resume();
      await older.exited;
      assert.equal(older.lines.at(-2), "failed FENCED", `ended with ${older.lines.at(-2)}`);
      assert.equal(older.lines.at(-1), "exit 0");
    } finally {
      older.child.kill("SIGKILL");
      newer?.child.kill("SIGKILL");
      await Promise.all([older.exited, newer?.exited]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("AzureBlobStore on Azurite, 3 handovers: the same guarantees through the cloud adapter", async () => {
    azurite = await startAzurite();
    await new ContainerClient(azurite.connectionString, "fencing").create();
    await expectSafeHandovers(
      {
        url: "az://fencing/reliability",
        env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
      },
      3,
    );
  });
});

describe("fencing: a busy writer yields to a new opener", { timeout: 180_000 }, () => {
  // Regression: a writer only met the new writer's fence when its own next slot was the
  // fenced one, so an opener placing its fence behind a busy writer chased it slot by slot
  // (takeovers on Azurite took over 20 s). A busy writer now looks for a newer epoch
  // every fenceCheckIntervalMs and stops.
  it("stops with FENCED once a newer epoch exists, even before the new fence is in its way", async () => {
    const memory = new MemoryStore();
    const options = { logger: silentLogger, flushIntervalMs: 0, fenceCheckIntervalMs: 20 };
    const { log: busy } = await openLog(memory, "q", options);
    let written = 0;
    let failure: unknown = null;
    const writing = (async () => {
      try {
        for (;;) {
          await busy.append(new Uint8Array([1]));
          written++;
        }
      } catch (error) {
        failure = error;
      }
    })();
    // The new writer claims its epoch, then stalls before writing its fence.
    const newcomer = new FaultStore(memory);
    const stalled = newcomer.pause({ op: "put", keyPrefix: "q/wal/" });
    const opening = openLog(newcomer, "q", options);
    await stalled.whenHeld();
    const before = written;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the busy writer was never fenced")), 5_000);
    });
    await Promise.race([writing, deadline]).finally(() => clearTimeout(timer));
    assert.equal((failure as { code?: string }).code, "FENCED");
    assert.ok(written - before < 10_000, `kept writing ${written - before} batches`);
    stalled.release();
    const { log, records } = await opening;
    assert.equal(records.length, written, "every acknowledged append is replayed");
    await log.close();
  });
});

describe("opening rides out transient store errors", { timeout: 180_000 }, () => {
  // Regression: the conditional-write probe was the one request of an open that was not
  // retried, so a single transient error (say, a 503) failed Queue.open with STORAGE.
  it("retries a failed probe write, before or after it took effect", async () => {
    for (const mode of ["before", "after"] as const) {
      const faults = new FaultStore(new MemoryStore());
      faults.addRule({ op: "put", keyPrefix: "q/probe/", mode, times: 1 });
      const { log } = await openLog(faults, "q", {
        logger: silentLogger,
        retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 2_000 },
      });
      assert.equal(faults.injectedCount, 1);
      await log.append(new Uint8Array([1]));
      await log.close();
    }
  });
});
