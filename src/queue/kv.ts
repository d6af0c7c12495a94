/**
 * The user KV namespace of the public `Queue` and `QueueReader`: `kvGet`,
 * `kvPut`, `kvDelete`, `kvCompareAndSet` and `kvScan`. Keys and values are
 * checked (sizes included) before anything is written; a write is one record
 * through the commit boundary and resolves once durable. Reads answer from
 * the in-memory state; a read that decides "no change" (a delete of an
 * absent key, a compare that fails) first waits for what was logged before
 * it to be durable, so it never reports a value that a crash could still undo.
 */
import { checkInteger, checkOptionsObject, checkString, invalidArgument } from "../validate.js";
import type { QueueCore } from "./core.js";
import type { KvMap } from "./kv-map.js";
import { durableRead } from "./reads.js";
import { Tag } from "./records/tags.js";
import { checkKvExpected, checkKvKey, checkKvPrefix, checkKvValue } from "./validate.js";

/** Entries a `kvScan` returns when no `limit` is given. */
export const DEFAULT_KV_SCAN_LIMIT = 100;
/** Most entries one `kvScan` returns. */
export const MAX_KV_SCAN_LIMIT = 1_000;

/**
 * Options of `kvScan`. A key not declared here is refused
 * (`InvalidArgumentError`): a misspelt cursor would scan from the first key.
 */
export interface KvScanOptions {
  /**
   * Where to continue: the `nextCursor` of the previous page of the same
   * prefix. Absent: from the first key with the prefix.
   * @default none: from the first key with the prefix
   * @example { cursor: page.nextCursor }
   */
  cursor?: string;
  /**
   * Most entries on the page, 1 to {@link MAX_KV_SCAN_LIMIT}. (0 is
   * refused: an empty page could not say whether entries follow.)
   * @default 100
   * @example { limit: 1_000 }
   */
  limit?: number;
}

/** The keys of {@link KvScanOptions}: any other is refused. */
const KV_SCAN_KEYS = ["cursor", "limit"] as const satisfies readonly (keyof KvScanOptions)[];

/** One entry of a `kvScan` page. */
export interface KvEntry {
  /** The entry's key. */
  key: string;
  /** The bytes stored under it. */
  value: Uint8Array;
}

/** A page of `kvScan`: entries in key order; `nextCursor` only when more follow. */
export interface KvPage {
  /** The entries of the page, in key order. */
  entries: KvEntry[];
  /** Present when more entries follow: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

/** Whether two values hold the same bytes (`null` = absent). */
export function sameValue(a: Uint8Array | null | undefined, b: Uint8Array | null): boolean {
  if (a === undefined || a === null) return b === null;
  if (b === null || a.byteLength !== b.byteLength) return false;
  return Buffer.compare(a, b) === 0;
}

/** `kvGet` on a state: a copy of the value, or null. */
export function kvGetFrom(kv: KvMap, key: unknown): Uint8Array | null {
  const value = kv.get(checkKvKey(key));
  return value === undefined ? null : Buffer.from(value);
}

/** `kvScan` on a state, arguments checked. */
export function kvScanFrom(kv: KvMap, prefix: unknown, options: KvScanOptions = {}): KvPage {
  const p = checkKvPrefix(prefix);
  checkOptionsObject(options, "options", KV_SCAN_KEYS);
  const limit =
    options.limit === undefined
      ? DEFAULT_KV_SCAN_LIMIT
      : checkInteger(options.limit, "options.limit", 1, MAX_KV_SCAN_LIMIT);
  let after: string | undefined;
  if (options.cursor !== undefined) {
    after = checkString(options.cursor, "options.cursor");
    if (!after.startsWith(p) || after.length === 0)
      throw invalidArgument(
        "options.cursor",
        `a nextCursor of a kvScan of the prefix ${JSON.stringify(p)}`,
        after,
      );
  }
  const { entries, more } = kv.scan(p, after, limit);
  const page: KvPage = {
    entries: entries.map(([key, value]) => ({ key, value: Buffer.from(value) })),
  };
  if (more && entries.length > 0) page.nextCursor = entries[entries.length - 1]![0];
  return page;
}

/** `Queue.kvGet`. */
export async function kvGet(core: QueueCore, key: string): Promise<Uint8Array | null> {
  core.check();
  return durableRead(core, kvGetFrom(core.state.kv, key));
}

/** `Queue.kvScan`. */
export async function kvScan(
  core: QueueCore,
  prefix: string,
  options: KvScanOptions | undefined,
): Promise<KvPage> {
  core.check();
  return durableRead(core, kvScanFrom(core.state.kv, prefix, options));
}

/**
 * Resolves once the log takes writes and the queue is still open. Called only
 * when the log does not take writes now: a write to a writable log decides
 * and commits in the caller's synchronous step, as `enqueue` and
 * `transaction` do, so while the log takes writes, calls made one after
 * another commit in that order (an awaited turn here would let a later call's
 * write land first). Not while it refuses them (backpressure past
 * `maxUnflushedBytes`, or a checkpoint falling behind): a write waiting here
 * may be overtaken by a later call that resumes first, or by a transaction
 * that does not wait (one with no enqueue, kvPut or kvDelete, such as
 * `kvCheck`s with settles), since KV keys are not held the way the `jobId`s
 * of a waiting enqueue are.
 */
async function writable(core: QueueCore): Promise<void> {
  await core.log.whenWritable();
  core.check();
}

/** `Queue.kvPut`. */
export async function kvPut(core: QueueCore, key: string, value: unknown): Promise<void> {
  core.check();
  const k = checkKvKey(key);
  const v = checkKvValue(value);
  if (!core.log.isWritable()) await writable(core);
  await core.commit({ tag: Tag.KvPut, key: k, value: v });
}

/** `Queue.kvDelete`: whether the key was there. */
export async function kvDelete(core: QueueCore, key: string): Promise<boolean> {
  core.check();
  const k = checkKvKey(key);
  if (!core.log.isWritable()) await writable(core);
  if (!core.state.kv.has(k)) {
    // Its put may still be in flight: answer once everything before is durable (without
    // sealing the open batch: a no-op must not cost a log write of its own).
    await core.log.whenDurable();
    return false;
  }
  await core.commit({ tag: Tag.KvDelete, key: k });
  return true;
}

/** `Queue.kvCompareAndSet`: whether `value` was written. */
export async function kvCompareAndSet(
  core: QueueCore,
  key: string,
  expected: unknown,
  value: unknown,
): Promise<boolean> {
  core.check();
  const k = checkKvKey(key);
  const want = checkKvExpected(expected);
  const v = checkKvValue(value);
  if (!core.log.isWritable()) await writable(core);
  if (!sameValue(core.state.kv.get(k), want)) {
    // The value it saw may still be in flight: answered as `kvDelete`'s false is.
    await core.log.whenDurable();
    return false;
  }
  await core.commit({ tag: Tag.KvPut, key: k, value: v });
  return true;
}
