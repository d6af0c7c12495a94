/** The `Logger` interface taquba reports through, and its console and silent implementations. */
/** Where taquba reports problems it handles itself (retries, settlement failures in workers). */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Default logger: warnings and errors to stderr via `console`. */
export const consoleLogger: Logger = {
  warn: (message, fields) => console.warn(`[taquba] ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`[taquba] ${message}`, fields ?? ""),
};

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { warn: () => {}, error: () => {} };
