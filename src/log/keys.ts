/**
 * Object names of one log: the `manifest/`, `wal/` and `checkpoint/` keys
 * under its prefix, and parsing them back. Ids are zero-padded to 20 digits
 * so that the lexicographic order of a listing is the numeric order.
 */
import { decodeTime } from "ulid";
import { InvalidArgumentError, taqubaErrorCode } from "../errors.js";
import {
  keyLength,
  keyRoomOf,
  LONGEST_NAME_BYTES,
  MAX_AZURE_SEGMENTS,
  MAX_OBJECT_KEY_BYTES,
  NAME_SEGMENTS,
  prefixSegments,
  unitWord,
} from "../store/key-room.js";
import type { ObjectStore } from "../store/types.js";
import { checkString, expectationMessage, invalidArgument } from "../validate.js";

const ID_DIGITS = 20;

const ID_PATTERN = /^\d{20}$/;
const CHECKPOINT_PATTERN = /^(\d{20})-([0-9A-Za-z]+)$/;

/**
 * The key prefix of the log at `path` (see {@link normalizePrefix}), or an
 * `InvalidArgumentError` naming `arg` when `path` is not a string, or when
 * `store` has a key room (a cloud store: see `keyRoomOf`) and the path
 * leaves too little of it for the longest name a log or queue adds under it:
 * refused before anything is written, rather than by the store at a later
 * write. Which names a key may hold is up to the store (an S3 bucket takes
 * `a//b`, a `FileStore` does not), so nothing else is refused here: a
 * store's refusal of a key under the prefix is reported as a bad `path` by
 * {@link pathRefusal}.
 */
export function checkedLogPrefix(path: unknown, arg: string, store: ObjectStore): string {
  const prefix = normalizePrefix(checkString(path, arg));
  const room = keyRoomOf(store);
  if (room === undefined) return prefix;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short paths need no count.
  if (prefix.length * 3 + LONGEST_NAME_BYTES > room.length) {
    const length = keyLength(prefix, room.unit);
    if (length + LONGEST_NAME_BYTES > room.length) {
      const word = unitWord(room.unit);
      const why = `its keys take at most ${MAX_OBJECT_KEY_BYTES.toLocaleString("en-US")} ${word}, ${MAX_OBJECT_KEY_BYTES - room.length} of them its prefix and "/", and a queue adds names of up to ${LONGEST_NAME_BYTES} ${word} after the path and its "/"`;
      refuseTooLong(
        arg,
        store,
        room.length - 1 - LONGEST_NAME_BYTES,
        room.unit,
        why,
        `${length - 1} ${word}`,
        "a shorter `path`",
      );
    }
  }
  if (room.segments !== undefined) {
    const segments = prefixSegments(prefix);
    if (segments + NAME_SEGMENTS > room.segments) {
      const why = `its blob names take at most ${MAX_AZURE_SEGMENTS} segments, ${MAX_AZURE_SEGMENTS - room.segments} of them its prefix, and a queue adds names of ${NAME_SEGMENTS} segments after the path`;
      refuseTooLong(
        arg,
        store,
        room.segments - NAME_SEGMENTS,
        '"/"-separated segments',
        why,
        `${segments} segments`,
        "a `path` of fewer segments",
      );
    }
  }
  return prefix;
}

/**
 * Refuses a path (`arg`) over `most` of `unit` on `store` (`why` says
 * where that limit comes from, `got` what the path takes, `shorter` how to
 * shorten it); a limit below 1 leaves room for the store's root only.
 */
function refuseTooLong(
  arg: string,
  store: ObjectStore,
  most: number,
  unit: string,
  why: string,
  got: string,
  shorter: string,
): never {
  // A prefix this long leaves room for the store's root only: "at most 0 bytes" would read as a bug.
  if (most < 1)
    throw new InvalidArgumentError(
      `${expectationMessage(
        arg,
        `"" (the store's root) on ${store.describe()}, whose prefix leaves room for no other path (${why})`,
        got,
      )}: use a shorter \`prefix\` for the store, or the path ""`,
    );
  throw new InvalidArgumentError(
    `${expectationMessage(arg, `at most ${most} ${unit} on ${store.describe()} (${why})`, got)}: use ${shorter}, or a shorter \`prefix\` for the store`,
  );
}

/** What {@link pathRefusal} says a refused path should be, before the store's reason. */
const REFUSED_UNDER = "takes in its object keys (it refused one under it: ";

/**
 * `error` as a refusal of `path` (named `arg`) when it is a store's
 * `InvalidArgumentError` for one of the keys under it: the names a log or
 * queue adds after its prefix are ones every store takes, so `path` is what
 * the store refused. Any other error is returned as is, and so is a store's
 * refusal of its own option (a malformed connection string found on the
 * first request), which is not the path's fault. A refusal this made
 * already (a read nested in another) is not wrapped twice: it is told by
 * its message, which a store's refusal of a key (`Expected \`key\` …`) never
 * starts with.
 */
export function pathRefusal(
  error: unknown,
  store: ObjectStore,
  path: string,
  arg: string,
): unknown {
  // By code: a store of the package's other build refuses with that build's error.
  if (taqubaErrorCode(error) !== "INVALID_ARGUMENT") return error;
  const said = (error as Error).message;
  if (/^Expected `options\.\w+` of [A-Z]\w*Store /.test(said)) return error;
  const made = `Expected \`${arg}\` to be a path `;
  if (said.startsWith(made) && said.includes(REFUSED_UNDER)) return error;
  // The store's "Expected `key` …" goes on lower-case: one sentence.
  return invalidArgument(
    arg,
    `a path ${store.describe()} ${REFUSED_UNDER}${said.replace(/^Expected /, "expected ")})`,
    path,
  );
}

/** `path` and `path/` (and `/path`) name the same log; `""` is the store's root. */
export function normalizePrefix(path: string): string {
  const trimmed = path.replace(/^\/+/, "").replace(/\/+$/, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

export function formatId(id: number): string {
  return String(id).padStart(ID_DIGITS, "0");
}

/** Parses a 20-digit id; `null` for anything else. */
export function parseId(text: string): number | null {
  if (!ID_PATTERN.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}

/** Parses `<walId>-<unique>`; `null` when the name is not a checkpoint name. */
export function parseCheckpointName(name: string): { walId: number; unique: string } | null {
  const match = CHECKPOINT_PATTERN.exec(name);
  if (match === null) return null;
  const walId = parseId(match[1]!);
  return walId === null ? null : { walId, unique: match[2]! };
}

export function checkpointName(walId: number, unique: string): string {
  return `${formatId(walId)}-${unique}`;
}

/**
 * When a checkpoint was written, from the ULID in its name; `null` when the
 * name is not a checkpoint name or carries no time.
 */
export function checkpointCreatedAt(name: string): number | null {
  const parsed = parseCheckpointName(name);
  if (parsed === null) return null;
  try {
    return decodeTime(parsed.unique);
  } catch {
    return null;
  }
}

/** When a probe object was written, from the ULID in its name; `null` when there is none. */
export function probeCreatedAt(name: string): number | null {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(name)) return null;
  try {
    return decodeTime(name);
  } catch {
    return null;
  }
}

/** The keys of one log under its prefix. */
export class LogKeys {
  readonly manifestDir: string;
  readonly walDir: string;
  readonly checkpointDir: string;
  /** Where the store probe writes its objects (`probe/<ULID>`). */
  readonly probeDir: string;

  constructor(readonly prefix: string) {
    this.probeDir = `${prefix}probe/`;
    this.manifestDir = `${prefix}manifest/`;
    this.walDir = `${prefix}wal/`;
    this.checkpointDir = `${prefix}checkpoint/`;
  }

  manifest(id: number): string {
    return this.manifestDir + formatId(id);
  }

  wal(id: number): string {
    return this.walDir + formatId(id);
  }

  checkpoint(name: string): string {
    return this.checkpointDir + name;
  }

  /** The id of a `manifest/` or `wal/` key in `dir`; `null` for foreign keys. */
  idOf(dir: string, key: string): number | null {
    return key.startsWith(dir) ? parseId(key.slice(dir.length)) : null;
  }
}
