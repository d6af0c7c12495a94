/**
 * What the dashboard reads and does, over either a live `Queue` (reads and
 * actions) or a read-only `QueueReader` snapshot (reads only, re-opened on
 * demand when the dashboard was given a way to). Reads that this version of
 * the queue does not offer are reported as unavailable (`null`), never made up.
 */
import type { Log } from "../log/index.js";
import type { DeadJobsOptions } from "../queue/options.js";
import { Queue } from "../queue/queue.js";
import type { QueueReader } from "../queue/reader.js";
import type { JobRecord, JobStatus, QueueStats } from "../queue/types.js";
import {
  estimateRequestCost,
  type RequestPrices,
  requestCosts,
  S3_STANDARD_REQUEST_PRICES,
} from "../store/request-prices.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import type { StoreOp } from "../store/wrappers/ops.js";

/** One attempt of a job, as the dashboard shows it. */
export interface AttemptView {
  attempt: number;
  claimedAt?: number;
  recordedAt: number;
  error?: string;
  outcome: string;
}

/** A page of jobs in one state. */
export interface JobPage {
  jobs: JobRecord[];
  nextCursor?: string;
}

/** Store health as the dashboard shows it; `null` fields are unknown to this source. */
export interface Health {
  /** "writer": this process owns the store; "reader": a read-only snapshot. */
  role: "writer" | "reader";
  epoch: number | null;
  walBacklogBytes: number | null;
  walBacklogObjects: number | null;
  /** Wall time of the newest checkpoint. */
  checkpointAt: number | null;
  /** Wall time of the snapshot shown (readers), or null for a live writer. */
  snapshotAt: number | null;
  /**
   * The writer's last heartbeat: `null` when the writer beats not (no
   * `heartbeatMs`), `undefined` when this version of taquba has no heartbeat.
   * Writers: the dashboard runs in the writer, which is alive by definition.
   */
  heartbeat: HeartbeatView | null | undefined;
  requests: RequestCounts;
  costs: Record<StoreOp, number>;
  cost: number;
  /** More rows worth showing, label → value. */
  details: [string, string][];
}

/** A writer's liveness beat as a reader sees it. */
export interface HeartbeatView {
  counter: number;
  at: number;
  intervalMs: number;
  epoch: number;
  closed: boolean;
}

/** The reads and actions newer versions add; each is used only when present. */
interface Optional {
  listJobs?(
    queue: string,
    status: JobStatus,
    options?: { cursor?: string; limit?: number },
  ): JobPage | Promise<JobPage>;
  attemptHistory?(id: string): AttemptView[] | Promise<AttemptView[]>;
  requeueDeadJobs?(queue: string, options?: { limit?: number }): Promise<number>;
  removeJobs?(
    queue: string,
    status: "pending" | "scheduled" | "done" | "dead",
    options?: { olderThanMs?: number },
  ): Promise<number>;
  pauseQueue?(queue: string): Promise<void>;
  resumeQueue?(queue: string): Promise<void>;
  writerHeartbeat?(): HeartbeatView | null;
}

type Readable = (Queue | QueueReader) & Optional;

/** What the reads go through, whichever the source. */
interface Reads {
  listQueues(): string[] | Promise<string[]>;
  stats(
    queue: string,
  ): (QueueStats & { paused?: boolean }) | Promise<QueueStats & { paused?: boolean }>;
  getJob(id: string): JobRecord | null | Promise<JobRecord | null>;
  deadJobs(queue: string, options?: DeadJobsOptions): JobRecord[] | Promise<JobRecord[]>;
}

const ZERO: RequestCounts = {
  counts: { get: 0, put: 0, delete: 0, list: 0, head: 0 },
  bytesRead: 0,
  bytesWritten: 0,
  requests: 0,
};

function addCounts(a: RequestCounts, b: RequestCounts): RequestCounts {
  const counts = { ...a.counts };
  for (const op of Object.keys(counts) as StoreOp[]) counts[op] += b.counts[op];
  return {
    counts,
    bytesRead: a.bytesRead + b.bytesRead,
    bytesWritten: a.bytesWritten + b.bytesWritten,
    requests: a.requests + b.requests,
  };
}

export interface SourceOptions {
  /** Opens a fresh snapshot (reader sources); without it the first snapshot is shown forever. */
  reopen?: (() => Promise<QueueReader>) | undefined;
  /** Minimum time between re-opens. */
  refreshMs: number;
  prices: RequestPrices | undefined;
  now: () => number;
  /** A new snapshot was taken (reader sources) with these stats. */
  onSnapshot?: (stats: QueueStats[]) => void;
}

export class DashboardSource {
  #current: Readable;
  readonly #options: SourceOptions;
  #refreshedAt: number;
  #refreshing: Promise<void> | null = null;
  /** Requests of readers already replaced (reader sources count every snapshot taken). */
  #retired: RequestCounts = ZERO;

  constructor(source: Queue | QueueReader, options: SourceOptions) {
    this.#current = source as Readable;
    this.#options = options;
    this.#refreshedAt = options.now();
  }

  /** Whether actions are possible (a live `Queue`). */
  get writable(): boolean {
    return this.#current instanceof Queue;
  }

  /** The live queue, or null for a reader. */
  get queue(): (Queue & Optional) | null {
    return this.#current instanceof Queue ? (this.#current as Queue & Optional) : null;
  }

  /** Re-open the reader snapshot when it is older than `refreshMs` (single flight). */
  async refresh(force = false): Promise<void> {
    const reopen = this.#options.reopen;
    if (reopen === undefined || this.writable) return;
    if (!force && this.#options.now() - this.#refreshedAt < this.#options.refreshMs) return;
    this.#refreshing ??= (async () => {
      try {
        const next = await reopen();
        this.#retired = addCounts(this.#retired, (this.#current as QueueReader).storeRequests());
        this.#current = next as Readable;
        this.#refreshedAt = this.#options.now();
        this.#options.onSnapshot?.(await this.allStats());
      } finally {
        this.#refreshing = null;
      }
    })();
    await this.#refreshing;
  }

  get #reads(): Reads {
    return this.#current as unknown as Reads;
  }

  async listQueues(): Promise<string[]> {
    return await this.#reads.listQueues();
  }

  async stats(queue: string): Promise<QueueStats & { paused?: boolean }> {
    return await this.#reads.stats(queue);
  }

  async allStats(): Promise<(QueueStats & { paused?: boolean })[]> {
    const names = await this.listQueues();
    return Promise.all(names.map((name) => this.stats(name)));
  }

  async getJob(id: string): Promise<JobRecord | null> {
    return await this.#reads.getJob(id);
  }

  /** Whether jobs in `status` can be listed by this source. */
  canList(status: JobStatus): boolean {
    return typeof this.#current.listJobs === "function" || status === "dead";
  }

  /** A page of `queue`'s jobs in `status`, or null when this version cannot list them. */
  async jobs(
    queue: string,
    status: JobStatus,
    cursor: string | undefined,
    limit: number,
  ): Promise<JobPage | null> {
    const source = this.#current;
    if (typeof source.listJobs === "function")
      return await source.listJobs(
        queue,
        status,
        cursor === undefined ? { limit } : { cursor, limit },
      );
    if (status !== "dead") return null;
    // Without listJobs, dead jobs page by id with an exclusive id cursor.
    const jobs = await this.#reads.deadJobs(
      queue,
      cursor === undefined ? { limit } : { after: cursor, limit },
    );
    return jobs.length === limit ? { jobs, nextCursor: jobs[jobs.length - 1]!.id } : { jobs };
  }

  /** The attempts of job `id`, or null when this version keeps no history. */
  async attempts(id: string): Promise<AttemptView[] | null> {
    const source = this.#current;
    if (typeof source.attemptHistory !== "function") return null;
    return await source.attemptHistory(id);
  }

  /** Whether the live queue can remove jobs in bulk. */
  get canRemove(): boolean {
    return typeof this.queue?.removeJobs === "function";
  }

  /** Whether the live queue can pause. */
  get canPause(): boolean {
    const q = this.queue;
    return typeof q?.pauseQueue === "function" && typeof q.resumeQueue === "function";
  }

  health(): Health {
    const prices = this.#options.prices ?? S3_STANDARD_REQUEST_PRICES;
    if (this.#current instanceof Queue) {
      const stats: ReturnType<Log["stats"]> = this.#current.logStats();
      const requests = this.#current.storeRequests();
      return {
        role: "writer",
        epoch: stats.epoch,
        walBacklogBytes: stats.walBytesSinceCheckpoint,
        walBacklogObjects: null,
        checkpointAt: stats.lastCheckpointAt,
        snapshotAt: null,
        heartbeat: null,
        requests,
        costs: requestCosts(requests.counts, prices),
        cost: estimateRequestCost(requests.counts, prices),
        details: [
          ["Durable WAL id", String(stats.durableWalId)],
          ["Batches written", String(stats.batchesWritten)],
          ["Records written", String(stats.recordsWritten)],
          ["Checkpoints written", String(stats.checkpointsWritten)],
          ["Not yet durable", `${stats.unflushedBytes} B`],
        ],
      };
    }
    const reader = this.#current as QueueReader & Optional;
    const info = reader.inspection;
    const requests = addCounts(this.#retired, reader.storeRequests());
    return {
      role: "reader",
      epoch: info.manifest?.epoch ?? null,
      walBacklogBytes: info.wal.pendingBytes,
      walBacklogObjects: info.wal.pendingObjects,
      checkpointAt: info.checkpoint?.createdAt ?? null,
      snapshotAt: this.#refreshedAt,
      heartbeat:
        typeof reader.writerHeartbeat === "function" ? reader.writerHeartbeat() : undefined,
      requests,
      costs: requestCosts(requests.counts, prices),
      cost: estimateRequestCost(requests.counts, prices),
      details: [
        ["Objects", `${info.objects} (${info.bytes} B)`],
        ["WAL objects", `${info.wal.objects} (${info.wal.bytes} B, ${info.wal.fences} fences)`],
        ["Checkpoint objects", String(info.checkpoints)],
        ["Manifests", String(info.manifests)],
      ],
    };
  }
}
