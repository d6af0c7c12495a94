/**
 * One log line per store problem, not one per request it fails. Each retry
 * sequence fails first at one request; a fault that lasts (a store that
 * fails the first attempt of every WAL write, say) would otherwise warn once
 * per write. A problem is one kind of request failing with one error (the
 * key left out of its message). A kind is the request's verb and its key up
 * to the key's last `/`: `create q/wal/`, `GET q/checkpoint/`, `writing
 * payload object "q/payload/…"`. That is where the part naming one object
 * starts in every key a log or queue writes, `{prefix}{folder}/{name}`: the
 * folders are `manifest/`, `wal/`, `checkpoint/`, `probe/` and `payload/`,
 * and a name (a 20-digit id, `<id>-<ULID>`, a ULID) never holds a `/`; a
 * listing's or the probe's key is its folder. A request names its key after
 * its verb (`PUT q/wal/000…`) or, quoted, at its end (`reading payload
 * object "q/payload/01H…"`). Two errors with one message are one error
 * unless the codes, HTTP statuses or names down their `cause` chains differ
 * (a `StorageError` wrapping `ECONNRESET` and one wrapping a 503): those
 * are two problems, and their lines say which (`cause`). A listing of
 * manifests that leaves out one that exists (waited out while opening, see
 * `fence-errors.ts`) is a problem of `LIST {prefix}manifest/` too, with its
 * own line; no request failed, so no line says that requests succeed again.
 *
 * - its first failure warns, as a lone failure always did;
 * - later failures of the same problem go to `debug`, but at most every
 *   {@link RETRY_REMINDER_MS} one warns again ("still failing"), with how
 *   many requests failed since the last line and for how long it has lasted;
 * - the first request of that kind to succeed at least
 *   {@link RETRY_HEALED_AFTER_MS} after the problem's last failed attempt (of
 *   any sequence, not only a first one) logs one `info` line that it healed,
 *   with `failedForMs` from its first failure to its last; a later failure
 *   is a new problem that warns again;
 * - so is a failure after a request of that kind succeeded and none failed
 *   for {@link RETRY_HEALED_AFTER_MS}, when no request came to say it healed
 *   (rare requests): a new outage warns and its duration starts again.
 *
 * A failure of another kind of request, or with another error, is another
 * problem and warns at once: one problem never hides another.
 */
import type { MonotonicClock } from "../clock.js";
import { taqubaErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { messageOf } from "../util/message.js";

/** While one problem lasts, at most one warning per this long (ten minutes). */
export const RETRY_REMINDER_MS = 600_000;
/** A problem has healed once its kind of request succeeds this long after its last failure (a minute). */
export const RETRY_HEALED_AFTER_MS = 60_000;
/** Problems tracked at once; the oldest is forgotten past it (messages that never repeat). */
const MAX_PROBLEMS = 32;

const RETRYING = "store request failed; retrying with backoff";

/**
 * `what` as its kind and its key: `PUT q/wal/00…` as `PUT q/wal/`, and
 * `writing payload object "q/payload/01H…"` (a key quoted at the end) as
 * `writing payload object "q/payload/…"`.
 */
export function kindOf(what: string): { kind: string; key: string } {
  const quote = what.endsWith('"') ? what.indexOf(' "') : -1;
  if (quote >= 0 && quote + 2 < what.length - 1) {
    const key = what.slice(quote + 2, -1);
    return { kind: `${what.slice(0, quote + 2)}${folderOf(key)}…"`, key };
  }
  const space = what.indexOf(" ");
  if (space < 0) return { kind: what, key: "" };
  const key = what.slice(space + 1);
  return { kind: what.slice(0, space + 1) + folderOf(key), key };
}

/** `key` up to its last `/`: the part every object of its folder shares. */
function folderOf(key: string): string {
  return key.slice(0, key.lastIndexOf("/") + 1);
}

/** How deep {@link causeOf} follows an error's `cause` chain. */
const MAX_CAUSE_DEPTH = 5;

/**
 * What tells apart errors that share a message: the codes, HTTP statuses and
 * names (other than `Error`) of `error` and its causes, in order (`"ECONNRESET"`,
 * `"SlowDown 503"`), or `""`. Never their messages, which may carry a
 * request id; never taquba's own codes, which every store error shares.
 */
function causeOf(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  try {
    let level = error;
    for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
      if (typeof level !== "object" || level === null || seen.has(level)) break;
      seen.add(level);
      const source = level as Record<string, unknown> & {
        $metadata?: { httpStatusCode?: unknown };
      };
      if (taqubaErrorCode(level) === undefined) {
        const { name, code } = source;
        if (typeof name === "string" && name !== "Error" && name !== code) parts.push(name);
        if (typeof code === "string" || typeof code === "number") parts.push(String(code));
      }
      const status = source.$metadata?.httpStatusCode ?? source.statusCode ?? source.status;
      // An integer only: a NaN or 1.5 tells nothing, and would show as `cause: "NaN"`.
      if (Number.isInteger(status)) parts.push(String(status));
      level = source.cause;
    }
  } catch {
    // A getter that throws: what was read so far.
  }
  return parts.join(" ");
}

/** The problem of request `what` failing with `error`: its kind, its message without the key, its cause, its id. */
function problemOf(
  what: string,
  error: unknown,
): { kind: string; message: string; cause: string; id: string } {
  const { kind, key } = kindOf(what);
  const message = key === "" ? messageOf(error) : messageOf(error).split(key).join("…");
  const cause = causeOf(error);
  return { kind, message, cause, id: `${kind}\n${message}\n${cause}` };
}

/** `fields` with the problem's {@link causeOf} as `cause`, when it has one. */
function withCause(fields: Record<string, unknown>, cause: string): Record<string, unknown> {
  return cause === "" ? fields : { ...fields, cause };
}

/** What a tracker knows of one problem; its own details besides (`T`). */
type Tracked<T> = T & {
  /** Its kind of request (`"PUT q/wal/"`). */
  kind: string;
  /** When its first failure warned (monotonic). */
  since: number;
  /** When it last warned. */
  warnedAt: number;
  /** When it last failed. */
  failedAt: number;
  /** Failures since it last warned. */
  unreported: number;
  /** Whether a request of its kind succeeded since it last failed. */
  succeeded: boolean;
};

/** The line a problem's failure logs: its first warns, later ones go to `debug`, a reminder warns. */
type Step =
  | { line: "first" }
  | { line: "debug" }
  | { line: "reminder"; unreported: number; failingForMs: number };

/**
 * The problems of one tracker, by id (kind, error and cause, see
 * {@link problemOf}), and the steps of the module's documentation: a
 * problem's first failure warns, later ones go to `debug`, at most every
 * {@link RETRY_REMINDER_MS} one warns again with how many failed since the
 * last line and for how long it has lasted. Its users word the lines.
 */
class ProblemTracker<T extends object> {
  readonly #clock: MonotonicClock;
  /**
   * Whether a failure after a success of its kind, none having failed for
   * {@link RETRY_HEALED_AFTER_MS}, is a new problem (a new outage of rare
   * requests) rather than the old one going on.
   */
  readonly #quietSuccessEnds: boolean;
  /** By kind of request and error (two errors taking turns are two problems, each warned once). */
  readonly #problems = new Map<string, Tracked<T>>();

  constructor(clock: MonotonicClock, quietSuccessEnds: boolean) {
    this.#clock = clock;
    this.#quietSuccessEnds = quietSuccessEnds;
  }

  /** Whether no problem is tracked (nothing to look up). */
  get empty(): boolean {
    return this.#problems.size === 0;
  }

  /** Problem `id`, of request kind `kind`, failed (`details`: its own, if it is new): which line to log. */
  failed(id: string, kind: string, details: T): Step {
    const now = this.#clock.monotonicNow();
    let known = this.#problems.get(id);
    if (
      this.#quietSuccessEnds &&
      known?.succeeded === true &&
      now - known.failedAt >= RETRY_HEALED_AFTER_MS
    ) {
      // Requests worked again and nothing failed for a while: this is a new outage, not the old one.
      this.#problems.delete(id);
      known = undefined;
    }
    if (known === undefined) {
      if (this.#problems.size >= MAX_PROBLEMS)
        this.#problems.delete(this.#problems.keys().next().value as string);
      const problem: Tracked<T> = {
        ...details,
        kind,
        since: now,
        warnedAt: now,
        failedAt: now,
        unreported: 0,
        succeeded: false,
      };
      this.#problems.set(id, problem);
      return { line: "first" };
    }
    known.failedAt = now;
    known.succeeded = false;
    known.unreported++;
    if (now - known.warnedAt < RETRY_REMINDER_MS) return { line: "debug" };
    const step = {
      line: "reminder" as const,
      unreported: known.unreported,
      failingForMs: Math.round(now - known.since),
    };
    known.warnedAt = now;
    known.unreported = 0;
    return step;
  }

  /** Problem `id` failed again without a line (a later attempt of a sequence): it lasts. */
  failedAgain(id: string): void {
    const problem = this.#problems.get(id);
    if (problem === undefined) return;
    problem.failedAt = this.#clock.monotonicNow();
    problem.succeeded = false;
  }

  /**
   * A request of kind `kind` succeeded: its problems whose last failure is
   * {@link RETRY_HEALED_AFTER_MS} ago or more end, and are returned.
   */
  succeeded(kind: string): Tracked<T>[] {
    const now = this.#clock.monotonicNow();
    const healed: Tracked<T>[] = [];
    for (const [id, problem] of this.#problems) {
      if (problem.kind !== kind) continue;
      problem.succeeded = true;
      if (now - problem.failedAt < RETRY_HEALED_AFTER_MS) continue;
      this.#problems.delete(id);
      healed.push(problem);
    }
    return healed;
  }
}

/** The problems of one log's requests (see the module's documentation). */
export class RetryWarnings {
  readonly #logger: Logger;
  readonly #problems: ProblemTracker<{
    /** The error's message, its key left out. */
    error: string;
    /** What tells it from other errors with that message (see {@link causeOf}), or `""`. */
    cause: string;
    /** The wording of a request that answered, but not as it should (a wait, not a failure), or `null`. */
    waitingFor: string | null;
  }>;

  constructor(clock: MonotonicClock, logger: Logger) {
    this.#logger = logger;
    this.#problems = new ProblemTracker(clock, true);
  }

  /**
   * A retry sequence of request `what` failed for the first time with
   * `error`; `fields` for its line. A request that answered, but not as it
   * should, is a wait: `waitingFor` is its wording, and its problem ends
   * without a line that requests succeed again, as none failed.
   */
  failed(
    what: string,
    error: unknown,
    fields: Record<string, unknown>,
    waitingFor: string | null = null,
  ): void {
    const message = waitingFor ?? RETRYING;
    const { kind, message: said, cause, id } = problemOf(what, error);
    const line = withCause(fields, cause);
    const step = this.#problems.failed(id, kind, { error: said, cause, waitingFor });
    if (step.line === "first") this.#logger.warn(message, line);
    else if (step.line === "debug") this.#logger.debug?.(message, line);
    else
      this.#logger.warn(waitingFor ?? "store requests still failing; retrying with backoff", {
        ...line,
        what: kind,
        failedRequests: step.unreported,
        failingForMs: step.failingForMs,
      });
  }

  /** A later attempt of a failing sequence of `what` failed too, with `error`: its problem lasts. */
  failedAgain(what: string, error: unknown): void {
    if (this.#problems.empty) return;
    this.#problems.failedAgain(problemOf(what, error).id);
  }

  /** Request `what` succeeded: each problem of its kind healed, if it failed last long enough ago. */
  succeeded(what: string): void {
    if (this.#problems.empty) return;
    const { kind } = kindOf(what);
    for (const problem of this.#problems.succeeded(kind)) {
      if (problem.waitingFor !== null) continue;
      this.#logger.info?.(
        "store requests succeed again",
        withCause(
          {
            what: kind,
            error: problem.error,
            failedForMs: Math.round(problem.failedAt - problem.since),
          },
          problem.cause,
        ),
      );
    }
  }
}

/**
 * Requests given up on, past their retry budget or refused for good, whose
 * object is left behind (`consequence`: "it is collected later"): one
 * warning per problem (kinds and errors as above), later ones on `debug`,
 * at most every {@link RETRY_REMINDER_MS} a warning again with how many
 * objects were left since the last one (`objectsLeft`). A problem ends
 * quietly once a request of its kind succeeds {@link RETRY_HEALED_AFTER_MS}
 * after its last give-up; the retries' own tracker says that requests
 * succeed again.
 */
export class GiveUpWarnings {
  readonly #logger: Logger;
  readonly #consequence: string;
  readonly #problems: ProblemTracker<object>;

  constructor(clock: MonotonicClock, logger: Logger, consequence: string) {
    this.#logger = logger;
    this.#consequence = consequence;
    this.#problems = new ProblemTracker(clock, false);
  }

  /** Request `what` was given up on with `error`. */
  gaveUp(what: string, error: unknown): void {
    // Past its budget the error counts attempts and time; its cause is the problem.
    const last =
      error instanceof Error && error.cause !== undefined && error.message.startsWith(what)
        ? error.cause
        : error;
    const { kind, message, cause, id } = problemOf(what, last);
    const fields = withCause({ what: kind, error: message }, cause);
    const step = this.#problems.failed(id, kind, {});
    const line = `${what} failed; ${this.#consequence}: ${messageOf(error)}`;
    if (step.line === "first") this.#logger.warn(line, { ...fields, objectsLeft: 1 });
    else if (step.line === "debug") this.#logger.debug?.(line, fields);
    else
      this.#logger.warn(`${kind} still failing; ${this.#consequence}`, {
        ...fields,
        objectsLeft: step.unreported,
        failingForMs: step.failingForMs,
      });
  }

  /** Request `what` succeeded: its kind's problems whose last give-up is long enough ago end. */
  succeeded(what: string): void {
    if (this.#problems.empty) return;
    this.#problems.succeeded(kindOf(what).kind);
  }
}
