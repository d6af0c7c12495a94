import type { Queue } from "../../src/index.js";

/** Where the cold-start workload keeps its queue inside the store. */
export const COLD_PATH = "bench/cold-start";
export const COLD_QUEUE = "cold";

export interface ColdBuildParams {
  live: number;
  history: number;
  payloadBytes: number;
}

const BATCH = 1_000;
const BATCHES_IN_FLIGHT = 8;
const HISTORY_WORKERS = 64;

/**
 * Fill a queue with `history` jobs that were enqueued, claimed and acked, then
 * `live` pending jobs, and wait until all of it is durable. Returns the open
 * queue so the caller decides how it ends (clean close or a crash).
 */
export async function buildColdQueue(queue: Queue, params: ColdBuildParams): Promise<void> {
  const payload = new Uint8Array(params.payloadBytes).fill(0x61);
  await enqueueMany(queue, params.history, payload);
  const drain = async (): Promise<void> => {
    for (;;) {
      const claim = await queue.claim(COLD_QUEUE);
      if (claim === null) return;
      await queue.ack(claim);
    }
  };
  await Promise.all(Array.from({ length: HISTORY_WORKERS }, drain));
  await enqueueMany(queue, params.live, payload);
  await queue.flush();
}

async function enqueueMany(queue: Queue, count: number, payload: Uint8Array): Promise<void> {
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < count) {
      const n = Math.min(BATCH, count - sent);
      sent += n;
      await queue.enqueueBatch(
        COLD_QUEUE,
        Array.from({ length: n }, () => payload),
      );
    }
  };
  await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, lane));
}
