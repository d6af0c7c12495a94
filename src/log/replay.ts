/**
 * Reading a log's contents back: loading the checkpoint a manifest
 * references and the WAL batches after it, verified, in order. Written once
 * and shared by the writer's open, the read-only tools (`readLog`) and the
 * salvage of a damaged log. Reads only; never writes or fences.
 */
import { CorruptionError } from "../errors.js";
import { nextTurn, SliceBudget } from "../util/slices.js";
import {
  decodeCheckpointInSlices,
  decodeFence,
  isFenceSize,
  type VerifiedWalBatch,
  verifyWalBatch,
  WAL_WINDOW,
} from "./codec.js";
import type { LogKeys } from "./keys.js";
import type { LogStorage } from "./storage.js";
import { WalTail } from "./tail.js";

/**
 * WAL batches fetched in parallel during replay. A replay is a run of small
 * GETs whose time is their latency: on radosgw 64 in flight read a tail in
 * about a third of the time 16 took. Memory does not depend on it (every body
 * is kept until the tail is verified).
 */
export const REPLAY_CONCURRENCY = 64;

/** Where a replay starts: a manifest's checkpoint and the last WAL id it covers. */
export interface ReplayStart {
  /** Key of the manifest that references the checkpoint (named when it is missing). */
  manifestKey: string;
  checkpoint: string | null;
  replayAfter: number;
}

/** A log's contents as of one replay. */
export interface Replayed {
  /** The checkpoint's caller bytes, or `null` when the manifest references none. */
  checkpoint: Uint8Array | null;
  /** Size of the checkpoint object (0 when none). */
  checkpointBytes: number;
  /** The name of the checkpoint loaded, or `null` when none was. */
  checkpointName: string | null;
  /** Every record after the checkpoint, in append order (and the size of their batches). */
  tail: WalTail;
}

/**
 * Loads the checkpoint of `start` and the WAL batches `replayAfter+1 .. to-1`
 * after it. Every object must exist and be intact ({@link CorruptionError}
 * otherwise).
 */
export async function replay(
  storage: LogStorage,
  keys: LogKeys,
  start: ReplayStart,
  to: number,
): Promise<Replayed> {
  // The WAL batches are fetched while the checkpoint is read and verified: an open waits for
  // the slower of the two reads, not their sum. They are verified (and any error of theirs
  // reported) only after the checkpoint, as before.
  const fetched = fetchWal(storage, keys, start.replayAfter + 1, to);
  fetched.catch(() => {}); // awaited below; a rejection while the checkpoint loads is not unhandled
  let checkpoint: Uint8Array | null = null;
  let checkpointBytes = 0;
  if (start.checkpoint !== null) {
    const loaded = await readCheckpoint(storage, keys, start.checkpoint, start.replayAfter);
    if (loaded === null) {
      throw new CorruptionError(
        keys.checkpoint(start.checkpoint),
        `checkpoint referenced by ${start.manifestKey} is missing`,
      );
    }
    checkpoint = loaded.snapshot;
    checkpointBytes = loaded.bytes;
  }
  const tail = await scanWal(keys, start.replayAfter + 1, await fetched);
  return { checkpoint, checkpointBytes, checkpointName: start.checkpoint, tail };
}

/**
 * Reads and verifies checkpoint `name`, which must cover WAL ids up to
 * `replayAfter`. `null` when the object is missing; {@link CorruptionError}
 * when it is damaged.
 */
export async function readCheckpoint(
  storage: LogStorage,
  keys: LogKeys,
  name: string,
  replayAfter: number,
): Promise<{ snapshot: Uint8Array; bytes: number } | null> {
  const key = keys.checkpoint(name);
  const body = await storage.get(key);
  if (body === null) return null;
  const snapshot = await decodeCheckpointInSlices(key, replayAfter, body, nextTurn);
  return { snapshot, bytes: body.byteLength };
}

/**
 * Reads WAL objects in slot order and tells which records count.
 *
 * Fences hold none. Neither do dead batches: a writer keeps several creates
 * in flight, so when it crashes or is fenced some of them can land after a
 * slot it never filled, and the next writer fences that slot (and the few
 * after it, where the rest could still land). Such a batch was never
 * acknowledged (batches are acknowledged strictly in WAL order) and must
 * never be replayed. It is recognised by its epoch: lower than the epoch of
 * a fence (or batch) before it. Version 1 batches carry no epoch and were
 * never written with creates in flight, so they always count.
 */
export class WalScan {
  /** The highest epoch of any fence or batch read so far. */
  #epoch = 0;

  /**
   * Verifies the WAL object in slot `id`: the batch whose records count, or
   * `null` for a fence or a dead batch. Throws {@link CorruptionError} when
   * it is neither an intact batch nor a fence.
   */
  read(keys: LogKeys, id: number, body: Uint8Array): VerifiedWalBatch | null {
    const key = keys.wal(id);
    if (isFenceSize(body.byteLength)) {
      this.#epoch = Math.max(this.#epoch, decodeFence(key, body));
      return null;
    }
    const batch = verifyWalBatch(key, id, body);
    const { header } = batch;
    if (header === null) return batch;
    if (header.epoch < this.#epoch) return null;
    this.#epoch = header.epoch;
    return batch;
  }
}

/**
 * WAL objects past the first missing slot `gap` (all within
 * {@link WAL_WINDOW} of it) are the tail of a writer that died or was fenced
 * with creates in flight: never acknowledged, never replayed. Unless one of
 * them was sealed after the batch in `gap` was acknowledged: then that batch
 * was durable and is missing now, which is damage. Returns the
 * {@link CorruptionError} to report, or null for a plain crashed tail.
 */
export async function tailDamage(
  storage: LogStorage,
  keys: LogKeys,
  gap: number,
  tail: readonly number[],
): Promise<CorruptionError | null> {
  for (const id of tail) {
    if (id >= gap + WAL_WINDOW) {
      return new CorruptionError(
        keys.wal(gap),
        `WAL batch is missing while "${keys.wal(id)}" exists (a gap of more than ${WAL_WINDOW} slots)`,
      );
    }
  }
  const bodies = await Promise.all(tail.map((id) => storage.get(keys.wal(id))));
  for (const [index, body] of bodies.entries()) {
    const id = tail[index]!;
    if (body === null || isFenceSize(body.byteLength)) continue;
    const { header } = verifyWalBatch(keys.wal(id), id, body);
    if (header === null || header.acknowledgedThrough >= gap) {
      return new CorruptionError(
        keys.wal(gap),
        `WAL batch is missing while "${keys.wal(id)}", written after it was acknowledged, exists`,
      );
    }
  }
  return null;
}

/**
 * The bodies of WAL objects `from..to-1`, {@link REPLAY_CONCURRENCY} requests
 * at a time. Every slot must exist. A store whose reads complete without I/O
 * (the memory store, a cache) resolves them in microtasks, which would run
 * the whole fetch (and its copies) in one turn of the event loop: 20–30 ms
 * for a tail of a million-job state. So the fetch gives the loop a turn once
 * a slice's budget is spent.
 */
async function fetchWal(
  storage: LogStorage,
  keys: LogKeys,
  from: number,
  to: number,
): Promise<Uint8Array[]> {
  const count = Math.max(0, to - from);
  const bodies: Uint8Array[] = new Array(count);
  let next = 0;
  // The budget counts time spent within one turn of the event loop: a lane that resumes
  // after I/O, in a later turn, starts a new one (otherwise the waits for the store would
  // count, and every lane would yield a turn before each read of a store with latency).
  const budget = new SliceBudget();
  let budgetTurn = 0;
  let endedTurn = 0;
  const startBudget = (): void => {
    budget.start();
    const started = ++budgetTurn;
    // Runs once the turn that started the budget (and its microtasks) is over.
    setImmediate(() => {
      if (budgetTurn === started) endedTurn = started;
    });
  };
  startBudget();
  // One turn shared by every request lane: each lane waiting for a turn of its own would run
  // its slice right after the others', all before any I/O or timer.
  let turn: Promise<void> | null = null;
  const fetchNext = async (): Promise<void> => {
    while (next < count) {
      if (endedTurn === budgetTurn) startBudget();
      else if (budget.spent()) {
        turn ??= nextTurn().then(() => {
          turn = null;
          startBudget();
        });
        await turn;
        continue;
      }
      const index = next++;
      const key = keys.wal(from + index);
      const body = await storage.get(key);
      if (body === null) throw new CorruptionError(key, "WAL batch listed for replay is missing");
      bodies[index] = body;
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPLAY_CONCURRENCY, count) }, fetchNext));
  return bodies;
}

/** Verifies the WAL objects read from slot `from` on, in order, keeping the batches whose records count. */
async function scanWal(keys: LogKeys, from: number, bodies: Uint8Array[]): Promise<WalTail> {
  const batches: VerifiedWalBatch[] = [];
  const scan = new WalScan();
  // Verifying a long WAL is many checksums: give the event loop a turn between slices.
  const budget = new SliceBudget();
  budget.start();
  for (const [index, body] of bodies.entries()) {
    if (budget.spent()) {
      await nextTurn();
      budget.start();
    }
    const batch = scan.read(keys, from + index, body);
    if (batch !== null) batches.push(batch);
  }
  return new WalTail(batches);
}
