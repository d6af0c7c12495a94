/**
 * A logger for tests that keeps every line it is given, so a test can assert
 * which lines were logged at which level, with which fields.
 */
import type { Logger } from "../src/logger.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** One call to the logger. */
export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

export interface RecordingLogger extends Required<Logger> {
  /** Every line logged, in order; a test may empty it (`lines.length = 0`). */
  readonly lines: LogLine[];
  /** The lines logged at any of `levels`, in order. */
  at(...levels: [LogLevel, ...LogLevel[]]): LogLine[];
  /** The messages of the lines logged at any of `levels`, in order. */
  messages(...levels: [LogLevel, ...LogLevel[]]): string[];
}

/** A logger that keeps every line, at every level (closures, so it survives being spread). */
export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const logAt =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, fields });
    };
  const at = (...levels: LogLevel[]): LogLine[] =>
    lines.filter((line) => levels.includes(line.level));
  return {
    lines,
    debug: logAt("debug"),
    info: logAt("info"),
    warn: logAt("warn"),
    error: logAt("error"),
    at,
    messages: (...levels) => at(...levels).map((line) => line.message),
  };
}

/** A logger whose every method throws (a closed sink, a bug in a formatter), counting the calls. */
export function throwingLogger(): Required<Logger> & { calls: number } {
  const logger = {
    calls: 0,
    debug: () => fail(),
    info: () => fail(),
    warn: () => fail(),
    error: () => fail(),
  };
  const fail = (): never => {
    logger.calls++;
    throw new Error("the log sink is gone");
  };
  return logger;
}
