/**
 * The simulation's last look at the payload objects: once the run is over
 * and the orphans' minimum age has passed, a new process opens the store
 * with faults off; its orphan pass must leave exactly the objects the live
 * jobs reference (no leak of a flow, transaction or enqueue that failed,
 * was refused, crashed or was fenced), and every one of those must read
 * back with its job's bytes (none was deleted while referenced).
 */
import { ORPHAN_MIN_AGE_MS, referencedKeys } from "../../../src/queue/payloads.js";
import { rows } from "../../queue/state-rows.js";
import { liveState } from "./audit.js";
import { payloadKeys, payloadObjectsPresent, type World } from "./sim.js";

/** Simulated milliseconds the open's orphan pass may take. */
const PASS_LIMIT_MS = 5_000;

async function unreferenced(w: World, path: string): Promise<string[]> {
  const referenced = referencedKeys(liveState(w.queue!));
  return (await payloadKeys(w, path)).filter((key) => !referenced.has(key));
}

/**
 * Closes the queue, lets the orphans' minimum age pass, reopens (through
 * `reopened`, which checks the model) and checks the payload objects.
 * `expected` says whether a job's payload (by public id) is the one it was given.
 */
export async function payloadsAtEnd(
  w: World,
  path: string,
  reopen: () => Promise<void>,
  expected: (id: string, bytes: string) => boolean,
): Promise<void> {
  w.faults.clearRules();
  const before = await payloadKeys(w, path);
  w.maxWall = Math.max(w.maxWall, w.clock.now());
  // Objects are named with the wall time they were written at, which may have been ahead.
  const closing = w.queue!;
  await w.settle(closing.close().catch(() => {}));
  w.clock.advance(w.maxWall - w.clock.now() + ORPHAN_MIN_AGE_MS + 1_000);
  await reopen();
  const queue = w.queue!;
  const referenced = referencedKeys(liveState(queue));
  w.report.orphansAtEnd = before.filter((key) => !referenced.has(key)).length;
  let left = await unreferenced(w, path);
  for (let ms = 0; left.length > 0 && ms < PASS_LIMIT_MS; ms += 10) {
    await w.pass(10);
    left = await unreferenced(w, path);
  }
  if (left.length > 0)
    w.violations.push(
      `${left.length} payload objects no job references are left after the orphan pass: ${left.slice(0, 3).join(", ")}`,
    );
  for (const p of await payloadObjectsPresent(w, path)) w.violations.push(`at the end: ${p}`);
  w.report.payloadObjectsAtEnd = referenced.size;
  const flushed = await w.settle(queue.flush());
  if (!flushed.ok) return w.unexpected("flush at the end", flushed.error);
  const state = liveState(queue);
  for (const row of rows(state)) {
    if (row.payloadRef === undefined) continue;
    const id = state.publicIdOf(row.h);
    const read = await w.quietly(() =>
      queue.getJob(id).then(
        (job) => ({ job }),
        (error: unknown) => ({ error }),
      ),
    );
    if ("error" in read) {
      w.violations.push(`job ${id}'s payload cannot be read at the end: ${String(read.error)}`);
      continue;
    }
    const bytes = Buffer.from(read.job?.payload ?? []).toString();
    if (!expected(id, bytes))
      w.violations.push(
        `job ${id} reads ${bytes.length} bytes of its offloaded payload at the end`,
      );
  }
}
