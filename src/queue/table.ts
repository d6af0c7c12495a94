/**
 * The job table: every job as one row of fixed-size columns (typed arrays),
 * addressed by an integer handle, in pages of {@link PAGE_SLOTS} rows. Owns
 * the columns, handing out and taking back rows, the sparse per-row extras
 * (headers, lastError, dedupKey), and frozen views of the pages for
 * checkpoints (copy-on-write per page).
 *
 * Why columns: a million jobs as JS objects cost a million objects (and their
 * id and payload strings) for the garbage collector to trace and for a
 * restore to allocate. As columns they are a few hundred typed arrays that
 * a checkpoint writes, and a restore reads back, as large copies. Payload
 * bytes live in the {@link ByteArena}; a row holds their address.
 *
 * Rows are read and written through {@link JobTable.read} and
 * {@link JobTable.write}, which return the page holding the row (`slot(h)`
 * is the row's index in it). `write` first copies a page that a frozen view
 * still reads, so a view sees every page exactly as it was when frozen.
 *
 * Room to grow (not used yet): a new fixed-size field is one more column
 * (per-job timeout, group key as an interned number, parent link as a
 * handle); a rare or variable one goes into the row's extras (progress,
 * result reference, caller-chosen id, attempt history).
 */
import { FreeRows } from "./free-rows.js";
import type { EncodedHistory } from "./history.js";
import type { Headers } from "./state.js";
import { TRACE_BYTES, type TraceContext, writeTraceBytes } from "./trace-context.js";

export const PAGE_BITS = 14;
/** Rows per page. */
export const PAGE_SLOTS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SLOTS - 1;
/** Bytes of a job id (a ULID in binary) in the id column. */
export const ID_BYTES = 16;

/** Bytes per row of a page's trace column: a presence byte and the context. */
export const TRACE_STRIDE = 1 + TRACE_BYTES;

/** Status of a row that holds no job. */
export const FREE = 255;

/** Row flags. */
export const Flag = {
  /** A cancel arrived while the job was claimed: a failed delivery removes it instead of retrying. */
  CancelRequested: 1,
  /** A flow parent waiting for its children (kept as scheduled at `WAITING_AT`). */
  WaitingChildren: 2,
} as const;

/** The rarely set fields of a job. Immutable: replaced as a whole when one changes. */
export interface JobExtras {
  readonly headers?: Headers;
  readonly lastError?: string;
  readonly dedupKey?: string;
  /** The caller-chosen id (`options.jobId`), the job's public id. */
  readonly jobId?: string;
  /** A done job's result. */
  readonly result?: Uint8Array;
  /** How earlier attempts ended, oldest first (at most `MAX_HISTORY`), encoded (`history.ts`). */
  readonly history?: EncodedHistory;
  /** Handler deadline under `runWorker`. */
  readonly timeoutMs?: number;
  /** An offloaded payload: its object's key and size (the arena holds none of it). */
  readonly payloadRef?: PayloadRef;
  /** A flow child: the log id of its parent, until the child is done, dead or removed. */
  readonly flowParent?: string;
  /** A flow parent: its children and how many it still waits for. */
  readonly flow?: FlowChildren;
  /** The fairness group of the job within its queue (`EnqueueOptions.groupKey`). */
  readonly groupKey?: string;
  /** The handler's last reported progress, as JSON text, kept with its settlement. */
  readonly progress?: string;
}

/**
 * Whether `extras` holds no value (but its `flowParent`, when
 * `butFlowParent`: a flow child's usual extras, whose link is dropped by
 * clearing them rather than by copying them without it).
 */
export function holdsNothing(extras: JobExtras, butFlowParent: boolean): boolean {
  return (
    extras.headers === undefined &&
    extras.lastError === undefined &&
    extras.dedupKey === undefined &&
    extras.jobId === undefined &&
    extras.result === undefined &&
    extras.history === undefined &&
    extras.timeoutMs === undefined &&
    extras.payloadRef === undefined &&
    (butFlowParent || extras.flowParent === undefined) &&
    extras.flow === undefined &&
    extras.groupKey === undefined &&
    extras.progress === undefined
  );
}

/**
 * A flow parent's children. Replaced as a whole when children are added or
 * reopened; a child's end writes its entry in place when no checkpoint view
 * can see the list (`flow-list.ts`).
 */
export interface FlowChildren {
  /** Children not yet done, dead or removed. */
  readonly waiting: number;
  readonly children: readonly FlowChild[];
}

/** One child of a flow parent. */
export interface FlowChild {
  /** Its log id. */
  readonly id: string;
  /** Its public id (its `jobId`, else its log id). */
  readonly publicId: string;
  /** Whether it ended (done, dead or removed). */
  readonly ended: boolean;
  /**
   * It was removed before it ended: the parent never got its input, so it
   * does not run (`requeueDeadJob` refuses its flow). Absent in checkpoints
   * written before the mark existed: not removed.
   */
  readonly removed?: true;
  /** Its result, when it was acked with one. */
  readonly result?: Uint8Array;
}

/** Where an offloaded payload lives. */
export interface PayloadRef {
  /** Object key inside the store (under the queue store's `payload/`). */
  readonly key: string;
  /** Its size in bytes. */
  readonly size: number;
}

/**
 * A page's extras, by slot (`undefined`: none): an array of
 * {@link PAGE_SLOTS} made when the page's first row gets extras, 128 KB
 * (8 B a slot: Node is built without pointer compression), so at most 8 B
 * a row, even for a page with one row with extras. Not a map: a flow's
 * commit gives 10,000 rows extras in one turn, and its removal takes them
 * back, a store each rather than a hash-table insert or delete that now and
 * then grows or shrinks the whole table; and a page copied for a
 * checkpoint's view copies one array.
 */
export type ExtrasColumn = (JobExtras | undefined)[];

/** An {@link ExtrasColumn} with no extras. */
export function extrasColumn(): ExtrasColumn {
  return new Array<JobExtras | undefined>(PAGE_SLOTS);
}

/** Calls `visit` with each slot of `column` that holds extras, and them, in slot order. */
export function forEachExtras(
  column: ExtrasColumn,
  visit: (i: number, extras: JobExtras) => void,
): void {
  for (let i = 0; i < column.length; i++) {
    const extras = column[i];
    if (extras !== undefined) visit(i, extras);
  }
}

/** The index of handle `h`'s row within its page. */
export function slot(h: number): number {
  return h & PAGE_MASK;
}

/**
 * One page of rows. `at` means claimedAt / runAt / completedAt / failedAt
 * depending on the status (pending: 0). `seq` is the job's enqueue order
 * (unique, increasing), the tie-break of every index.
 */
export class Page {
  constructor(
    readonly status: Uint8Array,
    readonly flags: Uint8Array,
    readonly queue: Uint32Array,
    readonly attempts: Uint32Array,
    readonly maxAttempts: Uint32Array,
    readonly priority: Uint32Array,
    readonly enqueuedAt: Float64Array,
    readonly at: Float64Array,
    readonly seq: Float64Array,
    readonly payloadLength: Uint32Array,
    readonly payloadSegment: Uint32Array,
    readonly payloadOffset: Uint32Array,
    /** ID_BYTES per row. */
    readonly id: Uint8Array,
    /** Extras by slot ({@link ExtrasColumn}); null while no row of the page has any. */
    public extras: ExtrasColumn | null,
    /**
     * {@link TRACE_STRIDE} bytes per row: a presence byte (1: the row has a
     * trace context), then the context's {@link TRACE_BYTES}; null while no
     * row of the page has one (a traced job costs no object of its own).
     */
    public trace: Uint8Array | null = null,
  ) {}

  /** A page of free rows. */
  static empty(): Page {
    const n = PAGE_SLOTS;
    return new Page(
      new Uint8Array(n).fill(FREE),
      new Uint8Array(n),
      new Uint32Array(n),
      new Uint32Array(n),
      new Uint32Array(n),
      new Uint32Array(n),
      new Float64Array(n),
      new Float64Array(n),
      new Float64Array(n),
      new Uint32Array(n),
      new Uint32Array(n),
      new Uint32Array(n),
      new Uint8Array(n * ID_BYTES),
      null,
    );
  }

  /** A private copy (what a write gets when a frozen view still reads this page). */
  copy(): Page {
    return new Page(
      this.status.slice(),
      this.flags.slice(),
      this.queue.slice(),
      this.attempts.slice(),
      this.maxAttempts.slice(),
      this.priority.slice(),
      this.enqueuedAt.slice(),
      this.at.slice(),
      this.seq.slice(),
      this.payloadLength.slice(),
      this.payloadSegment.slice(),
      this.payloadOffset.slice(),
      this.id.slice(),
      this.extras === null ? null : this.extras.slice(),
      this.trace === null ? null : this.trace.slice(),
    );
  }
}

/** The pages as of {@link JobTable.freeze}; unchanged while it is open. */
export interface TableView {
  readonly pages: readonly Page[];
  /** Rows in use when frozen. */
  readonly rows: number;
}

export class JobTable {
  readonly #pages: Page[] = [];
  /** Pages some open view still reads: copied before their first write. */
  #frozen: Set<Page> | null = null;
  #views = 0;
  /** How many times the table was frozen: what a `FlowList` was made after (`flow-list.ts`). */
  #generation = 0;
  /** Rows never handed out start here. */
  #next = 0;
  /** Rows handed back, reused last-in first-out. */
  readonly #free = new FreeRows();
  #rows = 0;

  /** Rows in use (live jobs). */
  get rows(): number {
    return this.#rows;
  }

  /** Rows of the table, used or not (pages × {@link PAGE_SLOTS}). */
  get capacity(): number {
    return this.#pages.length * PAGE_SLOTS;
  }

  /** The page holding row `h`, for reading (`slot(h)` within it). */
  read(h: number): Page {
    return this.#pages[h >>> PAGE_BITS]!;
  }

  /** The page holding row `h`, for writing: never a page an open view still reads. */
  write(h: number): Page {
    const index = h >>> PAGE_BITS;
    const page = this.#pages[index]!;
    if (this.#frozen === null || !this.#frozen.has(page)) return page;
    this.#frozen.delete(page);
    const copy = page.copy();
    this.#pages[index] = copy;
    return copy;
  }

  /** Hands out a free row (its status is still {@link FREE}: the caller fills it in). */
  allocate(): number {
    this.#rows++;
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const h = this.#next++;
    if (h >>> PAGE_BITS === this.#pages.length) this.#pages.push(Page.empty());
    return h;
  }

  /** Takes row `h` back: marks it free and drops its extras. */
  release(h: number): void {
    const page = this.write(h);
    const i = slot(h);
    page.status[i] = FREE;
    page.flags[i] = 0;
    if (page.extras !== null) page.extras[i] = undefined;
    if (page.trace !== null) page.trace[i * TRACE_STRIDE] = 0;
    this.#free.push(h);
    this.#rows--;
  }

  /**
   * The trace column of row `h`'s page and the row's offset in it, when the
   * row has a trace context (its bytes at `offset + 1 ..`), else null.
   */
  traceOf(h: number): { bytes: Uint8Array; at: number } | null {
    const column = this.read(h).trace;
    const at = slot(h) * TRACE_STRIDE;
    return column !== null && column[at] === 1 ? { bytes: column, at: at + 1 } : null;
  }

  /** Whether row `h` has a trace context. */
  hasTrace(h: number): boolean {
    const column = this.read(h).trace;
    return column !== null && column[slot(h) * TRACE_STRIDE] === 1;
  }

  /**
   * Row `h`'s trace context is the {@link TRACE_BYTES} at `bytes[at..]`, or
   * none with `bytes` null.
   */
  setTraceBytes(h: number, bytes: Uint8Array | null, at = 0): void {
    const page = this.write(h);
    const i = slot(h) * TRACE_STRIDE;
    if (bytes === null) {
      if (page.trace !== null) page.trace[i] = 0;
      return;
    }
    page.trace ??= new Uint8Array(PAGE_SLOTS * TRACE_STRIDE);
    page.trace[i] = 1;
    for (let k = 0; k < TRACE_BYTES; k++) page.trace[i + 1 + k] = bytes[at + k]!;
  }

  /** Row `h`'s trace context is `context` (a valid one: see `writeTraceBytes`). */
  setTrace(h: number, context: TraceContext): void {
    const page = this.write(h);
    const i = slot(h) * TRACE_STRIDE;
    page.trace ??= new Uint8Array(PAGE_SLOTS * TRACE_STRIDE);
    writeTraceBytes(context, page.trace, i + 1);
    page.trace[i] = 1;
  }

  /** The extras of row `h`, or undefined. */
  extras(h: number): JobExtras | undefined {
    return this.read(h).extras?.[slot(h)];
  }

  /** Sets the extras of row `h` to `extras`, which hold at least one value. */
  putExtras(h: number, extras: JobExtras): void {
    const page = this.write(h);
    page.extras ??= extrasColumn();
    page.extras[slot(h)] = extras;
  }

  /** Sets (or, with undefined or an empty object, clears) the extras of row `h`. */
  setExtras(h: number, extras: JobExtras | undefined): void {
    const page = this.write(h);
    if (extras === undefined || holdsNothing(extras, false)) {
      if (page.extras !== null) page.extras[slot(h)] = undefined;
    } else {
      page.extras ??= extrasColumn();
      page.extras[slot(h)] = extras;
    }
  }

  /**
   * The pages as of now, kept unchanged until {@link thaw}: a page is copied
   * before the first write after this (the view keeps the original).
   */
  freeze(): TableView {
    this.#generation++;
    this.#frozen ??= new Set();
    for (const page of this.#pages) this.#frozen.add(page);
    this.#views++;
    return { pages: this.#pages.slice(), rows: this.#rows };
  }

  /** Counts {@link freeze} calls: extras made in the current generation are seen by no view. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Tells the table that the open view is done with `page` (it may be
   * written in place again). Call only with a single view open.
   */
  releasePage(page: Page): void {
    if (this.#views === 1) this.#frozen?.delete(page);
  }

  /** Ends a view from {@link freeze}. */
  thaw(_view: TableView): void {
    if (this.#views > 0 && --this.#views === 0) this.#frozen = null;
  }

  /**
   * Adopts `pages` holding `rows` jobs in rows 0..rows-1 (a restore): the
   * table must be empty. Rows past `rows` in the last page must be free.
   */
  adopt(pages: Page[], rows: number): void {
    if (this.#next !== 0 || this.#pages.length !== 0)
      throw new Error("adopt: the table is not empty");
    for (const page of pages) this.#pages.push(page);
    this.#next = rows;
    this.#rows = rows;
  }
}
