/**
 * The store's health as the dashboard shows it, for a live writer or a
 * reader's snapshot: its log's state, its requests and what they cost.
 */
import { taqubaErrorCode } from "../errors.js";
import type { Log } from "../log/index.js";
import type { WriterHeartbeat } from "../queue/heartbeat.js";
import type { Queue } from "../queue/queue.js";
import type { QueueReader } from "../queue/reader.js";
import { queueFailure } from "../queue/worker-hooks.js";
import { costsOf, type RequestPrices, totalCostOf } from "../store/request-prices.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import type { StoreOp } from "../store/wrappers/ops.js";
import { messageOf } from "../util/message.js";

/** Store health as the dashboard shows it; `null` fields are unknown to this source. */
export interface Health {
  /** "writer": this process owns the store; "reader": a read-only snapshot. */
  role: "writer" | "reader";
  /**
   * The writer's queue is closed, or stopped after a failure (fenced by
   * another writer, its store failing): the values are its last. Always
   * false for a reader.
   */
  stopped: boolean;
  /**
   * Why a stopped writer stopped: `"closed"` (closed by its process), or the
   * code and message of the error that failed it (`FENCED` when another
   * writer took over the store, `STORAGE` when the store failed); `null`
   * unless `stopped`.
   */
  stoppedBy: "closed" | { code: string; message: string } | null;
  epoch: number | null;
  walBacklogBytes: number | null;
  walBacklogObjects: number | null;
  /** Wall time of the newest checkpoint. */
  checkpointAt: number | null;
  /** Wall time of the snapshot shown (readers), or null for a live writer. */
  snapshotAt: number | null;
  /**
   * The writer's last heartbeat: `null` when the writer beats not (no
   * `heartbeatMs`), or for a writer (the dashboard runs in it: it is alive
   * unless `stopped`).
   */
  heartbeat: WriterHeartbeat | null;
  requests: RequestCounts;
  costs: Record<StoreOp, number>;
  cost: number;
  /** More rows worth showing, label → value. */
  details: [string, string][];
}

/** Why the closed `queue` stopped (see {@link Health.stoppedBy}). */
function stopReason(queue: Queue): "closed" | { code: string; message: string } {
  const failure = queueFailure(queue);
  if (failure === null) return "closed";
  return {
    code: taqubaErrorCode(failure) ?? "ERROR",
    message: messageOf(failure),
  };
}

/** No requests at all (what a source has retired before its first reopen). */
export const NO_REQUESTS: RequestCounts = Object.freeze({
  counts: Object.freeze({ get: 0, put: 0, delete: 0, list: 0, head: 0 }),
  bytesRead: 0,
  bytesWritten: 0,
  requests: 0,
});

/** The requests of `a` and of `b` together. */
export function addCounts(a: RequestCounts, b: RequestCounts): RequestCounts {
  const counts = { ...a.counts };
  for (const op of Object.keys(counts) as StoreOp[]) counts[op] += b.counts[op];
  return {
    counts,
    bytesRead: a.bytesRead + b.bytesRead,
    bytesWritten: a.bytesWritten + b.bytesWritten,
    requests: a.requests + b.requests,
  };
}

/** The health of the live `queue`, its requests priced at `prices`. */
export function writerHealth(queue: Queue, prices: RequestPrices): Health {
  const stats: ReturnType<Log["stats"]> = queue.logStats();
  const requests = queue.storeRequests();
  return {
    role: "writer",
    stopped: queue.closed,
    stoppedBy: queue.closed ? stopReason(queue) : null,
    epoch: stats.epoch,
    walBacklogBytes: stats.walBytesSinceCheckpoint,
    walBacklogObjects: null,
    checkpointAt: stats.lastCheckpointAt,
    snapshotAt: null,
    heartbeat: null,
    requests,
    costs: costsOf(requests.counts, prices),
    cost: totalCostOf(requests.counts, prices),
    details: [
      ["Durable WAL id", String(stats.durableWalId)],
      ["Batches written", String(stats.batchesWritten)],
      ["Records written", String(stats.recordsWritten)],
      ["Checkpoints written", String(stats.checkpointsWritten)],
      ["Not yet durable", `${stats.unflushedBytes} B`],
    ],
  };
}

/**
 * The health of the snapshot `reader` taken at `snapshotAt`, its requests
 * (with `retired`, those of the snapshots shown before it) priced at `prices`.
 */
export function readerHealth(
  reader: QueueReader,
  retired: RequestCounts,
  snapshotAt: number,
  prices: RequestPrices,
): Health {
  const info = reader.inspection;
  const requests = addCounts(retired, reader.storeRequests());
  return {
    role: "reader",
    stopped: false,
    stoppedBy: null,
    epoch: info.manifest?.epoch ?? null,
    walBacklogBytes: info.wal.pendingBytes,
    walBacklogObjects: info.wal.pendingObjects,
    checkpointAt: info.checkpoint?.createdAt ?? null,
    snapshotAt,
    heartbeat: reader.writerHeartbeat(),
    requests,
    costs: costsOf(requests.counts, prices),
    cost: totalCostOf(requests.counts, prices),
    details: [
      ["Objects", `${info.objects} (${info.bytes} B)`],
      ["WAL objects", `${info.wal.objects} (${info.wal.bytes} B, ${info.wal.fences} fences)`],
      ["Checkpoint objects", String(info.checkpoints)],
      ["Manifests", String(info.manifests)],
    ],
  };
}
