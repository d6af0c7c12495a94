/**
 * The conditional-write probe: refuses a store that ignores create-if-absent,
 * which fencing relies on. Probe objects are named `probe/<ULID>`, so a
 * writer's garbage collection can tell the old ones (left by a crash, or by a
 * probe create whose outcome was lost) from a probe running right now.
 */
import { TextEncoder } from "node:util";
import {
  StorageError,
  type TaqubaError,
  taqubaErrorCode,
  UnsupportedStoreError,
} from "../errors.js";
import { messageOf } from "../util/message.js";
import { type RandomSource, systemRandom } from "../util/random.js";
import { isProgrammingError, programmingFailure } from "./programming-error.js";
import { isObjectExistsError, type ObjectExistsError, type ObjectStore } from "./types.js";

/**
 * Check that `store` honours create-if-absent writes, which fencing relies
 * on: create one probe object under `${prefix}probe/` twice; the second
 * create must fail with {@link ObjectExistsError}. Throws
 * {@link UnsupportedStoreError} when the store accepted it, and
 * {@link StorageError} when the store failed. The probe object is deleted
 * afterwards (best effort, even when its create failed: it may have taken
 * effect); `now` (wall time) goes into its name.
 */
export async function probeConditionalWrites(
  store: ObjectStore,
  prefix: string,
  now: number = Date.now(),
  /** Where the caller's opt-out lives, named in the message (`Queue.open` passes `options.log.allowUnsafeStore`). */
  optOutOption = "options.allowUnsafeStore",
  /** Where the name's random part comes from (a test's, to replay a run). */
  random: RandomSource = systemRandom,
): Promise<void> {
  const key = `${prefix}probe/${random.ulid(now)}`;
  const body = new TextEncoder().encode("taquba conditional-write probe\n");
  try {
    await attempt(store, key, () => store.put(key, body, { ifNoneMatch: "*" }));
    let secondSucceeded = false;
    try {
      await store.put(key, body, { ifNoneMatch: "*" });
      secondSucceeded = true;
    } catch (err) {
      if (!isObjectExistsError(err)) throw storageFailure(store, key, err);
    }
    if (secondSucceeded)
      throw new UnsupportedStoreError(
        `${store.describe()} ignored a conditional create (If-None-Match: *): writing "${key}" a second time succeeded instead of failing. ` +
          "Fencing out a second writer would be unsafe on this store. " +
          `Use a store that supports conditional writes${optOutAdvice(optOutOption)}.`,
      );
  } finally {
    await store.delete(key).catch(() => {});
  }
}

async function attempt(store: ObjectStore, key: string, op: () => Promise<void>): Promise<void> {
  try {
    await op();
  } catch (err) {
    throw storageFailure(store, key, err);
  }
}

function storageFailure(store: ObjectStore, key: string, err: unknown): TaqubaError {
  if (taqubaErrorCode(err) !== undefined) return err as TaqubaError;
  const what = `${store.describe()}: conditional-write probe on "${key}"`;
  if (isProgrammingError(err)) return programmingFailure(what, err);
  const reason = messageOf(err);
  return new StorageError(`${what} failed: ${reason}`, { cause: err });
}

/**
 * The end of the refusal's advice naming the opt-out at `optionPath` (a CLI,
 * which has no such option, replaces it).
 */
export function optOutAdvice(optionPath: string): string {
  return `, or, at your own risk, opt out of this check by setting \`${optionPath}\` to true (${optionLiteral(optionPath)})`;
}

/**
 * The options literal that sets `optionPath` (`options.log.allowUnsafeStore`)
 * to true: `{ log: { allowUnsafeStore: true } }`.
 */
function optionLiteral(optionPath: string): string {
  const names = optionPath.split(".").slice(1);
  const literal = names.reduceRight((inner, name) => `{ ${name}: ${inner} }`, "true");
  return `\`${literal}\``;
}
