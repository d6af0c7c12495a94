/** The CLI's seams: where commands write and read the time (`CliIO`), what a command is, and the usage error. */
import { type Clock, systemClock } from "../clock.js";

/** Where a command writes. Commands never touch `process.stdout` directly, so tests can capture them. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether `out` is an interactive terminal (enables in-place progress lines). */
  readonly interactive: boolean;
  /** Width of that terminal in characters, when known. */
  readonly columns?: number | undefined;
  /** The time commands judge ages and relative times by; the system clock when absent. */
  readonly clock?: Clock | undefined;
  /**
   * Aborts once nobody reads `out` any more (`taquba demo | head`: the pipe's
   * reader exited); what is written to `out` after that is dropped. A
   * command that would otherwise run on (the demo, the dashboard) winds down
   * as on Ctrl-C.
   */
  readonly outputClosed?: AbortSignal | undefined;
}

/** Now, by `io`'s clock. */
export function nowOf(io: CliIO): number {
  return (io.clock ?? systemClock).now();
}

const stdoutGone = new AbortController();

/**
 * Says that writing stdout failed because its reader went away (EPIPE):
 * {@link processIO} drops what is written to `out` from then on and aborts
 * its `outputClosed`.
 */
export function stdoutClosed(): void {
  stdoutGone.abort();
}

let stderrGone = false;

/** Says that writing stderr failed because its reader went away (EPIPE): {@link processIO} drops what is written to `err` from then on. */
export function stderrClosed(): void {
  stderrGone = true;
}

export const processIO: CliIO = {
  out: (text) => {
    if (!stdoutGone.signal.aborted) process.stdout.write(text);
  },
  err: (text) => {
    if (!stderrGone) process.stderr.write(text);
  },
  interactive: process.stdout.isTTY === true,
  clock: systemClock,
  outputClosed: stdoutGone.signal,
  get columns() {
    return process.stdout.columns;
  },
};

/** One CLI command: `run` resolves with the process exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** Thrown for bad command-line usage; printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * A command could not do what it was asked, for a reason the user can fix
 * (no queue store at the given place): printed without a stack trace, exit code 1.
 */
export class CommandFailure extends Error {
  override name = "CommandFailure";
}
