/**
 * What the reader tests share: a reader's whole answer, a store that runs a
 * hook inside a listing, and one that counts a reader's listings.
 */
import type { QueueReader } from "../../src/queue/reader.js";
import type { JobStatus } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../../src/store/types.js";

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

/** Listing requests and the keys they returned, for one prefix. */
export interface Listed {
  requests: number;
  keys: number;
}

/**
 * A view of `inner` whose listings return at most `pageLimit` keys a page
 * (a long folder in a few objects) and are counted by prefix: give it to a
 * reader, and the writer the inner store, to count only the reader's.
 */
export class ListCountStore implements ObjectStore {
  #listed = new Map<string, Listed>();

  constructor(
    readonly inner: ObjectStore,
    readonly pageLimit: number,
  ) {}

  get(key: string): Promise<StoredObject | null> {
    return this.inner.get(key);
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.inner.put(key, body, options);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.inner.head!(key);
  }

  describe(): string {
    return this.inner.describe();
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const limit = Math.min(options.limit ?? this.pageLimit, this.pageLimit);
    const page = await this.inner.list(prefix, { ...options, limit });
    const listed = this.#listed.get(prefix) ?? { requests: 0, keys: 0 };
    listed.requests++;
    listed.keys += page.objects.length;
    this.#listed.set(prefix, listed);
    return page;
  }

  /** What was listed since the last call, by prefix. */
  take(): Record<string, Listed> {
    const listed = Object.fromEntries(this.#listed);
    this.#listed = new Map();
    return listed;
  }
}
