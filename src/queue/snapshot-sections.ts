/**
 * Sections of a version-2 snapshot after its regions, for state beside the
 * job table (schedules now; more kinds later). Each is
 *
 *     varint kind | varint length | bytes
 *
 * so a decoder that meets a kind it does not know refuses the snapshot
 * (written by a newer release) instead of dropping state, and a snapshot
 * written before sections existed (nothing after the regions) decodes as
 * having none. Kinds are never renumbered: 21 = the KV namespace (written last,
 * in slices, by `snapshot-kv.ts`), 28 = schedules, 29 = tombstones of removed
 * schedules (name and `firedUpTo`, oldest removal first), 36 = tombstones of
 * cancelled jobs (written and read in slices by `snapshot-cancelled.ts`).
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.js";
import { NewerFormatError } from "./decode-error.js";
import { readScheduleDefinition, writeScheduleDefinition } from "./schedules/codec.js";
import { type Schedule, storedSchedule } from "./schedules/types.js";
import type { State } from "./state.js";

/** Section kinds. */
export const Section = {
  Kv: 21,
  Schedules: 28,
  ScheduleTombstones: 29,
  CancelledJobs: 36,
} as const;

/** Schedules (or tombstones) encoded between two checks of the budget. */
const SCHEDULES_PER_CHECK = 64;
/** Bytes of entries read after which a slice checks its budget, whatever their count. */
const SECTION_BYTES_PER_CHECK = 1 << 20;

/**
 * Encodes the sections of `state` as of its construction (the snapshot's
 * cut), a few milliseconds per {@link step}: the cut copies only the lists
 * of schedule objects (immutable: `apply` replaces them) and of tombstones,
 * so a state with a hundred thousand schedules costs no long step.
 */
export class SectionsWriter {
  readonly #schedules: Schedule[];
  readonly #tombstoneNames: string[];
  readonly #tombstoneTimes: number[];
  readonly #scheduleBytes = new ByteWriter(256);
  readonly #tombstoneBytes = new ByteWriter(256);
  #schedule = 0;
  #tombstone = 0;

  constructor(state: State) {
    this.#schedules = Array.from(state.schedules.values());
    this.#tombstoneNames = Array.from(state.scheduleTombstones.keys());
    this.#tombstoneTimes = Array.from(state.scheduleTombstones.values());
    this.#scheduleBytes.varint(this.#schedules.length);
    this.#tombstoneBytes.varint(this.#tombstoneNames.length);
  }

  /**
   * Encodes until `budget` is spent (checked every few dozen entries); the
   * sections' bytes once all are encoded, `null` before.
   */
  step(budget: { spent(): boolean }): Uint8Array | null {
    const schedules = this.#schedules;
    while (this.#schedule < schedules.length) {
      const end = Math.min(schedules.length, this.#schedule + SCHEDULES_PER_CHECK);
      for (; this.#schedule < end; this.#schedule++) {
        const schedule = schedules[this.#schedule]!;
        writeScheduleDefinition(this.#scheduleBytes, schedule);
        this.#scheduleBytes.varint(schedule.firedUpTo);
      }
      if (budget.spent()) return null;
    }
    const names = this.#tombstoneNames;
    while (this.#tombstone < names.length) {
      const end = Math.min(names.length, this.#tombstone + SCHEDULES_PER_CHECK);
      for (; this.#tombstone < end; this.#tombstone++) {
        this.#tombstoneBytes.string(names[this.#tombstone]!);
        this.#tombstoneBytes.varint(this.#tombstoneTimes[this.#tombstone]!);
      }
      if (budget.spent()) return null;
    }
    const out = new ByteWriter(64);
    if (schedules.length > 0) {
      out.varint(Section.Schedules);
      out.bytes(this.#scheduleBytes.finish());
    }
    if (names.length > 0) {
      out.varint(Section.ScheduleTombstones);
      out.bytes(this.#tombstoneBytes.finish());
    }
    return out.finish();
  }
}

/** The sections of `state` as of now, in one step. */
export function encodeSections(state: State): Uint8Array {
  return new SectionsWriter(state).step({ spent: () => false })!;
}

/** A section being read: its kind, its body, and how many entries are left. */
interface OpenSection {
  kind: number;
  body: ByteReader;
  left: number;
}

/** The bodies of the sections read in slices by their own readers (null: absent). */
export interface SlicedBodies {
  cancelled: Uint8Array | null;
  kv: Uint8Array | null;
}

/**
 * Reads the sections in `bytes` into `state` a few milliseconds per
 * {@link step} (schedules and tombstones a few dozen between budget checks),
 * but for the KV and cancelled-job sections, whose bodies come back (views)
 * to be loaded in slices by their own readers. Throws `DecodeError`.
 */
export class SectionsReader {
  readonly #reader: ByteReader;
  readonly #state: State;
  readonly #seen = new Set<number>();
  #open: OpenSection | null = null;
  readonly #sliced: SlicedBodies = { cancelled: null, kv: null };

  constructor(bytes: Uint8Array, state: State) {
    this.#reader = new ByteReader(bytes);
    this.#state = state;
  }

  /** Reads until `budget` is spent; the sliced sections' bodies once every section is read, `null` before. */
  step(budget: { spent(): boolean }): SlicedBodies | null {
    const r = this.#reader;
    for (;;) {
      if (this.#open === null) {
        if (r.remaining === 0) return this.#sliced;
        this.#open = this.#begin(r.varint(), new ByteReader(r.bytes()));
      }
      const open = this.#open;
      const end = Math.max(0, open.left - SCHEDULES_PER_CHECK);
      // Entries may be large (a schedule's payload, a tombstone's history): bytes bound a slice too.
      const from = open.body.position;
      const more = (): boolean =>
        open.left > end && open.body.position - from < SECTION_BYTES_PER_CHECK;
      if (open.kind === Section.Schedules) for (; more(); open.left--) this.#schedule(open.body);
      else if (open.kind === Section.ScheduleTombstones)
        for (; more(); open.left--) this.#tombstone(open.body);
      if (open.left === 0) {
        if (open.body.remaining !== 0)
          throw new DecodeError(`${open.body.remaining} bytes after snapshot section ${open.kind}`);
        this.#open = null;
      }
      if (budget.spent()) return null;
    }
  }

  #begin(kind: number, body: ByteReader): OpenSection {
    if (this.#seen.has(kind)) throw new DecodeError(`snapshot has section ${kind} twice`);
    this.#seen.add(kind);
    switch (kind) {
      case Section.Kv:
        this.#sliced.kv = body.raw(body.remaining);
        return { kind, body, left: 0 };
      case Section.CancelledJobs:
        this.#sliced.cancelled = body.raw(body.remaining);
        return { kind, body, left: 0 };
      case Section.Schedules:
      case Section.ScheduleTombstones:
        return { kind, body, left: body.varint() };
      default:
        throw new NewerFormatError(`snapshot has an unknown section ${kind}`);
    }
  }

  #schedule(body: ByteReader): void {
    const definition = readScheduleDefinition(body);
    const firedUpTo = body.varint();
    if (this.#state.schedules.has(definition.name))
      throw new DecodeError(`snapshot holds schedule ${JSON.stringify(definition.name)} twice`);
    this.#state.schedules.set(definition.name, storedSchedule(definition, firedUpTo));
  }

  #tombstone(body: ByteReader): void {
    const name = body.string();
    const firedUpTo = body.varint();
    if (this.#state.scheduleTombstones.has(name))
      throw new DecodeError(`snapshot holds the tombstone of ${JSON.stringify(name)} twice`);
    this.#state.scheduleTombstones.set(name, firedUpTo);
  }
}
