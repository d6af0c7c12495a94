/**
 * The `Logger` interface taquba reports through, its console and silent
 * implementations, and the guard every logger taquba is given is called through.
 */
/**
 * Where taquba reports problems it handles itself (retries, settlement
 * failures in workers). A method that throws, or returns a promise that
 * rejects, is ignored: a failing logger never fails the work it reports on.
 */
export interface Logger {
  /** Detail useful when tracing a problem (optional: left out, these are dropped). */
  debug?(message: string, fields?: Record<string, unknown>): void;
  /** A notable event that needs no action, e.g. a recovery that worked (optional). */
  info?(message: string, fields?: Record<string, unknown>): void;
  /** A problem taquba handled, e.g. a store request it retried. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A failure taquba could not handle, e.g. the log failing for good. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Default logger: warnings and errors to stderr via `console`. */
export const consoleLogger: Logger = {
  warn: (message, fields) => console.warn(`[taquba] ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`[taquba] ${message}`, fields ?? ""),
};

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { warn: () => {}, error: () => {} };

type Level = "debug" | "info" | "warn" | "error";

/**
 * Registry key of the logger a guard calls, on the guard: the same key in
 * either build (ESM, CommonJS), so a guard of the other build is known too.
 */
const GUARDED = Symbol.for("taquba.guardedLogger");

/** Calls `logger[level]` with `args`, if it has that method; a throw or a rejection is dropped. */
function tell(logger: Logger, level: Level, args: unknown[]): void {
  try {
    const method: unknown = logger[level];
    if (typeof method !== "function") return;
    const result: unknown = Reflect.apply(method, logger, args);
    if (typeof (result as { then?: unknown } | null | undefined)?.then === "function")
      Promise.resolve(result).catch(() => {});
  } catch {
    // The logger failed: there is nowhere left to report it, and the work it was told of goes on.
  }
}

/**
 * `logger` to be called anywhere: a commit, a worker's loop, a timer, a
 * promise's reaction. A method that throws (a closed sink, a bug in a
 * formatter) or returns a rejected promise is ignored, so it can neither
 * fail the work it was told of nor leave a promise rejected (which ends a
 * Node process). The methods are looked up at each call, with the arguments
 * as given. The guard is the caller's own (a queue, a log, a worker or a
 * dashboard keeps the one it validated); guarding a guard returns it, and the
 * two loggers above (they never throw) are returned as they are. Two guards
 * of one logger are told apart by {@link unguardedLogger}.
 */
export function guardLogger(logger: Logger): Logger {
  if ((typeof logger !== "object" && typeof logger !== "function") || logger === null)
    return logger;
  if (logger === consoleLogger || logger === silentLogger || GUARDED in logger) return logger;
  const guard: Logger = {
    debug: (...args) => tell(logger, "debug", args),
    info: (...args) => tell(logger, "info", args),
    warn: (...args) => tell(logger, "warn", args),
    error: (...args) => tell(logger, "error", args),
  };
  Object.defineProperty(guard, GUARDED, { value: logger });
  return guard;
}

/** The logger `logger` guards when it is a guard (of either build), else `logger` itself. */
export function unguardedLogger(logger: unknown): unknown {
  if ((typeof logger !== "object" && typeof logger !== "function") || logger === null)
    return logger;
  return GUARDED in logger ? (logger as Record<symbol, unknown>)[GUARDED] : logger;
}
