/** The `Logger` interface taquba reports through, and its console and silent implementations. */
/** Where taquba reports problems it handles itself (retries, settlement failures in workers). */
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
