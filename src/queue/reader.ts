/**
 * `QueueReader`: a read-only snapshot of a queue store for dashboards, the
 * CLI and audits, answering through the same views as the writer. Its
 * snapshots (what its state is rebuilt from, and how a reopen hands the state
 * on) are `reader-snapshot.ts`'s; its store reads (and a reopen's choice
 * between going on and reading in full) `reader-reads.ts`'s.
 */
import type { LogInspection, ReadLogOptions } from "../log/index.js";
import { checkedLogPrefix } from "../log/keys.js";
import { resolveReadOptions } from "../log/options.js";
import { silentLogger } from "../logger.js";
import type { ObjectStore } from "../store/types.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import { MeteredStore } from "../store/wrappers/metered.js";
import { checkObjectStore, checkString } from "../validate.js";
import { childResultsOf } from "./flows.js";
import type { WriterHeartbeat } from "./heartbeat.js";
import { type KvPage, type KvScanOptions, kvGetFrom, kvScanFrom } from "./kv.js";
import {
  checkListJobs,
  type JobPage,
  type ListJobsOptions,
  listJobsPage,
  refuseReaderLoadPayloads,
} from "./listing.js";
import type { DeadJobsOptions, ListQueuesOptions } from "./options.js";
import { PayloadObjects } from "./payloads.js";
import { installReaderHooks, plansSchedules } from "./reader-hooks.js";
import { type ReaderRead, readFull, readNext } from "./reader-reads.js";
import { ReaderSlices } from "./reader-slices.js";
import { stateOf } from "./reader-snapshot.js";
import { notReceiver } from "./receiver.js";
import type { ScheduleInfo } from "./schedules/types.js";
import { listScheduleInfosNow } from "./schedules/views.js";
import type { State } from "./state.js";
import type { JobAttempt, JobRecord, JobStatus, QueueStats } from "./types.js";
import { checkQueueName } from "./validate.js";
import { checkDeadJobsOptions, checkListQueuesOptions } from "./validate-options.js";
import {
  attemptHistoryOf,
  type CancelledJobInfo,
  cancelledJobOf,
  deadJobsPage,
  jobToRecord,
  queueNames,
  queueStats,
} from "./views.js";

/**
 * A read-only snapshot of a queue store, for dashboards, the CLI and audits.
 * Opening it reads the newest checkpoint and the WAL after it (and works out
 * the schedules' next fire times, in slices: a cost that grows with the number
 * of schedules, see {@link open}), but never writes: a running writer is not
 * fenced and does not notice. The snapshot is as of the moment it was opened;
 * {@link reopen} (or a new `open`) sees later changes. Its methods answer from
 * memory, synchronously (values, not Promises), except those that read payload objects: {@link loadJob},
 * {@link loadPayload}, {@link listJobsLoaded}, and {@link reopen}.
 * Claimed jobs carry no `leaseExpiresAt` (leases live in the writer's memory).
 * A reader that {@link reopen} took the state of holds the checkpoint's
 * bytes as read besides (what it rebuilds from if read again).
 */
export class QueueReader {
  /** The read of the log this snapshot is (how it was opened, for {@link reopen}). */
  readonly #read: ReaderRead;
  readonly #payloads: PayloadObjects;
  /** The log's objects as seen while reading (manifest, WAL, checkpoint). */
  readonly inspection: LogInspection;
  /** Its work in slices: its schedules' planning, and a reopen's applying of records. */
  readonly #slices: ReaderSlices;

  /** `receiver` (a method's `this`) if it is a reader; else a `TypeError` saying how to call it. */
  static #asReader(receiver: unknown): QueueReader {
    if (typeof receiver === "object" && receiver !== null && #read in receiver) return receiver;
    throw notReceiver("QueueReader", receiver);
  }
  static {
    installReaderHooks(QueueReader.prototype, {
      setSliceMs: (reader, ms) => {
        reader.#slices.ms = ms;
      },
      schedulesPlanned: (reader) => reader.#slices.planned(),
      listSchedulesInSlices: (reader) => reader.#slices.listInSlices(reader.#state),
    });
  }

  private constructor(read: ReaderRead) {
    this.#read = read;
    this.inspection = read.inspection;
    const { path, options } = read.openedWith;
    this.#slices = new ReaderSlices(options);
    this.#payloads = new PayloadObjects(
      read.store,
      path,
      null,
      resolveReadOptions({ logger: silentLogger, ...options }),
    );
  }

  /** The state of this snapshot: rebuilt (from memory, at once) if a later reopen took it on. */
  get #state(): State {
    return stateOf(this.#read.snapshot);
  }

  /**
   * Read the queue store at `path` in `store` without taking it over. It then
   * works out every schedule's next fire time before it resolves, in slices
   * (no long turn, but wall time: about 0.1–0.2 s per 10,000 zoned crons).
   *
   * @param path Where in `store` the queue store lives: its objects' keys
   *   start with `path` and "/" (a leading or trailing "/" is dropped; `""` is
   *   the store's root). Any string the store takes in its object keys:
   *   taquba refuses only a non-string itself, and, on S3Store, GcsStore and
   *   AzureBlobStore, a path too long for every key under it to stay within the
   *   1,024 bytes they take: at most 965 UTF-8 bytes (without those "/"), less
   *   the store's `prefix` and its "/" (Azure: characters, and at most 252
   *   "/"-separated segments less the prefix's). When the store refuses a key
   *   under `path` (FileStore and MemoryStore: empty, "." or ".." segments, NUL,
   *   backslash or a lone UTF-16 surrogate; AzureBlobStore: "." or ".." segments
   *   and backslash), this rejects with an `InvalidArgumentError` naming `path`
   *   and giving the store's reason. S3Store and GcsStore take any path; one
   *   without those pieces works on every store.
   *   A path under which the store holds nothing reads as an empty store.
   *   One with no manifest but other objects of a queue store (WAL batches,
   *   checkpoints, payload objects) rejects with a `CorruptionError` naming
   *   the manifest folder, as `Queue.open` does: its manifests were lost.
   */
  static async open(
    store: ObjectStore,
    path: string,
    options: ReadLogOptions = {},
  ): Promise<QueueReader> {
    checkObjectStore(store, "store");
    // Before any read: the heartbeat's and payloads' keys are built from it too.
    checkedLogPrefix(path, "path", store);
    const reader = new QueueReader(await readFull(store, path, options, new MeteredStore(store)));
    return plansSchedules(options) ? reader.#plan() : reader;
  }

  /** This reader once its schedules' order and next fire times are worked out, in slices with turns between them. */
  async #plan(): Promise<QueueReader> {
    const planned = this.#slices.plan(this.#state);
    if (planned !== undefined) await planned;
    return this;
  }

  /**
   * A fresh snapshot of the same store and path, opened with the same
   * options, except those in `overrides` (a dashboard passes its `logger`):
   * what the writer has done since this one was opened. This reader stays as
   * it was.
   *
   * What it reads: a reopen goes on from where this snapshot's read ended.
   * It lists the log's manifests, WAL and checkpoints (as `inspection`
   * describes them), reads the newest manifest and the writer's heartbeat,
   * then reads only the WAL objects written since and applies their records
   * to the state this reader holds, which the new reader takes on: no
   * checkpoint is read, and with nothing new no WAL object either. The
   * records are applied in slices of a few milliseconds, with turns of the
   * event loop between them (a burst of many new records does not block the
   * process).
   *
   * When it reads the log in full: it reads the newest checkpoint and the
   * WAL after it, as `open` does (in slices), when another writer opened the
   * log since this snapshot (a takeover or a restart: what the new writer
   * kept need not be what this reader read, as after a salvage of damage),
   * when the store was replaced, when the WAL it would go on from is gone (a
   * newer checkpoint's garbage collection deleted it: a reader reopened less
   * often than the writer checkpoints and collects), when the WAL kept since
   * its checkpoint outgrew that checkpoint (and 16 MiB) and the writer wrote
   * a newer one, or when anything it lists or reads does not fit (an object
   * is missing or damaged). It logs why at `info`, once per such reopen, on
   * the `logger` of the options. The schedules it brings get their next fire
   * times worked out before it resolves, in slices, as `open` does.
   *
   * What old readers cost: the reader it was called on stays as it was. The
   * first reopen in a chain that brings records reads the checkpoint this
   * reader was read from again (one GET of the checkpoint, verified in
   * slices; a reader never reopened keeps no copy of it), or reads the log in
   * full when that checkpoint was collected meanwhile. With it and the WAL
   * records read since, this reader, if read again after a reopen took its
   * state on, rebuilds its state at once, in one synchronous call (a full
   * read's work: hundreds of milliseconds for a million jobs). Reading only
   * the newest reader, as a dashboard does, never pays it. A dashboard over
   * a reader calls it at most every `refreshMs`.
   * @param overrides Options that replace the ones this reader was opened with.
   * @default overrides `{}`
   * @example
   * ```ts
   * reader = await reader.reopen();
   * console.log(reader.stats("emails").pending);
   * ```
   */
  async reopen(overrides: ReadLogOptions = {}): Promise<QueueReader> {
    const from = QueueReader.#asReader(this).#read;
    const options = { ...from.openedWith.options, ...overrides };
    // Planning on this reader's state stops as it is handed on (a reopen failing before keeps it).
    const next = await readNext(
      from,
      options,
      () => this.#slices.ms,
      () => this.#slices.stop(),
    );
    return this.#carry(new QueueReader(next));
  }

  /** `next`, reopened from this reader, slicing its work as this one does. */
  #carry(next: QueueReader): Promise<QueueReader> {
    this.#slices.stop();
    next.#slices.ms = this.#slices.ms;
    return next.#plan();
  }

  /** The requests reading the store took, by kind, and the bytes read. */
  storeRequests(): RequestCounts {
    return QueueReader.#asReader(this).#read.store.snapshot();
  }

  /**
   * The payload of `job`: as is, or read from its object when it is stored
   * as one (`job.payloadRef`; the reader's records leave such payloads empty).
   * Rejects with a `StorageError` if the job was removed meanwhile and its
   * object with it, and with a `CorruptionError` naming the object if it is
   * damaged (its size or checksum is wrong).
   */
  async loadPayload(job: JobRecord): Promise<Uint8Array> {
    return job.payloadRef === undefined
      ? job.payload
      : QueueReader.#asReader(this).#payloads.read(job.payloadRef, job.payloadSize);
  }

  /**
   * The newest writer's liveness beat as of opening the reader, or `null` when
   * no writer of this store beats (`OpenOptions.heartbeatMs` unset). A writer
   * is live if `closed` is false and `at` is within a few `intervalMs` of now.
   */
  writerHeartbeat(): WriterHeartbeat | null {
    const beat = QueueReader.#asReader(this).#read.heartbeat;
    return beat === null ? null : { ...beat };
  }

  /** The results of the children of flow job `parentId` (see `Queue.childResults`). */
  childResults(parentId: string): Record<string, Uint8Array | undefined> {
    return childResultsOf(QueueReader.#asReader(this).#state, checkString(parentId, "parentId"));
  }

  /** The value of the KV entry `key` (a copy), or `null` (see `Queue.kvGet`). */
  kvGet(key: string): Uint8Array | null {
    return kvGetFrom(QueueReader.#asReader(this).#state.kv, key);
  }

  /** A page of the KV entries whose key starts with `prefix` (see `Queue.kvScan`). */
  kvScan(prefix: string, options: KvScanOptions = {}): KvPage {
    return kvScanFrom(QueueReader.#asReader(this).#state.kv, prefix, options);
  }

  /** Counters of one queue (zeros for a queue that never held a job). */
  stats(queue: string): QueueStats {
    return queueStats(QueueReader.#asReader(this).#state, checkQueueName(queue));
  }

  /**
   * Every queue that ever held a job, sorted; with `includePaused`, also
   * those paused before their first job (see `Queue.listQueues`).
   */
  listQueues(options: ListQueuesOptions = {}): string[] {
    const state = QueueReader.#asReader(this).#state;
    return queueNames(state, checkListQueuesOptions(options).includePaused);
  }

  /**
   * A job by id, or `null`. An offloaded payload (`payloadRef` set, its size
   * in `payloadSize`) is left out: `payload` is empty until
   * {@link loadPayload} reads it, or use {@link loadJob}.
   */
  getJob(id: string): JobRecord | null {
    const state = QueueReader.#asReader(this).#state;
    const h = state.findPublic(checkString(id, "id"));
    return h === -1 ? null : jobToRecord(state, h);
  }

  /**
   * A job by id with its payload, as `Queue.getJob` answers: an offloaded
   * payload is read from its object. `null` for an unknown id. Rejects with
   * a `StorageError` if the object cannot be read (the job was removed
   * since the reader was opened, and its object with it).
   * @example
   * ```ts
   * const job = await reader.loadJob(id);
   * if (job) console.log(job.payload.byteLength);
   * ```
   */
  async loadJob(id: string): Promise<JobRecord | null> {
    const reader = QueueReader.#asReader(this);
    const job = reader.getJob(id);
    if (job === null || job.payloadRef === undefined) return job;
    return { ...job, payload: await reader.loadPayload(job) };
  }

  /**
   * A page of the jobs of `queue` in `status`, in the order and with the
   * cursors of `Queue.listJobs` (a cursor from the writer works here too),
   * answered at once from the snapshot. Offloaded payloads are not read (a
   * listing would read one object per job): such jobs have an empty
   * `payload`, `payloadRef` and `payloadSize`; {@link listJobsLoaded} reads
   * them. `options.loadPayloads` may only be `false` or absent here: `true`
   * throws an `InvalidArgumentError` pointing to {@link listJobsLoaded}.
   * @example
   * ```ts
   * const { jobs, nextCursor } = reader.listJobs("videos", "pending", { limit: 50 });
   * for (const job of jobs) console.log(job.id, job.payloadSize ?? job.payload.byteLength);
   * ```
   */
  listJobs(queue: string, status: JobStatus, options: ListJobsOptions = {}): JobPage<JobRecord> {
    refuseReaderLoadPayloads(options, false);
    return QueueReader.#asReader(this).#listJobs(queue, status, options);
  }

  /**
   * {@link listJobs} with every offloaded payload read back from its object,
   * as `Queue.listJobs` answers by default (one read per offloaded job on the
   * page, bounded like the writer's reads). Takes the same options;
   * `loadPayloads` may be absent or `true` (`false` would make it
   * {@link listJobs}, and is refused). Rejects with an
   * `InvalidArgumentError` on a bad argument, and a `StorageError` if the
   * store fails to answer. A job whose object is damaged or gone does not
   * fail the page, as in `Queue.listJobs`: it is listed with an empty
   * `payload` and `payloadError` saying why and naming the object (one
   * warning to the reader's logger for the page). Gone can also mean the job
   * was removed since the reader was opened: the snapshot lists it as it was
   * then ({@link reopen} no longer does). {@link loadPayload} of such a job
   * rejects with the `CorruptionError` or `StorageError` itself.
   * @example
   * ```ts
   * const { jobs } = await reader.listJobsLoaded("videos", "pending", { limit: 10 });
   * for (const job of jobs) console.log(job.id, job.payload.byteLength);
   * ```
   */
  async listJobsLoaded(
    queue: string,
    status: JobStatus,
    options: ListJobsOptions = {},
  ): Promise<JobPage<JobRecord>> {
    refuseReaderLoadPayloads(options, true);
    const page = QueueReader.#asReader(this).#listJobs(queue, status, options);
    await this.#payloads.materialiseListing(page.jobs, this.#payloads.callLimit());
    return page;
  }

  #listJobs(queue: string, status: JobStatus, options: ListJobsOptions): JobPage<JobRecord> {
    const name = checkQueueName(queue);
    const checked = checkListJobs(status, options);
    const state = this.#state;
    const page = listJobsPage(state, name, checked.status, checked.from, checked.limit);
    const jobs = page.jobs.map((h) => jobToRecord(state, h));
    return page.nextCursor === undefined ? { jobs } : { jobs, nextCursor: page.nextCursor };
  }

  /**
   * How each attempt at job `id` ended, oldest first (see
   * `Queue.attemptHistory`; a cancelled job's from its tombstone); empty for
   * an unknown id.
   */
  attemptHistory(id: string): JobAttempt[] {
    return attemptHistoryOf(QueueReader.#asReader(this).#state, checkString(id, "id"));
  }

  /**
   * What is left of job `id` after a cancel (its queue, cancel time and
   * attempt history ending with `cancelled`), kept for its queue's
   * `resultRetentionMs`; `null` when the id is unknown, not cancelled, or in
   * use again.
   * @example
   * ```ts
   * const gone = reader.getJob(id) === null ? reader.cancelledJob(id) : null;
   * if (gone) console.log(`cancelled at ${new Date(gone.cancelledAt).toISOString()}`);
   * ```
   */
  cancelledJob(id: string): CancelledJobInfo | null {
    return cancelledJobOf(QueueReader.#asReader(this).#state, checkString(id, "id")) ?? null;
  }

  /**
   * Every schedule, by name, with its next fire time (as of the snapshot).
   * The reader's `open` and {@link reopen} work these out (in slices), so a
   * listing only builds the list.
   */
  listSchedules(): ScheduleInfo[] {
    return listScheduleInfosNow(QueueReader.#asReader(this).#state);
  }

  /**
   * A page of dead jobs in id order, those whose ids sort after
   * `options.after` (a plain exclusive bound, see `DeadJobsOptions.after`),
   * as `Queue.deadJobs` lists them. Offloaded payloads are left out, as in
   * {@link listJobs} by default ({@link loadPayload} reads one).
   */
  deadJobs(queue: string, options: DeadJobsOptions = {}): JobRecord[] {
    const name = checkQueueName(queue);
    const { after, limit } = checkDeadJobsOptions(options);
    const state = QueueReader.#asReader(this).#state;
    return deadJobsPage(state, name, after, limit).map((h) => jobToRecord(state, h));
  }
}
