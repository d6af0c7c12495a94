/**
 * Encoding a version-2 snapshot of a {@link State} in slices (see
 * `snapshot-layout.ts` for the format). The consistent view is taken in the
 * constructor, synchronously at the log's cut: the table's pages, the index
 * orders, the arena's segments, the tombstones of cancelled jobs and the KV
 * namespace are frozen (copy-on-write, so freezing copies nothing); the
 * small per-queue values and the lists of schedules (immutable objects) and
 * their tombstones are copied. `step()` then
 * encodes a few milliseconds' worth at a time while the live state moves on.
 *
 * The extras region is written by `snapshot-extras-writer.ts`, the index
 * region by `snapshot-index-writer.ts`.
 */
import type { SnapshotEncoder } from "../log/index.js";
import { SliceBudget } from "../util/slices.js";
import type { ArenaView } from "./arena.js";
import { ByteWriter } from "./binary.js";
import type { IndexView } from "./handle-index.js";
import type { QueueState } from "./queue-state.js";
import { cancelledSectionWriter } from "./snapshot-cancelled.js";
import { EXTRAS_BYTES_PER_CHECK, ExtrasRegionWriter } from "./snapshot-extras-writer.js";
import { IndexRegionWriter, indexRegionWords, liveIndexes } from "./snapshot-index-writer.js";
import { kvSectionWriter } from "./snapshot-kv.js";
import {
  COLUMN_WIDTH,
  type Layout,
  LITTLE_ENDIAN,
  layOut,
  QueueFlag,
  REGION_TABLE_BYTES,
  Region,
  SNAPSHOT_REVISION,
  SNAPSHOT_VERSION,
  swapBytes,
} from "./snapshot-layout.js";
import { SectionsWriter } from "./snapshot-sections.js";
import type { SlicedSectionSteps } from "./snapshot-sliced.js";
import type { State } from "./state.js";
import { FREE, ID_BYTES, PAGE_SLOTS, type Page, type TableView, TRACE_STRIDE } from "./table.js";

interface QueueView {
  qs: QueueState;
  name: string;
  doneCount: number;
  /** Queue flags (see `QueueFlag` in the layout). */
  flags: number;
  /** Its index views as of the cut, in `liveIndexes` order. */
  indexes: IndexView[];
}

enum Phase {
  Sections,
  Rank,
  /** Lays the snapshot out and allocates it, at the start of a step of its own. */
  Allocate,
  Extras,
  Rows,
  Indexes,
  Sliced,
  Done,
}

/**
 * Rows of a page ranked or written between two budget checks: a row with
 * extras costs a few microseconds to rank, so a whole page of them would
 * overrun a slice many times over.
 */
const ROWS_PER_CHECK = 1_024;

export class SnapshotWriter implements SnapshotEncoder {
  readonly #state: State;
  readonly #reserve: number;
  readonly #table: TableView;
  readonly #arena: ArenaView;
  readonly #queues: QueueView[];
  readonly #lastId: string | null;
  readonly #nextSeq: number;
  readonly #budget: SliceBudget;
  /** The sections after the regions (schedules), as of the cut. */
  readonly #sectionsWriter: SectionsWriter;
  /** Their bytes, once encoded (the first phase). */
  #sections: Uint8Array = new Uint8Array(0);
  /**
   * The sections written in slices after the others, from views frozen at
   * the cut: the tombstones of cancelled jobs, then the KV namespace.
   */
  readonly #sliced: SlicedSectionSteps[];
  /** The sliced section being written. */
  #slicedAt = 0;
  #released = false;

  #phase = Phase.Sections;
  /** Next page of the current row pass. */
  #page = 0;
  /** Next row within that page. */
  #row = 0;
  /** Dense position (in the snapshot) of each live row. */
  readonly #rank: Int32Array;
  #jobs = 0;
  #payloadBytes = 0;
  /** The extras region: encoded by the rank pass, copied into the output in slices. */
  readonly #extras = new ExtrasRegionWriter();

  #out: Uint8Array | null = null;
  #layout: Layout | null = null;
  #payloadAt = 0;
  /** The index region (its list counts written once the snapshot is laid out). */
  #indexes: IndexRegionWriter | null = null;

  /** `budget`: how long one step may run (tests pass a zero budget: one unit of work per step). */
  constructor(state: State, reserve: number, budget = new SliceBudget()) {
    this.#state = state;
    this.#reserve = reserve;
    this.#budget = budget;
    this.#table = state.table.freeze();
    this.#arena = state.arena.view();
    this.#lastId = state.lastId;
    this.#nextSeq = state.nextSeq;
    this.#sliced = [
      cancelledSectionWriter(state.cancelled.freeze()),
      kvSectionWriter(state.kv.freeze()),
    ];
    this.#queues = state.queueList.map((qs) => ({
      qs,
      name: qs.name,
      doneCount: qs.doneCount,
      flags: (qs.paused ? QueueFlag.Paused : 0) | (qs.heldJob ? 0 : QueueFlag.NoJobYet),
      indexes: liveIndexes(qs).map((index) => index.freeze()),
    }));
    this.#rank = new Int32Array(this.#table.pages.length * PAGE_SLOTS);
    this.#sectionsWriter = new SectionsWriter(state);
  }

  step(): Uint8Array | null {
    if (this.#released) throw new Error("snapshot encoder used after it ended");
    this.#budget.start();
    for (;;) {
      switch (this.#phase) {
        case Phase.Sections: {
          const sections = this.#sectionsWriter.step(this.#budget);
          if (sections === null) return null;
          this.#sections = sections;
          this.#phase = Phase.Rank;
          break;
        }
        case Phase.Rank:
          if (!this.#rankPages()) return null;
          // The allocation of the whole snapshot (a hundred megabytes and more at a
          // million jobs) took 2-20 ms in one piece, mostly garbage-collection work V8
          // does for the external memory it adds: it gets a fresh slice, not the end of
          // the rank pass's.
          this.#phase = Phase.Allocate;
          return null;
        case Phase.Allocate:
          this.#start();
          this.#phase = Phase.Extras;
          break;
        case Phase.Extras: {
          const at = this.#reserve + this.#layout!.offsets[Region.Extras]!;
          if (!this.#extras.copy(this.#out!, at, this.#budget)) return null;
          this.#phase = Phase.Rows;
          this.#page = 0;
          this.#row = 0;
          break;
        }
        case Phase.Rows:
          if (!this.#writeRows()) return null;
          this.#phase = Phase.Indexes;
          break;
        case Phase.Indexes:
          if (!this.#indexes!.step(this.#budget)) return null;
          this.#phase = Phase.Sliced;
          this.#slicedAt = this.#reserve + this.#layout!.size + this.#sections.byteLength;
          break;
        case Phase.Sliced: {
          const section = this.#sliced[0];
          if (section === undefined) {
            this.#phase = Phase.Done;
            break;
          }
          if (!section.step(this.#out!, this.#slicedAt, this.#budget)) return null;
          this.#slicedAt += section.bytes;
          this.#sliced.shift();
          break;
        }
        case Phase.Done: {
          const out = this.#out!;
          if (!LITTLE_ENDIAN) this.#swapColumns(out);
          this.abandon();
          return out;
        }
      }
      if (this.#budget.spent()) return null;
    }
  }

  abandon(): void {
    if (this.#released) return;
    this.#released = true;
    this.#state.table.thaw(this.#table);
    for (const { qs, indexes } of this.#queues) {
      const live = liveIndexes(qs);
      for (let i = 0; i < live.length; i++) live[i]!.thaw(indexes[i]!);
    }
  }

  /**
   * Pass 1: the dense position of every live row, payload bytes, extras. True
   * when done. Resumes mid-page: a page of jobs that all carry extras (kept
   * done or dead jobs with their attempt history) takes tens of milliseconds.
   */
  #rankPages(): boolean {
    const pages = this.#table.pages;
    while (this.#page < pages.length) {
      const p = this.#page;
      const page = pages[p]!;
      const base = p * PAGE_SLOTS;
      const from = this.#row;
      let to = Math.min(PAGE_SLOTS, from + ROWS_PER_CHECK);
      // Extras may be large (results, histories): a megabyte of them ends the slice's rows too.
      let sliceExtras = 0;
      for (let i = from; i < to; i++) {
        if (page.status[i] === FREE) continue;
        const dense = this.#jobs++;
        this.#rank[base + i] = dense;
        this.#payloadBytes += page.payloadLength[i]!;
        const extras = page.extras?.[i];
        const traced = page.trace !== null && page.trace[i * TRACE_STRIDE] === 1;
        if (extras !== undefined || traced) {
          sliceExtras += this.#extras.add(dense, extras, traced ? page.trace : null, i);
          if (sliceExtras >= EXTRAS_BYTES_PER_CHECK) to = i + 1;
        }
      }
      this.#row = to;
      if (to === PAGE_SLOTS) {
        this.#page++;
        this.#row = 0;
      }
      if (this.#budget.spent()) return this.#page === pages.length;
    }
    return true;
  }

  /** Lays the snapshot out, allocates it and writes the head and region table. */
  #start(): void {
    const head = new ByteWriter(256);
    head.u8(SNAPSHOT_VERSION);
    head.u8(SNAPSHOT_REVISION);
    if (this.#lastId === null) head.u8(0);
    else {
      head.u8(1);
      head.id(this.#lastId);
    }
    head.varint(this.#nextSeq);
    head.varint(this.#queues.length);
    for (const q of this.#queues) {
      head.string(q.name);
      head.varint(q.doneCount);
      head.varint(q.flags);
    }
    head.varint(this.#jobs);
    head.varint(this.#extras.count);
    const headBytes = head.finish();
    const n = this.#jobs;
    const views = this.#queues.map((q) => q.indexes);
    const indexWords = indexRegionWords(views);
    this.#extras.take();
    const lengths = [
      ...COLUMN_WIDTH.map((width) => width * n),
      this.#payloadBytes,
      this.#extras.bytes,
      4 * indexWords,
    ];
    const layout = layOut(headBytes.byteLength + REGION_TABLE_BYTES, lengths, this.#reserve);
    const out = new Uint8Array(
      this.#reserve +
        layout.size +
        this.#sections.byteLength +
        this.#sliced.reduce((sum, section) => sum + section.bytes, 0),
    );
    out.set(headBytes, this.#reserve);
    out.set(this.#sections, this.#reserve + layout.size);
    const table = new DataView(
      out.buffer,
      this.#reserve + headBytes.byteLength,
      REGION_TABLE_BYTES,
    );
    for (let r = 0; r < lengths.length; r++) {
      table.setBigUint64(r * 16, BigInt(layout.offsets[r]!), true);
      table.setBigUint64(r * 16 + 8, BigInt(lengths[r]!), true);
    }
    this.#out = out;
    this.#layout = layout;
    this.#payloadAt = this.#reserve + layout.offsets[Region.Payload]!;
    const entries = this.#u32(Region.Indexes, indexWords);
    this.#indexes = new IndexRegionWriter(views, this.#table.pages, this.#rank, entries);
  }

  /** Pass 2: every live row's columns and payload, page by page. True when done. */
  #writeRows(): boolean {
    const pages = this.#table.pages;
    const layout = this.#layout!;
    const out = this.#out!;
    const n = this.#jobs;
    const idAt = this.#reserve + layout.offsets[Region.Id]!;
    const statusAt = this.#reserve + layout.offsets[Region.Status]!;
    const flagsAt = this.#reserve + layout.offsets[Region.Flags]!;
    const queue = this.#u32(Region.Queue, n);
    const attempts = this.#u32(Region.Attempts, n);
    const maxAttempts = this.#u32(Region.MaxAttempts, n);
    const priority = this.#u32(Region.Priority, n);
    const enqueuedAt = this.#f64(Region.EnqueuedAt, n);
    const at = this.#f64(Region.At, n);
    const seq = this.#f64(Region.Seq, n);
    const payloadLength = this.#u32(Region.PayloadLength, n);
    while (this.#page < pages.length) {
      const p = this.#page;
      const page = pages[p]!;
      const base = p * PAGE_SLOTS;
      const from = this.#row;
      const to = Math.min(PAGE_SLOTS, from + ROWS_PER_CHECK);
      for (let i = from; i < to; i++) {
        if (page.status[i] === FREE) continue;
        const d = this.#rank[base + i]!;
        const idFrom = i * ID_BYTES;
        const idTo = idAt + d * ID_BYTES;
        for (let k = 0; k < ID_BYTES; k++) out[idTo + k] = page.id[idFrom + k]!;
        out[statusAt + d] = page.status[i]!;
        out[flagsAt + d] = page.flags[i]!;
        queue[d] = page.queue[i]!;
        attempts[d] = page.attempts[i]!;
        maxAttempts[d] = page.maxAttempts[i]!;
        priority[d] = page.priority[i]!;
        enqueuedAt[d] = page.enqueuedAt[i]!;
        at[d] = page.at[i]!;
        seq[d] = page.seq[i]!;
        payloadLength[d] = page.payloadLength[i]!;
      }
      this.#copyPayloads(page, from, to);
      if (to === PAGE_SLOTS) {
        this.#state.table.releasePage(page);
        this.#page++;
        this.#row = 0;
      } else this.#row = to;
      if (this.#budget.spent()) return this.#page === pages.length;
    }
    return true;
  }

  /** Appends the payloads of rows `from..to` of `page` that are live, copying runs of adjacent bytes at once. */
  #copyPayloads(page: Page, from: number, to: number): void {
    let runSegment = -1;
    let runFrom = 0;
    let runTo = 0;
    for (let i = from; i < to; i++) {
      if (page.status[i] === FREE) continue;
      const length = page.payloadLength[i]!;
      if (length === 0) continue;
      const segment = page.payloadSegment[i]!;
      const offset = page.payloadOffset[i]!;
      if (segment === runSegment && offset === runTo) runTo += length;
      else {
        if (runSegment !== -1) this.#copyRun(runSegment, runFrom, runTo);
        runSegment = segment;
        runFrom = offset;
        runTo = offset + length;
      }
    }
    if (runSegment !== -1) this.#copyRun(runSegment, runFrom, runTo);
  }

  /** Appends bytes `from..to` of arena segment `segment` to the payload region. */
  #copyRun(segment: number, from: number, to: number): void {
    const out = this.#out!;
    const bytes = this.#arena[segment]!;
    const length = to - from;
    const at = this.#payloadAt;
    if (length <= 64) for (let k = 0; k < length; k++) out[at + k] = bytes[from + k]!;
    else out.set(bytes.subarray(from, to), at);
    this.#payloadAt = at + length;
  }

  #u32(region: number, count: number): Uint32Array {
    const out = this.#out!;
    return new Uint32Array(
      out.buffer,
      out.byteOffset + this.#reserve + this.#layout!.offsets[region]!,
      count,
    );
  }

  #f64(region: number, count: number): Float64Array {
    const out = this.#out!;
    return new Float64Array(
      out.buffer,
      out.byteOffset + this.#reserve + this.#layout!.offsets[region]!,
      count,
    );
  }

  /** Big-endian machines: turn the numeric columns and index lists little-endian. */
  #swapColumns(out: Uint8Array): void {
    const layout = this.#layout!;
    const widths = [...COLUMN_WIDTH, 1, 1, 4];
    for (let r = 0; r < widths.length; r++) {
      if (r === Region.Id) continue;
      const from = this.#reserve + layout.offsets[r]!;
      swapBytes(out.subarray(from, from + layout.lengths[r]!), widths[r]!);
    }
  }
}
