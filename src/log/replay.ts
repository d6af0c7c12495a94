/**
 * Reading a log's contents back: loading the checkpoint a manifest
 * references and fetching the WAL batches after it, verified, in order
 * (which count: `wal-scan.ts`; the WAL as listed: `wal-run.ts`). Written once
 * and shared by the writer's open, the read-only tools (`readLog`) and the
 * salvage of a damaged log. Reads only; never writes or fences.
 */
import { CorruptionError, StorageError } from "../errors.js";
import { type MonotonicNow, nextTurn, processNow, SliceBudget } from "../util/slices.js";
import { turnLater } from "../util/timers.js";
import { decodeCheckpointInSlices, type VerifiedWalBatch } from "./codec.js";
import type { LogKeys } from "./keys.js";
import { Sleeper } from "./retry.js";
import { LogStorage } from "./storage.js";
import { WalTail } from "./tail.js";
import { listWalRun, tailDamage } from "./wal-run.js";
import { scanWal, WalScan } from "./wal-scan.js";

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
  /** The highest epoch of the fences and batches read (where a later scan of the WAL goes on from). */
  walEpoch: number;
}

/**
 * What a replay read and verified ahead, before its end was known: the
 * checkpoint of `start` and the unbroken run of WAL batches after it that a
 * listing showed (see {@link preread}).
 */
export interface Preread {
  start: ReplayStart;
  checkpoint: { snapshot: Uint8Array; bytes: number } | null;
  /** The verified batches of slots `replayAfter+1 .. next-1` whose records count. */
  batches: VerifiedWalBatch[];
  /** The first slot not read. */
  next: number;
  /** The scan of those slots, continued by the replay. */
  scan: WalScan;
}

/**
 * Reads and verifies what a replay from `start` will need, as far as the
 * store shows it now: the checkpoint, the unbroken run of WAL objects after
 * `replayAfter`, and the objects past a gap in it (which must be a crashed
 * writer's tail, see {@link tailDamage}). Throws {@link CorruptionError}
 * naming the first damaged or missing object. Reads only: an opener runs it
 * before it takes the log over, so that damage it can see fails the open
 * before anything is written.
 */
export async function preread(
  storage: LogStorage,
  keys: LogKeys,
  start: ReplayStart,
  sliceNow: MonotonicNow = processNow,
): Promise<Preread> {
  const from = start.replayAfter + 1;
  // As in replay, the WAL is listed and fetched while the checkpoint is read and verified.
  const stop = new FetchStop(storage);
  const fetched = (async () => {
    const { next, tail } = await listWalRun(stop.storage, keys, start.replayAfter, sliceNow);
    return { next, tail, bodies: await fetchWal(storage, keys, from, next, sliceNow, stop) };
  })();
  fetched.catch(() => {}); // awaited below; a rejection while the checkpoint loads is not unhandled
  const checkpoint = await checkpointBeside(
    () => loadCheckpoint(storage, keys, start, sliceNow),
    stop,
  );
  const { next, tail, bodies } = await fetched;
  const scan = new WalScan();
  const { batches } = await scanWal(keys, from, bodies, scan, [], sliceNow);
  if (tail.length > 0) {
    const damage = await tailDamage(storage, keys, next, tail);
    if (damage !== null) throw damage;
  }
  return { start, checkpoint, batches, next, scan };
}

/**
 * Loads the checkpoint of `start` and the WAL batches `replayAfter+1 .. to-1`
 * after it. Every object must exist and be intact ({@link CorruptionError}
 * otherwise). With `ahead` (a {@link preread} of the same `start`), only the
 * slots it did not read are read.
 */
export async function replay(
  storage: LogStorage,
  keys: LogKeys,
  start: ReplayStart,
  to: number,
  ahead?: Preread,
  sliceNow: MonotonicNow = processNow,
): Promise<Replayed> {
  const from = Math.min(ahead?.next ?? start.replayAfter + 1, to);
  // The WAL batches are fetched while the checkpoint is read and verified: an open waits for
  // the slower of the two reads, not their sum. They are verified (and any error of theirs
  // reported) only after the checkpoint, as before.
  const stop = new FetchStop(storage);
  const fetched = fetchWal(storage, keys, from, to, sliceNow, stop);
  fetched.catch(() => {}); // awaited below; a rejection while the checkpoint loads is not unhandled
  const loaded =
    ahead === undefined
      ? await checkpointBeside(() => loadCheckpoint(storage, keys, start, sliceNow), stop)
      : ahead.checkpoint;
  const scan = ahead?.scan ?? new WalScan();
  const { batches } = await scanWal(
    keys,
    from,
    await fetched,
    scan,
    [...(ahead?.batches ?? [])],
    sliceNow,
  );
  return {
    checkpoint: loaded?.snapshot ?? null,
    checkpointBytes: loaded?.bytes ?? 0,
    checkpointName: start.checkpoint,
    tail: new WalTail(batches),
    walEpoch: scan.epoch,
  };
}

/**
 * Reads and verifies WAL objects `from..to-1` only (no checkpoint), going on
 * with `scan` from the slots before `from`: the records of a log read earlier
 * up to slot `from-1` that came after it. Every slot must exist
 * ({@link CorruptionError} otherwise).
 */
export async function replayWal(
  storage: LogStorage,
  keys: LogKeys,
  from: number,
  to: number,
  scan: WalScan,
  sliceNow: MonotonicNow = processNow,
): Promise<WalTail> {
  const bodies = await fetchWal(storage, keys, from, to, sliceNow);
  const { batches } = await scanWal(keys, from, bodies, scan, [], sliceNow);
  return new WalTail(batches);
}

/** The checkpoint `start` names, verified (`null` when it names none). */
async function loadCheckpoint(
  storage: LogStorage,
  keys: LogKeys,
  start: ReplayStart,
  sliceNow: MonotonicNow,
): Promise<{ snapshot: Uint8Array; bytes: number } | null> {
  if (start.checkpoint === null) return null;
  const loaded = await readCheckpoint(storage, keys, start.checkpoint, start.replayAfter, sliceNow);
  if (loaded === null) {
    throw new CorruptionError(
      keys.checkpoint(start.checkpoint),
      `checkpoint referenced by ${start.manifestKey} is missing`,
    );
  }
  return loaded;
}

/**
 * Reads and verifies checkpoint `name`, which must cover WAL ids up to
 * `replayAfter`. `null` when the object is missing; {@link CorruptionError}
 * when it is damaged. The checksum runs in slices on `sliceNow`.
 */
export async function readCheckpoint(
  storage: LogStorage,
  keys: LogKeys,
  name: string,
  replayAfter: number,
  sliceNow: MonotonicNow = processNow,
): Promise<{ snapshot: Uint8Array; bytes: number } | null> {
  const key = keys.checkpoint(name);
  const body = await storage.get(key);
  if (body === null) return null;
  const snapshot = await decodeCheckpointInSlices(
    key,
    replayAfter,
    body,
    new SliceBudget(undefined, sliceNow),
  );
  return { snapshot, bytes: body.byteLength };
}

/**
 * Ends a {@link fetchWal} (and the listing before it) early: once stopped,
 * requests through {@link storage} ask for nothing more, and one waiting to
 * retry wakes at once (no backoff timer holds the process after the open
 * failed). The first reason given is kept.
 */
class FetchStop {
  reason: Error | null = null;
  readonly #sleeper: Sleeper;
  /** `storage` with its own backoff sleeps, failing with {@link reason} once stopped. */
  readonly storage: LogStorage;

  constructor(storage: LogStorage) {
    this.#sleeper = new Sleeper(storage.retry.clock);
    this.storage = new LogStorage(storage.store, {
      ...storage.retry,
      sleeper: this.#sleeper,
      stopReason: () => this.reason ?? storage.retry.stopReason(),
    });
  }

  stop(reason: Error): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.#sleeper.wakeAll();
  }
}

/**
 * The checkpoint `load` reads, alongside a WAL fetch: if it fails, the
 * fetch (whose bodies nobody will read) stops too.
 */
async function checkpointBeside<T>(load: () => Promise<T>, fetch: FetchStop): Promise<T> {
  try {
    return await load();
  } catch (error) {
    fetch.stop(new StorageError("the WAL fetch stopped: the checkpoint failed", { cause: error }));
    throw error;
  }
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
  sliceNow: MonotonicNow = processNow,
  stop: FetchStop = new FetchStop(storage),
): Promise<Uint8Array[]> {
  const count = Math.max(0, to - from);
  const bodies: Uint8Array[] = new Array(count);
  let next = 0;
  // The budget counts time spent within one turn of the event loop: a lane that resumes
  // after I/O, in a later turn, starts a new one (otherwise the waits for the store would
  // count, and every lane would yield a turn before each read of a store with latency).
  const budget = new SliceBudget(undefined, sliceNow);
  let budgetTurn = 0;
  let endedTurn = 0;
  /** Reads asked in the current slice: its first is asked whatever the clock says (progress). */
  let askedInSlice = 0;
  const startBudget = (): void => {
    budget.start();
    askedInSlice = 0;
    const started = ++budgetTurn;
    // Runs once the turn that started the budget (and its microtasks) is over.
    turnLater(() => {
      if (budgetTurn === started) endedTurn = started;
    });
  };
  startBudget();
  // One turn shared by every request lane: each lane waiting for a turn of its own would run
  // its slice right after the others', all before any I/O or timer.
  let turn: Promise<void> | null = null;
  // Once a read failed the fetch has failed: the other lanes ask for nothing more, and those
  // waiting to retry a read stop at once (the first failure is the one reported).
  const lanes = stop.storage;
  const fetchNext = async (): Promise<void> => {
    while (stop.reason === null && next < count) {
      if (endedTurn === budgetTurn) startBudget();
      else if (askedInSlice > 0 && budget.spent()) {
        turn ??= nextTurn().then(() => {
          turn = null;
          startBudget();
        });
        await turn;
        continue;
      }
      const index = next++;
      askedInSlice++;
      const key = keys.wal(from + index);
      try {
        const body = await lanes.get(key);
        if (body === null) throw new CorruptionError(key, "WAL batch listed for replay is missing");
        bodies[index] = body;
      } catch (error) {
        stop.stop(
          new StorageError("the WAL fetch stopped: another of its reads failed", { cause: error }),
        );
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPLAY_CONCURRENCY, count) }, fetchNext));
  return bodies;
}
