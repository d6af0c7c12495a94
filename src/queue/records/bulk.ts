/**
 * Records that act on many jobs of a queue, or on the queue itself
 * (promotion, retention sweeps, pause): their shapes and their encoding
 * (after the tag byte).
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../binary.js";
import { Tag } from "./tags.js";

/**
 * Most jobs one bulk record (promotion, retention sweep) moves: the live path
 * splits a bulk transition into records of at most this many jobs, applied
 * one per turn of the event loop, so no single `apply` runs long.
 */
export const BULK_RECORD_JOBS = 2_048;
/**
 * Fewest jobs the live path puts in one bulk record when more are due: a
 * record is sized to the time left in its slice, but never below this, so
 * the work progresses however slow the core.
 */
export const BULK_RECORD_MIN_JOBS = 16;

/** The tags of the bounded retention sweeps (one encoding). */
export type SweepSomeTag =
  | typeof Tag.SweepDoneSome
  | typeof Tag.SweepDoneNoResultSome
  | typeof Tag.SweepDeadSome;

/** Every scheduled job (all queues) with runAt ≤ `upTo` → pending. (Written by earlier versions.) */
export interface PromoteRecord {
  readonly tag: typeof Tag.Promote;
  readonly upTo: number;
}
/** Up to `limit` scheduled jobs of `queue` with runAt ≤ `upTo`, soonest first → pending. */
export interface PromoteSomeRecord {
  readonly tag: typeof Tag.PromoteSome;
  readonly queue: string;
  readonly upTo: number;
  readonly limit: number;
}
/** Kept done jobs of `queue` completed before `before` are deleted. (Written by earlier versions.) */
export interface SweepDoneRecord {
  readonly tag: typeof Tag.SweepDone;
  readonly queue: string;
  readonly before: number;
}
/** Dead jobs of `queue` that failed before `before` are deleted. (Written by earlier versions.) */
export interface SweepDeadRecord {
  readonly tag: typeof Tag.SweepDead;
  readonly queue: string;
  readonly before: number;
}
/**
 * Up to `limit` kept done (SweepDoneSome: with a result or without;
 * SweepDoneNoResultSome: without a result only) or dead (SweepDeadSome) jobs
 * of `queue` from before `before`, oldest first, are deleted.
 */
export interface SweepSomeRecord {
  readonly tag: SweepSomeTag;
  readonly queue: string;
  readonly before: number;
  readonly limit: number;
}
/**
 * Up to `limit` tombstones of jobs of `queue` cancelled before `before`,
 * oldest first, are dropped (encoded as {@link SweepSomeRecord}).
 */
export interface SweepCancelledRecord {
  readonly tag: typeof Tag.SweepCancelledSome;
  readonly queue: string;
  readonly before: number;
  readonly limit: number;
}
/** `queue` is paused (claims hand out nothing) or resumed. */
export interface PauseQueueRecord {
  readonly tag: typeof Tag.PauseQueue;
  readonly queue: string;
  readonly paused: boolean;
}

export function writePromoteSome(w: ByteWriter, rec: PromoteSomeRecord): void {
  w.string(rec.queue);
  w.varint(rec.upTo);
  w.varint(rec.limit);
}

export function readPromoteSome(r: ByteReader): PromoteSomeRecord {
  return { tag: Tag.PromoteSome, queue: r.string(), upTo: r.varint(), limit: r.varint() };
}

export function writeSweep(w: ByteWriter, rec: SweepDoneRecord | SweepDeadRecord): void {
  w.string(rec.queue);
  w.varint(rec.before);
}

export function readSweep<T extends typeof Tag.SweepDone | typeof Tag.SweepDead>(
  r: ByteReader,
  tag: T,
): { tag: T; queue: string; before: number } {
  return { tag, queue: r.string(), before: r.varint() };
}

export function writeSweepSome(w: ByteWriter, rec: SweepSomeRecord | SweepCancelledRecord): void {
  w.string(rec.queue);
  w.varint(rec.before);
  w.varint(rec.limit);
}

export function readSweepSome<T extends SweepSomeTag | typeof Tag.SweepCancelledSome>(
  r: ByteReader,
  tag: T,
): { tag: T; queue: string; before: number; limit: number } {
  return { tag, queue: r.string(), before: r.varint(), limit: r.varint() };
}

export function writePauseQueue(w: ByteWriter, rec: PauseQueueRecord): void {
  w.string(rec.queue);
  w.u8(rec.paused ? 1 : 0);
}

export function readPauseQueue(r: ByteReader): PauseQueueRecord {
  const queue = r.string();
  const paused = r.u8();
  if (paused > 1) throw new DecodeError(`pause flag ${paused} is not 0 or 1`);
  return { tag: Tag.PauseQueue, queue, paused: paused === 1 };
}
