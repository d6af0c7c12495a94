/**
 * The snapshots behind `QueueReader`: what a reader's state can be rebuilt
 * from (its lineage), the one state object that readers of successive
 * moments hand on to each other, and the reopen's steps over them (keep the
 * checkpoint's bytes, hand the state on with a new tail, or tell that a
 * newer checkpoint is worth reading instead). `reader.ts` keeps the public
 * reader and its reads; this module owns the state machine of its snapshots.
 */
import { CorruptionError } from "../errors.js";
import type { LogContents, LogUpdate, ReadLogOptions } from "../log/index.js";
import { readLogCheckpoint, WalTail } from "../log/index.js";
import type { MeteredStore } from "../store/wrappers/metered.js";
import { applyTail, restoreState, restoreStateNow } from "./restore.js";
import type { State } from "./state.js";

/**
 * What a reader's state can be rebuilt from without reading the store: the
 * checkpoint it was read from, as read (bytes the state does not write
 * into), and the WAL records applied to it since: the tail read with it, then
 * one tail per reopen that brought any. Readers share it; tails are only ever
 * appended (a reader that needs a different continuation forks it).
 */
interface Lineage {
  /**
   * The checkpoint's snapshot bytes as read. Not kept at open (the state
   * writes into the bytes it decoded): the first reopen that hands the
   * state on reads the checkpoint again, so a reader never reopened holds
   * no copy. `null` until then, and for a log read before its first checkpoint.
   */
  base: Uint8Array | null;
  /** The checkpoint read (`null` with none): its name and key, the WAL it covers, its snapshot's size. */
  readonly checkpoint: { name: string; key: string; replayAfter: number; bytes: number } | null;
  readonly tails: WalTail[];
  /** The tails' encoded size: once it outgrows the base and a newer checkpoint exists, a reopen reads that. */
  bytes: number;
}

/**
 * One state object and the snapshot it holds now. A reopen that brings
 * records hands the state on: it applies them to the same object (no copy of
 * a state of a million jobs) and moves {@link owner} to the new snapshot.
 */
interface StateCell {
  readonly state: State;
  /** The snapshot whose state this is now; `null` while records are being applied to it. */
  owner: Snapshot | null;
}

/**
 * The state as of one moment, shared by the readers that saw that moment (a
 * reopen that found nothing new shares it). When its cell was handed on, its
 * state is rebuilt from its lineage on the next read.
 */
export interface Snapshot {
  cell: StateCell;
  lineage: Lineage;
  /** How many of the lineage's tails the state holds. */
  applied: number;
}

/**
 * WAL bytes a reader's lineage keeps, whatever its checkpoint's size, before
 * a reopen reads a newer checkpoint instead (re-reading a small log to save
 * a few megabytes is not worth its requests).
 */
const KEPT_WAL_FLOOR = 16 * 1024 * 1024;

/**
 * The snapshot of a full read of a store: its state restored
 * from `contents` (the checkpoint and the WAL after it), whose lineage is
 * that checkpoint (not its bytes: see {@link Lineage.base}) and that WAL.
 */
export async function readSnapshot(contents: LogContents): Promise<Snapshot> {
  const name = contents.position?.manifest.checkpoint ?? null;
  // The checkpoint of the newest manifest read (`position`'s), as listed with it.
  const key = name === null ? null : (contents.info.checkpoint?.key ?? null);
  const state = await restoreState(key, contents.checkpoint, contents.tail);
  clearWriterWork(state);
  const lineage: Lineage = {
    base: null,
    checkpoint:
      name === null || key === null || contents.checkpoint === null
        ? null
        : {
            name,
            key,
            replayAfter: contents.position!.manifest.replayAfter,
            bytes: contents.checkpoint.byteLength,
          },
    tails: [contents.tail],
    bytes: contents.tail.bytes,
  };
  const snapshot: Snapshot = { cell: { state, owner: null }, lineage, applied: 1 };
  snapshot.cell.owner = snapshot;
  return snapshot;
}

/** The state of `snapshot`: rebuilt (from memory, at once) if a later reopen took it on. */
export function stateOf(snapshot: Snapshot): State {
  const { cell } = snapshot;
  if (cell.owner === snapshot) return cell.state;
  const { base, checkpoint, tails } = snapshot.lineage;
  // Read back by the reopen that handed the state on, before it did.
  if (checkpoint !== null && base === null)
    throw new Error("a handed-on reader's lineage lacks its checkpoint");
  const state = restoreStateNow(
    checkpoint?.key ?? null,
    base?.slice() ?? null, // a decoded state writes into its bytes: the base stays as read
    WalTail.concat(tails.slice(0, snapshot.applied)),
  );
  clearWriterWork(state);
  snapshot.cell = { state, owner: snapshot };
  return state;
}

/**
 * Reads `snapshot`'s checkpoint again, once per lineage, before its
 * state is handed on: what this reader rebuilds from if read again. The
 * reason a full read is needed instead when it cannot (the checkpoint was
 * collected or is damaged), or `null`.
 */
async function keepBase(
  snapshot: Snapshot,
  store: MeteredStore,
  path: string,
  options: ReadLogOptions,
): Promise<string | null> {
  const { lineage } = snapshot;
  const { checkpoint } = lineage;
  if (checkpoint === null || lineage.base !== null) return null;
  try {
    const base = await readLogCheckpoint(
      store,
      path,
      checkpoint.name,
      checkpoint.replayAfter,
      options,
    );
    if (base === null)
      return `the checkpoint it was read from (${checkpoint.name}) is gone, so this snapshot could not be kept`;
    lineage.base ??= base;
    return null;
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    return `the checkpoint it was read from does not read back: ${error.message}`;
  }
}

/**
 * Whether `update`'s records should rather be read from a newer checkpoint:
 * the WAL kept since `snapshot`'s checkpoint outgrew it (and
 * {@link KEPT_WAL_FLOOR}; what a reader rebuilds from would keep growing)
 * and the writer wrote one since.
 */
function outgrown(snapshot: Snapshot, update: LogUpdate): boolean {
  const { lineage } = snapshot;
  return (
    update.tail.count > 0 &&
    lineage.bytes + update.tail.bytes > Math.max(lineage.checkpoint?.bytes ?? 0, KEPT_WAL_FLOOR) &&
    update.position.manifest.checkpoint !== (lineage.checkpoint?.name ?? null)
  );
}

/**
 * A snapshot of `from`'s state with `tail`'s records applied: the same
 * state object, handed on (`from` rebuilds its own if read again).
 */
async function handOn(from: Snapshot, tail: WalTail, sliceMs: number): Promise<Snapshot> {
  const state = stateOf(from);
  let { lineage } = from;
  const { applied, cell } = from;
  cell.owner = null; // read while the records apply, `from` rebuilds its own state
  await applyTail(state, tail, sliceMs);
  clearWriterWork(state);
  // Another reopen of `from` went on from the same point meanwhile: continue a copy of the lineage.
  if (lineage.tails.length !== applied) {
    const tails = lineage.tails.slice(0, applied);
    lineage = { ...lineage, tails, bytes: tails.reduce((sum, t) => sum + t.bytes, 0) };
  }
  lineage.tails.push(tail);
  lineage.bytes += tail.bytes;
  const next: Snapshot = { cell, lineage, applied: applied + 1 };
  cell.owner = next;
  return next;
}

/**
 * The snapshot after `update`, the records a reopen of `from` (of the store
 * at `path`) found: `from` itself when it brought none, else `from`'s state
 * handed on with them. Or, as a string, the reason the reopen should read
 * the log in full instead: the WAL kept outgrew its checkpoint, the
 * checkpoint cannot be kept, or the records do not apply.
 */
export async function advance(
  from: Snapshot,
  update: LogUpdate,
  store: MeteredStore,
  path: string,
  options: ReadLogOptions,
  sliceMs: number,
): Promise<Snapshot | string> {
  if (outgrown(from, update))
    return "the WAL kept since its checkpoint outgrew it, and there is a newer one";
  if (update.tail.count === 0) return from;
  const gone = await keepBase(from, store, path, options);
  if (gone !== null) return gone;
  try {
    return await handOn(from, update.tail, sliceMs);
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    // Records that do not apply to this state: the log is not what this reader read.
    return `the records read do not apply to this snapshot: ${String(error)}`;
  }
}

/** Drops what `apply` keeps for a writer's deletes and wake-ups: a reader acts on neither. */
function clearWriterWork(state: State): void {
  state.payloadGarbage.length = 0;
  state.flowWoken.clear();
}
