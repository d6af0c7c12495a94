/**
 * How a long-running command hears Ctrl-C (SIGINT) and SIGTERM: the first one
 * aborts {@link Interrupt.signal}, and the command winds down (stops claiming,
 * closes the store cleanly). The handlers are removed then, so a second
 * Ctrl-C ends the process at once, as it would without them (nothing is lost:
 * what was written is durable).
 */
import { constants } from "node:os";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
type InterruptSignal = (typeof SIGNALS)[number];

export interface Interrupt {
  /** Aborts at the first SIGINT or SIGTERM; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /**
   * The exit code for a command the signal cut short: 128 + the signal's
   * number (130 for Ctrl-C, 143 for SIGTERM), as shells report it. A command
   * whose normal end is the signal (the dashboard) exits 0 instead.
   */
  readonly exitCode: number;
  /** Removes the handlers (call once the command is done). */
  dispose(): void;
}

/** Listens for SIGINT and SIGTERM until {@link Interrupt.dispose}. */
export function listenForInterrupt(): Interrupt {
  const controller = new AbortController();
  const handlers = SIGNALS.map((name) => {
    const handler = (): void => {
      dispose();
      controller.abort(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  function dispose(): void {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
  return {
    signal: controller.signal,
    get exitCode() {
      const name = controller.signal.reason as InterruptSignal | undefined;
      return name === undefined ? 0 : 128 + constants.signals[name];
    },
    dispose,
  };
}
