/**
 * How a long-running command hears Ctrl-C (SIGINT) and SIGTERM, or that its
 * output is no longer read: the first of them aborts
 * {@link Interrupt.signal}, and the command winds down (stops claiming,
 * closes the store cleanly). The handlers are removed then, so a second
 * Ctrl-C ends the process at once, as it would without them (nothing is lost:
 * what was written is durable).
 */
import { constants } from "node:os";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
type InterruptSignal = (typeof SIGNALS)[number];

export interface Interrupt {
  /**
   * Aborts at the first SIGINT or SIGTERM, its reason the signal's name, or
   * once the output is closed (reason `"output closed"`).
   */
  readonly signal: AbortSignal;
  /**
   * The exit code for a command the signal cut short: 128 + the signal's
   * number (130 for Ctrl-C, 143 for SIGTERM), as shells report it; 0 when
   * its output was closed (nobody is left to read a status but the shell,
   * which reports the reader's). A command whose normal end is the signal
   * (the dashboard) exits 0 instead.
   */
  readonly exitCode: number;
  /** Removes the handlers (call once the command is done). */
  dispose(): void;
}

/** Why an {@link Interrupt} aborted. */
type Reason = InterruptSignal | typeof OUTPUT_CLOSED;
const OUTPUT_CLOSED = "output closed";

/**
 * Listens for SIGINT and SIGTERM, and to `outputClosed` (`CliIO.outputClosed`;
 * aborted already: at once), until {@link Interrupt.dispose}.
 */
export function listenForInterrupt(outputClosed?: AbortSignal): Interrupt {
  const controller = new AbortController();
  const stop = (reason: Reason): void => {
    dispose();
    controller.abort(reason);
  };
  const handlers = SIGNALS.map((name) => {
    const handler = (): void => stop(name);
    process.on(name, handler);
    return [name, handler] as const;
  });
  const onClosed = (): void => stop(OUTPUT_CLOSED);
  outputClosed?.addEventListener("abort", onClosed);
  function dispose(): void {
    for (const [name, handler] of handlers) process.off(name, handler);
    outputClosed?.removeEventListener("abort", onClosed);
  }
  if (outputClosed?.aborted === true) onClosed();
  return {
    signal: controller.signal,
    get exitCode() {
      const reason = controller.signal.reason as Reason | undefined;
      return reason === undefined || reason === OUTPUT_CLOSED ? 0 : 128 + constants.signals[reason];
    },
    dispose,
  };
}
