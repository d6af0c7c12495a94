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

/**
 * The process's stdout and stderr as a {@link CliIO}. Once a stream's reader
 * went away (EPIPE), what is written to it is dropped: the entry point says
 * so through {@link stdoutClosed} and {@link stderrClosed}.
 */
export class ProcessIO implements CliIO {
  readonly #stdoutGone = new AbortController();
  #stderrGone = false;
  readonly interactive: boolean = process.stdout.isTTY === true;
  readonly clock: Clock = systemClock;
  /** Aborted by {@link stdoutClosed}. */
  readonly outputClosed: AbortSignal = this.#stdoutGone.signal;

  get columns(): number | undefined {
    return process.stdout.columns;
  }

  // Fields, not methods: a command may hand `io.out` on by itself.
  readonly out = (text: string): void => {
    if (!this.#stdoutGone.signal.aborted) process.stdout.write(text);
  };

  readonly err = (text: string): void => {
    if (!this.#stderrGone) process.stderr.write(text);
  };

  /**
   * Says that writing stdout failed because its reader went away (EPIPE):
   * what is written to `out` is dropped from then on, and `outputClosed`
   * aborts.
   */
  stdoutClosed(): void {
    this.#stdoutGone.abort();
  }

  /** Says that writing stderr failed because its reader went away (EPIPE): what is written to `err` is dropped from then on. */
  stderrClosed(): void {
    this.#stderrGone = true;
  }
}

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
