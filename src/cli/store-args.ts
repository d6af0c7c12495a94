/**
 * The flags and helpers every store command shares: `--store`/`--path`/`--json`,
 * opening a read-only reader or a writer of an existing queue store (refused
 * while another writer is live unless `--take-over`; a new store only with
 * `--create`), positional arguments, and JSON output of payloads.
 */

import { types } from "node:util";
import { InvalidArgumentError } from "../errors.js";
import { inspectLog, type ReadLogOptions } from "../log/index.js";
import { silentLogger } from "../logger.js";
import { readHeartbeat, STALE_INTERVALS } from "../queue/heartbeat.js";
import type { OpenOptions } from "../queue/options.js";
import { isUnreadable, markUnreadable } from "../queue/payload-object.js";
import { QUEUE_OWNED_DIRS } from "../queue/payloads.js";
import { openQueueWith, type Queue } from "../queue/queue.js";
import { QueueReader } from "../queue/reader.js";
import { planningNoSchedules } from "../queue/reader-hooks.js";
import type { JobRecord } from "../queue/types.js";
import { openStore } from "../store/open-store.js";
import type { ObjectStore } from "../store/types.js";
import { redactStoreLocation } from "../util/redact.js";
import { expectationMessage, likelyKey } from "../validate.js";
import type { CommandOptions } from "./args.js";
import { DEFAULT_DATA_DIR, DEFAULT_STORE_PATH } from "./defaults.js";
import { type CliIO, CommandFailure, nowOf, UsageError } from "./io.js";
import { holdsC1OrFormat, quoted, shown, terminalJson } from "./terminal-text.js";
import { liveWriterMessage, openedMessage, type WriterState, writerState } from "./writer-check.js";

/** `--store` / `--path`, shared by every command that works on an existing queue store. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  path: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies CommandOptions;

const STORE_URL_HELP = `  --store <url>          store URL: a directory, file:///abs/dir, s3://bucket/prefix?endpoint=…,
                         az://container/prefix, gs://bucket/prefix (default ${DEFAULT_DATA_DIR})`;
/** The help line of \`--path\`. */
export const STORE_PATH_HELP = `  --path <prefix>        queue-store path inside the store (default ${DEFAULT_STORE_PATH})`;
/** The help line of \`-h\` / \`--help\`. */
export const HELP_OPTION_HELP = "  -h, --help             show this help";

const STORE_FLAGS_HELP = `${STORE_URL_HELP}
${STORE_PATH_HELP}
  --json                 print JSON instead of text`;

export const STORE_HELP = `${STORE_FLAGS_HELP}
${HELP_OPTION_HELP}`;

/** Options of commands that write: they open the store as its writer. */
export const WRITE_OPTIONS = {
  ...STORE_OPTIONS,
  "take-over": { type: "boolean" },
  create: { type: "boolean" },
} as const satisfies CommandOptions;

export const WRITE_HELP = `${STORE_FLAGS_HELP}
  --take-over            write even when a writer is live (see below), fencing it:
                         it fails on its next write
  --create               create the queue store if there is none at --store/--path
                         (without it, a writing command never creates one)
${HELP_OPTION_HELP}

Writing opens the store as its writer, which fences (stops) any process that
has it open. So without --take-over the command first checks, reading only,
that no writer is known to be live, and refuses (writing nothing) if one is:
the store's newest manifest was not written by a clean close, and the
heartbeat of that writer epoch (OpenOptions.heartbeatMs) is not marked closed
and is at most ${STALE_INTERVALS} of its beat intervals old. A writer without a heartbeat
cannot be told from one that crashed, so it is fenced like a stale one.
stderr says which writer epoch was opened and which was fenced, and why.`;

export interface StoreValues {
  store?: string | undefined;
  path?: string | undefined;
}

export interface ResolvedStore {
  store: ObjectStore;
  path: string;
  /** How the user named the place, for messages. */
  where: string;
}

export async function resolveStore(values: StoreValues): Promise<ResolvedStore> {
  const url = values.store ?? DEFAULT_DATA_DIR;
  const path = values.path ?? DEFAULT_STORE_PATH;
  return {
    store: await openStoreFlag(url),
    path,
    where: `--path ${quoted(path)} in --store ${quoted(redactStoreLocation(url))}`,
  };
}

/** How openStore's refusals of its URL start. */
const OPEN_STORE_URL = "Expected `url` of openStore ";
/** How the Azure store's refusal of its connection string starts. */
const AZURE_CONNECTION_STRING_REFUSAL = "Expected `options.connectionString` of AzureBlobStore ";

/** `openStore` on the `--store` URL; a URL it refuses is a {@link UsageError} naming `--store`. */
async function openStoreFlag(url: string): Promise<ObjectStore> {
  try {
    return await openStore(url);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    // Its message starts with what it is about: the URL (already shown redacted) or a store's
    // option or argument (from the URL), which goes after the URL as one sentence.
    if (error.message.startsWith(OPEN_STORE_URL))
      throw new UsageError(`Expected \`--store\` ${error.message.slice(OPEN_STORE_URL.length)}`);
    // The connection string comes from the environment, not the URL: the message names it as is
    // (and the CLI's wording names the variable).
    if (error.message.startsWith(AZURE_CONNECTION_STRING_REFUSAL)) throw error;
    const detail = error.message.replace(
      /^Expected `(?:options\.)?(\w+)` of [A-Z]\w*Store /,
      "expected its `$1` ",
    );
    throw new UsageError(
      `${expectationMessage("--store", "a store URL", quoted(redactStoreLocation(url)))}: ${detail}`,
    );
  }
}

/** The failure of a command pointed at a place that holds no queue store; `hint` ends it. */
export function noStore(where: string, hint: string): CommandFailure {
  return new CommandFailure(
    `no taquba queue store at ${where} (no manifest there); check --store and --path${hint}`,
  );
}

/**
 * A read-only view of an existing queue store: never fences a running
 * writer. A place that holds no queue store is a {@link CommandFailure}.
 * It plans no schedules when it opens: a command that lists them lists
 * through `listSchedulesInSlices`.
 */
export async function openReader(values: StoreValues): Promise<QueueReader> {
  return await openReaderAt(await resolveStore(values), planningNoSchedules());
}

/**
 * {@link openReader} on a store already resolved (a command that reopens it
 * later keeps it), planning its schedules as it opens (the dashboard lists
 * them) unless `options` say otherwise.
 */
export async function openReaderAt(
  { store, path, where }: ResolvedStore,
  options?: ReadLogOptions,
): Promise<QueueReader> {
  const reader = await QueueReader.open(store, path, options);
  if (reader.inspection.manifest === null) throw noStore(where, "");
  return reader;
}

/**
 * What the store says, read without writing, about the writer that opened it
 * last; `null` when there is no queue store there.
 */
export async function lastWriter(
  { store, path }: ResolvedStore,
  io: CliIO,
): Promise<WriterState | null> {
  const [info, beat] = await Promise.all([
    inspectLog(store, path, {}, { ownedDirs: QUEUE_OWNED_DIRS }),
    readHeartbeat(store, path),
  ]);
  return info.manifest === null ? null : writerState(info.manifest, beat, nowOf(io));
}

/**
 * A store a read-only check before writing has read: resolved, with the
 * writer that opened it last as that read found it (`null`: no queue store
 * there). {@link openWriter} takes it instead of resolving the store again,
 * but asks the store about its writer afresh: the check's read can be old by
 * then (a writer may have opened during it).
 */
export interface CheckedStore extends ResolvedStore {
  before: WriterState | null;
}

/**
 * Reads the store read-only, for a check before a command opens it as
 * writer: a snapshot of it (`reader`, which the caller should not keep
 * beyond the check: the writer loads the state again) and the writer state
 * that same read found (a reader reads the newest manifest and the heartbeat
 * too). The heartbeat's age is taken from when the read started: the beat is
 * read at its start, and a slow load must not make a live writer look stale.
 */
export async function readBeforeWriting(
  resolved: ResolvedStore,
  io: CliIO,
): Promise<{ reader: QueueReader; checked: CheckedStore }> {
  const now = nowOf(io);
  const reader = await QueueReader.open(resolved.store, resolved.path, planningNoSchedules());
  const { manifest } = reader.inspection;
  const before = manifest === null ? null : writerState(manifest, reader.writerHeartbeat(), now);
  return { reader, checked: { ...resolved, before } };
}

/**
 * Open the store as its writer: refused (a {@link CommandFailure}, nothing
 * written) while a writer is known to be live, unless `--take-over`; a new
 * queue store only with `--create`. Says on `io.err` which writer it fenced.
 * `resolved`: the store a check before writing already resolved (and read,
 * {@link readBeforeWriting}); without it, the store is resolved from
 * `values`. Either way the last writer is looked up here, right before
 * opening: a writer judged by an older read could be live by now.
 */
export async function openWriter(
  values: StoreValues & {
    "take-over"?: boolean | undefined;
    create?: boolean | undefined;
  },
  io: CliIO,
  command: string,
  options: OpenOptions = {},
  resolved?: ResolvedStore,
): Promise<Queue> {
  const at = resolved ?? (await resolveStore(values));
  const { store, path, where } = at;
  const before = await lastWriter(at, io);
  if (values.create !== true && before === null)
    throw noStore(where, ", or pass --create to create one");
  if (before?.kind === "live" && values["take-over"] !== true)
    throw new CommandFailure(liveWriterMessage(before));
  // No schedule fires here: it would take this command's queue settings, not the application's.
  const queue = await openQueueWith(
    store,
    path,
    { logger: silentLogger, ...options },
    { schedules: false },
  );
  io.err(`taquba ${command}: ${openedMessage(queue.logStats().epoch, before)}\n`);
  return queue;
}

/**
 * A store {@link checkKnownQueue} read, with what its `look` took from the
 * snapshot (`undefined`: no queue store there, or no `look`).
 */
export interface KnownQueueStore<T> extends CheckedStore {
  seen: T | undefined;
}

/**
 * Refuses, before anything is opened as writer, a queue the store has never
 * seen: one that never held a job and is not paused (a typo, most likely,
 * which `pauseQueue` would otherwise record for good). Read-only. `hint` ends
 * the message (how to go ahead anyway, if there is a way). A place with no
 * queue store passes, unless `--create` would create one: {@link openWriter}
 * reports that. Resolves with the store as read, for {@link openWriter}, and
 * what `look` took from the snapshot (for a command to see whether it has
 * anything to do). The snapshot itself is not kept: the writer loads the
 * state again, and both at once would double the memory.
 */
export async function checkKnownQueue<T = undefined>(
  values: StoreValues & { create?: boolean | undefined },
  io: CliIO,
  name: string,
  hint = "",
  look?: (snapshot: QueueReader) => T,
): Promise<KnownQueueStore<T>> {
  const { reader, checked } = await readBeforeWriting(await resolveStore(values), io);
  // No store: with --create a new one, which knows no queue yet; without, openWriter says so.
  const exists = checked.before !== null;
  if (!exists && values.create !== true) return { ...checked, seen: undefined };
  const known = exists ? reader.listQueues({ includePaused: true }) : [];
  if (known.includes(name)) return { ...checked, seen: look?.(reader) };
  throw new CommandFailure(unknownQueueMessage(name, known, ": nothing was written", hint));
}

/**
 * Why a command refuses queue `name`, which is not among the `known` queues
 * of the store (those that ever held a job, and those paused before their
 * first): the closest known name and some of them. `outcome` (what the
 * refusal left undone, such as ": nothing was written") follows the first
 * clause, `hint` ends it.
 */
export function unknownQueueMessage(
  name: string,
  known: readonly string[],
  outcome = "",
  hint = "",
): string {
  const best = likelyKey(name, known);
  const listed =
    known.length === 0
      ? "It has no queues yet."
      : `Its queues: ${known.slice(0, 10).map(shown).join(", ")}${known.length > 10 ? ", …" : ""}.`;
  return (
    `queue ${quoted(name)} has never held a job in this store${outcome}. ` +
    `${best === undefined ? "" : `Did you mean ${quoted(best)}? `}${listed}${hint}`
  );
}

/** Exactly the positional arguments `names`, named in the error. */
export function positionals(values: string[], names: readonly string[]): string[] {
  if (values.length !== names.length) {
    const expected = names.length === 0 ? "no arguments" : names.map((n) => `<${n}>`).join(" ");
    throw new UsageError(`Expected ${expected}, got ${values.length} argument(s)`);
  }
  return values;
}

/**
 * JSON with payload bytes shown as by {@link payloadText}: UTF-8 text, else (or for text
 * starting with `hex:`) `hex:…`. DEL and C1 controls are escaped inside its strings
 * ({@link terminalJson}): `JSON.parse` gives back the exact strings.
 */
export function toJson(value: unknown): string {
  return `${terminalJson(
    value,
    // `this[key]` is the value before its toJSON (a Buffer would otherwise arrive as { type, data }).
    function (this: Record<string, unknown>, key: string, v: unknown) {
      const raw = this[key];
      return types.isUint8Array(raw) ? payloadText(raw) : v;
    },
    2,
  )}\n`;
}

/**
 * Reads the offloaded payloads of a listing's `jobs` back (in place). A job
 * whose object is damaged or gone does not fail the listing (the dead list is
 * where such a job ends up), as in `reader.listJobsLoaded`: it keeps an empty
 * payload and gets `payloadError`. A store that fails to answer still fails it.
 */
export async function loadListedPayloads(reader: QueueReader, jobs: JobRecord[]): Promise<void> {
  for (const job of jobs) {
    try {
      job.payload = await reader.loadPayload(job);
    } catch (error) {
      if (!isUnreadable(error)) throw error;
      markUnreadable(job, error);
    }
  }
}

/** How a listed job's payload is shown on one line: its text (cut at 60 characters), or why it could not be read. */
export function listedPayload(job: JobRecord): string {
  if (job.payloadError !== undefined) return `payload unreadable ${quoted(job.payloadError)}`;
  const payload = shownPayload(job.payload);
  const text = payload.length > 60 ? `${payload.slice(0, 57)}...` : payload;
  return `payload ${quoted(text)}`;
}

/**
 * Bytes for `--json`: UTF-8 text when they are valid UTF-8 without control
 * characters (C0 other than tab and newlines, DEL), else `hex:…`. Text that itself
 * starts with `hex:` is shown as hex too, so a reader of the output can always
 * tell which bytes were stored.
 */
export function payloadText(payload: Uint8Array): string {
  const text = Buffer.from(payload).toString("utf8");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  const printable = !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
  return printable && !text.startsWith("hex:") && Buffer.from(text, "utf8").equals(payload)
    ? text
    : `hex:${Buffer.from(payload).toString("hex")}`;
}

/**
 * Bytes for the terminal: as {@link payloadText}, and `hex:…` for text holding
 * C1 controls (some terminals act on them as escape sequences) or
 * bidirectional and invisible format characters (they reorder what the
 * terminal shows) too; `--json` escapes them instead.
 */
export function shownPayload(payload: Uint8Array): string {
  const text = payloadText(payload);
  return holdsC1OrFormat(text) ? `hex:${Buffer.from(payload).toString("hex")}` : text;
}
