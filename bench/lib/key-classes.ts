import { performance } from "node:perf_hooks";
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../../src/index.js";
import { copyWritesComing } from "../../src/store/write-hint.js";
import { LatencyRecorder, type LatencySummary } from "./latency.js";

/** PUT count, bytes and PUT latency of one kind of object (`wal`, `checkpoint`, `manifest`, ...). */
export interface ClassTraffic {
  puts: number;
  bytes: number;
  /** Milliseconds from calling the store's put to its promise settling. */
  putLatency: LatencySummary;
  /** Milliseconds with no PUT of this kind in flight, between one settling and the next starting. */
  idleGap: LatencySummary;
}

interface ClassCounters {
  puts: number;
  bytes: number;
  latency: LatencyRecorder;
  gaps: LatencyRecorder;
  inFlight: number;
  lastSettled: number | undefined;
}

function newCounters(): ClassCounters {
  return {
    puts: 0,
    bytes: 0,
    latency: new LatencyRecorder(),
    gaps: new LatencyRecorder(),
    inFlight: 0,
    lastSettled: undefined,
  };
}

/**
 * Splits PUT traffic by object kind: the path segment after the queue's
 * prefix (`{path}/wal/…` → `wal`). A whole-store count cannot tell WAL
 * batches from checkpoints, and the targets are stated per kind.
 */
export class KeyClassStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #classes = new Map<string, ClassCounters>();
  readonly head?: (key: string) => Promise<ObjectInfo | null>;

  constructor(inner: ObjectStore) {
    this.#inner = inner;
    // The log's hint that writes are coming reaches the store measured.
    copyWritesComing(inner, this);
    const innerHead = inner.head;
    if (innerHead !== undefined) this.head = (key) => innerHead.call(inner, key);
  }

  get(key: string): Promise<StoredObject | null> {
    return this.#inner.get(key);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    const name = classOf(key);
    let entry = this.#classes.get(name);
    if (entry === undefined) {
      entry = newCounters();
      this.#classes.set(name, entry);
    }
    entry.puts++;
    entry.bytes += body.byteLength;
    const start = performance.now();
    if (entry.inFlight === 0 && entry.lastSettled !== undefined)
      entry.gaps.record(start - entry.lastSettled);
    entry.inFlight++;
    try {
      await this.#inner.put(key, body, options);
    } finally {
      const end = performance.now();
      entry.latency.record(end - start);
      entry.inFlight--;
      entry.lastSettled = end;
    }
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.#inner.list(prefix, options);
  }

  describe(): string {
    return this.#inner.describe();
  }

  /** Traffic of one class (zeros if none). */
  traffic(name: string): ClassTraffic {
    const entry = this.#classes.get(name) ?? newCounters();
    return {
      puts: entry.puts,
      bytes: entry.bytes,
      putLatency: entry.latency.summary(),
      idleGap: entry.gaps.summary(),
    };
  }

  /** Every class seen so far. */
  all(): Record<string, ClassTraffic> {
    return Object.fromEntries([...this.#classes.keys()].map((name) => [name, this.traffic(name)]));
  }

  reset(): void {
    this.#classes.clear();
  }
}

const KNOWN_CLASSES = ["wal", "checkpoint", "manifest", "payload"];

/** The object kind of a key: the last known class segment in it, else `other`. */
export function classOf(key: string): string {
  const segments = key.split("/");
  for (let i = segments.length - 2; i >= 0; i--) {
    const segment = segments[i] ?? "";
    if (KNOWN_CLASSES.includes(segment)) return segment;
  }
  return "other";
}
