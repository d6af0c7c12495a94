/** Counting turns of the event loop in tests (a `setImmediate` chain). */

/**
 * A running count of event-loop turns; `stop()` ends the chain. `onTurn`, when
 * given, runs at each turn the counter sees.
 */
export function turnCounter(onTurn?: () => void): { readonly turns: number; stop(): void } {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns++;
    onTurn?.();
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      counting = false;
    },
  };
}

/** `f`'s result, and how many turns the event loop took meanwhile. */
export async function turnsDuring<T>(f: () => Promise<T>): Promise<{ result: T; turns: number }> {
  const counter = turnCounter();
  try {
    return { result: await f(), turns: counter.turns };
  } finally {
    counter.stop();
  }
}
