/**
 * Decoding a version-2 snapshot (see `snapshot-layout.ts`) into a
 * {@link State}, in slices: `step()` does a few milliseconds of work and
 * returns the state once complete. The table's pages become typed-array views
 * of the snapshot's own bytes wherever they are aligned (no copy), and the
 * payload region becomes one arena segment; the id index and the queues'
 * indexes are rebuilt from the columns and the stored orders. Everything is
 * checked on the way: a malformed snapshot is a `DecodeError`, never a state
 * that breaks later.
 *
 * The decoder takes the bytes over: the state it builds keeps and writes
 * into them. Turning the stored columns into table pages is `snapshot-pages.ts`;
 * checking and loading the stored index lists is `snapshot-index-reader.ts`.
 */
import { SliceBudget } from "../util/slices.js";
import { ByteReader, DecodeError } from "./binary.js";
import { NewerFormatError } from "./decode-error.js";
import { readMoreExtras, readProgressExtra } from "./extras-codec.js";
import { readFlowExtras } from "./flow-codec.js";
import { WAITING_AT } from "./flow-state.js";
import { buildGroups, groupOnlyExtras } from "./groups.js";
import type { IdIndexLoader } from "./id-index.js";
import { readHeaders } from "./records/headers.js";
import { cancelledSectionReader } from "./snapshot-cancelled.js";
import { IndexRegionReader } from "./snapshot-index-reader.js";
import { kvSectionReader } from "./snapshot-kv.js";
import {
  COLUMN_WIDTH,
  EXTRA_KNOWN,
  Extra,
  QueueFlag,
  type QueueHead,
  REGION_COUNT,
  Region,
  SNAPSHOT_REVISION,
  SNAPSHOT_VERSION,
} from "./snapshot-layout.js";
import { copyPage, viewPage } from "./snapshot-pages.js";
import { SectionsReader } from "./snapshot-sections.js";
import type { SlicedSectionReader } from "./snapshot-sliced.js";
import { State, Status } from "./state.js";
import { Flag, ID_BYTES, type JobExtras, PAGE_SLOTS, type Page } from "./table.js";
import { TRACE_BYTES } from "./trace-context.js";

enum Phase {
  Pages,
  Extras,
  Ids,
  Indexes,
  Dedup,
  Groups,
  Sections,
}

/** Rows or entries handled between two budget checks. */
const PER_CHECK = 4_096;
/**
 * Jobs of the extras region read between two budget checks. Fewer than
 * {@link PER_CHECK}: a job with a caller id costs microseconds (its string,
 * its extras, a set in the by-id map, more while a shard of the map grows),
 * and 4,096 of them made one turn of 12 ms and more at a million jobs.
 */
const EXTRAS_PER_CHECK = 256;
/** Bytes of extras read after which the budget is checked, however few jobs they are. */
const EXTRAS_BYTES_PER_CHECK = 1 << 20;

/** Whether the id at `id[at..at+16)` sorts after `last` (ids compare as big-endian bytes). */
function newerThan(id: Uint8Array, at: number, last: Uint8Array): boolean {
  for (let k = 0; k < ID_BYTES; k++) {
    const d = id[at + k]! - last[k]!;
    if (d !== 0) return d > 0;
  }
  return false;
}

export class SnapshotReader {
  readonly #bytes: Uint8Array;
  readonly #state = new State();
  readonly #queues: QueueHead[] = [];
  readonly #jobs: number;
  #ids: IdIndexLoader | null = null;
  /** The newest id issued, binary (every job's id must be ≤ it). */
  #lastId: Uint8Array | null = null;
  readonly #extrasCount: number;
  readonly #offsets: number[] = [];
  readonly #lengths: number[] = [];
  /** Where the regions end (sections follow). */
  #regionsEnd = 0;
  readonly #budget: SliceBudget;
  readonly #moreJobs: number;
  readonly #pages: Page[] = [];
  /** Jobs per queue and status, from the columns (checked against the stored index lengths). */
  readonly #counts: number[];
  #phase = Phase.Pages;
  #next = 0;
  #payloadAt = 0;
  #extras: ByteReader | null = null;
  #extrasLeft = 0;
  #lastExtra = -1;
  /** The index pass, once the ids are indexed. */
  #indexes: IndexRegionReader | null = null;
  /** The sections after the regions (schedules), read in slices. */
  #sections: SectionsReader | null = null;
  /** Then the sections read in slices by their own readers: cancelled-job tombstones, then KV. */
  #sliced: SlicedSectionReader[] | null = null;
  /** Queues (by index) with pending or claimed jobs that have a group key. */
  readonly #grouped = new Set<number>();
  /** The group build in progress. */
  #building: Generator<void, void, void> | null = null;

  /**
   * `budget`: how long one step may run (tests pass a zero budget: one unit
   * of work per step). `moreJobs`: about how many jobs the caller will add
   * once the state is decoded (the records of a WAL tail), so the id index
   * is sized for them up front.
   */
  constructor(bytes: Uint8Array, budget = new SliceBudget(), moreJobs = 0) {
    this.#bytes = bytes;
    this.#budget = budget;
    this.#moreJobs = moreJobs;
    const r = new ByteReader(bytes);
    refuseNewerSnapshot(bytes);
    const version = r.u8();
    if (version !== SNAPSHOT_VERSION) throw new DecodeError(`unknown snapshot version ${version}`);
    r.u8(); // the revision
    if (r.u8() === 1) {
      this.#lastId = r.raw(ID_BYTES);
      this.#state.lastId = new ByteReader(this.#lastId).id();
    }
    this.#state.nextSeq = r.varint();
    const queueCount = r.varint();
    for (let q = 0; q < queueCount; q++) {
      const name = r.string();
      const doneCount = r.varint();
      const flags = r.varint();
      if ((flags & ~(QueueFlag.Paused | QueueFlag.NoJobYet)) !== 0)
        throw new NewerFormatError(
          `snapshot queue ${JSON.stringify(name)} has unknown flags ${flags}`,
        );
      this.#queues.push({ name, doneCount, flags });
    }
    this.#jobs = r.varint();
    this.#extrasCount = r.varint();
    const tableAt = bytes.byteLength - r.remaining;
    if (r.remaining < REGION_COUNT * 16) throw new DecodeError("snapshot region table truncated");
    const table = new DataView(bytes.buffer, bytes.byteOffset + tableAt, REGION_COUNT * 16);
    for (let i = 0; i < REGION_COUNT; i++) {
      const offset = Number(table.getBigUint64(i * 16, true));
      const length = Number(table.getBigUint64(i * 16 + 8, true));
      if (offset < tableAt + REGION_COUNT * 16 || offset + length > bytes.byteLength)
        throw new DecodeError(`snapshot region ${i} lies outside the snapshot`);
      this.#offsets.push(offset);
      this.#lengths.push(length);
      this.#regionsEnd = Math.max(this.#regionsEnd, offset + length);
    }
    for (let c = 0; c < COLUMN_WIDTH.length; c++)
      if (this.#lengths[c] !== COLUMN_WIDTH[c]! * this.#jobs)
        throw new DecodeError(
          `snapshot column ${c} has ${this.#lengths[c]} bytes for ${this.#jobs} jobs`,
        );
    this.#counts = new Array(queueCount * 5).fill(0);
  }

  /** Decodes the next slice; the state once complete, else null. Throws `DecodeError`. */
  step(): State | null {
    this.#budget.start();
    for (;;) {
      switch (this.#phase) {
        case Phase.Pages:
          if (!this.#readPages()) return null;
          break;
        case Phase.Extras:
          if (!this.#readExtras()) return null;
          break;
        case Phase.Ids:
          if (!this.#indexIds()) return null;
          break;
        case Phase.Indexes:
          if (!this.#indexes!.step(this.#budget)) return null;
          this.#phase = Phase.Dedup;
          this.#next = 0;
          break;
        case Phase.Dedup:
          if (!this.#rebuildDedup()) return null;
          this.#phase = Phase.Groups;
          break;
        case Phase.Groups:
          if (!this.#buildGroups()) return null;
          this.#phase = Phase.Sections;
          break;
        case Phase.Sections: {
          if (this.#sliced === null) {
            this.#sections ??= new SectionsReader(
              this.#bytes.subarray(this.#regionsEnd),
              this.#state,
            );
            const read = this.#sections.step(this.#budget);
            if (read === null) return null;
            this.#sliced = [
              cancelledSectionReader(read.cancelled, this.#state),
              kvSectionReader(read.kv, this.#state.kv),
            ];
          }
          for (const section of this.#sliced) if (!section.step(this.#budget)) return null;
          return this.#state;
        }
      }
      if (this.#budget.spent()) return null;
    }
  }

  /** Builds the table's pages from the columns, checking every row. */
  #readPages(): boolean {
    const n = this.#jobs;
    const pageCount = Math.ceil(n / PAGE_SLOTS);
    while (this.#next < pageCount) {
      const p = this.#next++;
      const from = p * PAGE_SLOTS;
      const rows = Math.min(PAGE_SLOTS, n - from);
      const page = rows === PAGE_SLOTS ? viewPage(this.#bytes, this.#offsets, from) : null;
      const filled = page ?? copyPage((c) => this.#region(c), from, rows);
      this.#checkRows(filled, from, rows);
      this.#pages.push(filled);
      if (this.#budget.spent()) break;
    }
    if (this.#next < pageCount) return false;
    const payload = this.#region(Region.Payload);
    if (this.#payloadAt !== payload.byteLength)
      throw new DecodeError(
        `snapshot payloads add up to ${this.#payloadAt} bytes, region holds ${payload.byteLength}`,
      );
    const segment = this.#state.arena.adopt(payload, payload.byteLength);
    for (const page of this.#pages) page.payloadSegment.fill(segment);
    this.#state.table.adopt(this.#pages, n);
    this.#phase = Phase.Extras;
    this.#next = 0;
    this.#extras = new ByteReader(this.#region(Region.Extras));
    this.#extrasLeft = this.#extrasCount;
    return true;
  }

  /** Checks rows `0..rows` of `page` and gives them their payload offsets. */
  #checkRows(page: Page, from: number, rows: number): void {
    const queues = this.#queues.length;
    const nextSeq = this.#state.nextSeq;
    for (let i = 0; i < rows; i++) {
      const status = page.status[i]!;
      const queue = page.queue[i]!;
      if (status > Status.Dead)
        throw new DecodeError(`snapshot job ${from + i} has unknown status ${status}`);
      if (queue >= queues)
        throw new DecodeError(`snapshot job ${from + i} refers to unknown queue ${queue}`);
      const seq = page.seq[i]!;
      if (!(seq >= 0 && seq < nextSeq && Number.isInteger(seq)))
        throw new DecodeError(`snapshot job ${from + i} has enqueue order ${seq} past ${nextSeq}`);
      const flags = page.flags[i]!;
      if ((flags & ~(Flag.CancelRequested | Flag.WaitingChildren)) !== 0)
        throw new DecodeError(`snapshot job ${from + i} has unknown flags ${flags}`);
      // A parent waiting for its children is scheduled where promotion never reaches it.
      if (
        flags & Flag.WaitingChildren &&
        (status !== Status.Scheduled || page.at[i] !== WAITING_AT)
      )
        throw new DecodeError(`snapshot job ${from + i} waits for children but is not held back`);
      this.#counts[queue * 5 + status]!++;
      page.payloadOffset[i] = this.#payloadAt;
      this.#payloadAt += page.payloadLength[i]!;
    }
  }

  #readExtras(): boolean {
    const r = this.#extras!;
    const table = this.#state.table;
    // Extras may be large (results, histories): a megabyte of them is a check too.
    let checkedAt = r.position;
    for (let k = 0; this.#extrasLeft > 0; k++) {
      if (k === EXTRAS_PER_CHECK || r.position - checkedAt >= EXTRAS_BYTES_PER_CHECK) {
        if (this.#budget.spent()) return false;
        k = 0;
        checkedAt = r.position;
      }
      this.#extrasLeft--;
      const h = r.varint();
      if (h <= this.#lastExtra || h >= this.#jobs)
        throw new DecodeError(`snapshot extras out of order or range at job ${h}`);
      this.#lastExtra = h;
      // A varint: one byte, as earlier releases wrote it, while the mask is below 128.
      const mask = r.varint();
      if ((mask & ~EXTRA_KNOWN) !== 0)
        throw new DecodeError(`snapshot extras of job ${h} have unknown fields (mask ${mask})`);
      const extras: { -readonly [K in keyof JobExtras]: JobExtras[K] } = {};
      if (mask & Extra.Headers) extras.headers = readHeaders(r);
      if (mask & Extra.LastError) extras.lastError = r.string();
      if (mask & Extra.DedupKey) extras.dedupKey = r.string();
      if (mask & Extra.JobId) {
        const jobId = r.string();
        // One lookup per id: a set that does not grow the map found the id there already.
        const known = this.#state.jobIds.size;
        this.#state.jobIds.set(jobId, h);
        if (this.#state.jobIds.size === known)
          throw new DecodeError(`snapshot holds job id ${JSON.stringify(jobId)} twice`);
        extras.jobId = jobId;
      }
      readMoreExtras(r, mask, extras);
      readFlowExtras(r, mask, extras);
      readProgressExtra(r, mask, extras);
      if (mask & Extra.Trace) {
        const at = r.position;
        r.skip(TRACE_BYTES);
        table.setTraceBytes(h, r.buffer, at);
      }
      table.setExtras(
        h,
        (mask & ~Extra.Trace) === Extra.GroupKey
          ? groupOnlyExtras(this.#state, extras.groupKey!)
          : extras,
      );
    }
    if (r.remaining !== 0)
      throw new DecodeError(`${r.remaining} bytes after the snapshot's extras`);
    this.#phase = Phase.Ids;
    return true;
  }

  #indexIds(): boolean {
    const { ids, table } = this.#state;
    const last = this.#lastId;
    if (last === null && this.#jobs > 0)
      throw new DecodeError("snapshot has jobs but no newest id");
    // First every id against the newest, then the index, shard by shard.
    while (this.#next < this.#jobs) {
      const end = Math.min(this.#jobs, this.#next + PER_CHECK);
      for (let h = this.#next; h < end; h++)
        if (newerThan(table.read(h).id, (h % PAGE_SLOTS) * ID_BYTES, last!))
          throw new DecodeError(`snapshot job ${this.#state.idOf(h)} is newer than the newest id`);
      this.#next = end;
      if (this.#next < this.#jobs && this.#budget.spent()) return false;
    }
    this.#ids ??= ids.loader(this.#jobs, this.#moreJobs);
    const done = this.#ids.step(
      () => this.#budget.spent(),
      (h) => new DecodeError(`snapshot holds job ${this.#state.idOf(h)} twice`),
    );
    if (!done) return false;
    this.#phase = Phase.Indexes;
    this.#indexes = new IndexRegionReader(
      this.#region(Region.Indexes),
      this.#state,
      this.#queues,
      this.#counts,
      this.#jobs,
    );
    return true;
  }

  /** Dedup keys of pending and scheduled jobs, page by page. True when done. */
  #rebuildDedup(): boolean {
    const state = this.#state;
    while (this.#next < this.#pages.length) {
      const p = this.#next++;
      const page = this.#pages[p]!;
      const column = page.extras;
      if (column === null) continue;
      for (let i = 0; i < column.length; i++) {
        const extras = column[i];
        if (extras === undefined) continue;
        const key = extras.dedupKey;
        const status = page.status[i]!;
        if (
          extras.groupKey !== undefined &&
          (status === Status.Pending || status === Status.Claimed)
        )
          this.#grouped.add(page.queue[i]!);
        if (key === undefined || (status !== Status.Pending && status !== Status.Scheduled))
          continue;
        const qs = state.queueList[page.queue[i]!]!;
        if (qs.dedup.has(key))
          throw new DecodeError(`snapshot: dedup key held twice in queue ${qs.name}`);
        qs.dedup.set(key, p * PAGE_SLOTS + i);
      }
      if (this.#budget.spent()) return this.#next === this.#pages.length;
    }
    return true;
  }

  /** The fair groups of the queues holding grouped jobs, a few thousand jobs per check. */
  #buildGroups(): boolean {
    for (;;) {
      if (this.#building === null) {
        const next = this.#grouped.values().next();
        if (next.done === true) return true;
        this.#grouped.delete(next.value);
        this.#building = buildGroups(this.#state, this.#state.queueList[next.value]!);
      }
      while (!this.#building.next().done) if (this.#budget.spent()) return false;
      this.#building = null;
    }
  }

  #region(region: number): Uint8Array {
    const from = this.#offsets[region]!;
    return this.#bytes.subarray(from, from + this.#lengths[region]!);
  }
}

/**
 * Throws {@link NewerFormatError} when the head of snapshot `bytes` says a
 * newer release wrote it (a version or revision this build does not read).
 * Reads two bytes: cheap enough to ask before a store is taken over.
 */
export function refuseNewerSnapshot(bytes: Uint8Array): void {
  const version = bytes[0];
  if (version === undefined) return;
  if (version > SNAPSHOT_VERSION)
    throw new NewerFormatError(
      `unknown snapshot version ${version}, this build reads ${SNAPSHOT_VERSION}`,
    );
  const revision = bytes[1];
  if (version === SNAPSHOT_VERSION && revision !== undefined && revision > SNAPSHOT_REVISION)
    throw new NewerFormatError(
      `snapshot revision ${revision}, this build reads up to ${SNAPSHOT_REVISION}`,
    );
}
