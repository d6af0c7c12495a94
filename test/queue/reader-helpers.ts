/** What the reader tests share: a reader's whole answer, and a store that runs a hook inside a listing. */
import type { QueueReader } from "../../src/queue/reader.js";
import type { JobStatus } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, ListPage } from "../../src/store/types.js";

const STATUSES: JobStatus[] = ["pending", "scheduled", "claimed", "done", "dead"];

/** Everything a reader answers from memory, for comparing two readers. */
export function readerView(reader: QueueReader): unknown {
  const queues = reader.listQueues();
  return {
    queues,
    stats: queues.map((q) => reader.stats(q)),
    jobs: queues.map((q) =>
      STATUSES.map((status) => reader.listJobs(q, status, { limit: 1_000 }).jobs),
    ),
    dead: queues.map((q) => reader.deadJobs(q, { limit: 1_000 })),
    kv: reader.kvScan("", { limit: 1_000 }),
  };
}

/** A MemoryStore that runs `hook` once, before the next listing of its prefix (disarmed first). */
export class ListHookStore extends MemoryStore {
  hook: { prefix: string; run: () => Promise<void> } | null = null;

  override async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const h = this.hook;
    if (h !== null && prefix === h.prefix) {
      this.hook = null;
      await h.run();
    }
    return super.list(prefix, options);
  }
}
