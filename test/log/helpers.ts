import type { LogOptions } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import type { ObjectStore } from "../../src/store/types.js";
import { listAll } from "../../src/store/types.js";

/** Options for fast tests: quiet, short batching window, quick retries. */
export function testOptions(overrides: LogOptions = {}): LogOptions {
  return {
    logger: silentLogger,
    flushIntervalMs: 1,
    gcMinAgeMs: 0,
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 2_000 },
    ...overrides,
  };
}

export function rec(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function texts(records: readonly Uint8Array[]): string[] {
  return records.map((r) => new TextDecoder().decode(r));
}

export async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await listAll(store, prefix)).map((o) => o.key);
}

/** Rejection of `promise`, or a failure if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected the promise to reject");
}
