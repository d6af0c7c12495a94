/**
 * FileStore's temp folder: writers killed mid-write leave temp files behind;
 * the next store to write in the directory removes them, and never one a live
 * writer may still be using.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { FileStore } from "../../src/store/file.js";

const WRITER = fileURLToPath(new URL("./fixtures/temp-writer.js", import.meta.url));
const KILLS = 10;

function startWriter(dir: string): ChildProcess {
  return spawn(process.execPath, [WRITER, dir, "32"], { stdio: ["pipe", "ignore", "inherit"] });
}

async function tempFiles(dir: string): Promise<string[]> {
  return readdir(join(dir, ".tmp")).catch(() => []);
}

/** Resolves once `child` has a temp file in `dir` (it is mid-write), with that file's name. */
async function midWrite(dir: string, child: ChildProcess): Promise<string> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const mine = (await tempFiles(dir)).find((name) => name.startsWith(`${child.pid}.`));
    if (mine !== undefined) return mine;
    if (performance.now() > deadline) throw new Error("the writer never started a write");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once("exit", resolve));
}

describe("FileStore temp files", { timeout: 120_000 }, () => {
  let dir: string;
  const children: ChildProcess[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-temp-"));
  });
  after(async () => {
    for (const child of children) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  });

  it(`removes what ${KILLS} writers SIGKILLed mid-write left, and keeps a live writer's`, async () => {
    const store = join(dir, "killed");
    const deadPids: number[] = [];
    let cutShort = 0;
    for (let round = 0; round < KILLS; round++) {
      const child = startWriter(store);
      children.push(child);
      const file = await midWrite(store, child);
      child.kill("SIGKILL");
      await exited(child);
      deadPids.push(child.pid!);
      if ((await tempFiles(store)).includes(file)) cutShort++;
    }
    assert.ok(cutShort >= KILLS / 2, `only ${cutShort} of ${KILLS} writes were cut short`);

    // A live writer, frozen mid-write: its temp file must survive the sweep.
    const live = startWriter(store);
    children.push(live);
    const liveFile = await midWrite(store, live);
    live.kill("SIGSTOP");

    // Another host's fresh temp file, and an old one of any owner (also the old naming).
    const foreignFresh = "4242.0123456789ab.00000000-0000-4000-8000-000000000001.tmp";
    const foreignOld = "4242.0123456789ab.00000000-0000-4000-8000-000000000002.tmp";
    const legacyOld = "00000000-0000-4000-8000-000000000003.tmp";
    for (const name of [foreignFresh, foreignOld, legacyOld])
      await writeFile(join(store, ".tmp", name), "partial");
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const name of [foreignOld, legacyOld])
      await utimes(join(store, ".tmp", name), twoHoursAgo, twoHoursAgo);

    await new FileStore(store).put("opened", new Uint8Array([1]));
    const left = await tempFiles(store);
    assert.deepEqual(
      left.filter((name) => deadPids.some((pid) => name.startsWith(`${pid}.`))),
      [],
      "no temp file of a dead writer is left",
    );
    assert.deepEqual(left.sort(), [foreignFresh, liveFile].sort());

    live.kill("SIGCONT");
    live.kill("SIGKILL");
    await exited(live);
  });

  it("never removes a temp file of this process; one with its pid from before its start was an earlier process's", async () => {
    const store = join(dir, "own");
    await mkdir(join(store, ".tmp"), { recursive: true });
    const hostTag = createHash("sha256").update(hostname()).digest("hex").slice(0, 12);
    // Made by this process (or another of its stores) a moment ago, and one that was last
    // written before this process started: left by an earlier process with the same pid (a
    // container's pid 1 restarted on the same volume), which no live process can be writing.
    const own = `${process.pid}.${hostTag}.00000000-0000-4000-8000-000000000004.tmp`;
    const earlier = `${process.pid}.${hostTag}.00000000-0000-4000-8000-000000000006.tmp`;
    const dead = `999999999.${hostTag}.00000000-0000-4000-8000-000000000005.tmp`;
    for (const name of [own, earlier, dead]) await writeFile(join(store, ".tmp", name), "partial");
    const beforeStart = new Date(Date.now() - process.uptime() * 1000 - 60_000);
    await utimes(join(store, ".tmp", earlier), beforeStart, beforeStart);
    await new FileStore(store).put("x", new Uint8Array([2]));
    assert.deepEqual(
      await tempFiles(store),
      [own],
      "the dead pid's and the earlier process's files went, ours stayed",
    );
  });
});
