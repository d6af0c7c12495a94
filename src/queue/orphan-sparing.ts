/**
 * What a pass over orphaned payload objects leaves alone whatever time their
 * names carry (a wall clock set back names a new object as an old one): the
 * objects of calls in flight when it began, and those written since. The
 * latter are not held one key each, which would grow with every write made
 * during a long pass (a large folder listed in slices, deletes retried with
 * backoff): the earliest time any of them is named by is kept instead, and
 * every object named from then on is spared. That spares no other object
 * unless the wall clock went back during the pass (objects named from the
 * pass's start on are too young for it anyway); the pass counts those it
 * spared so, and another pass, a spacing later, is set for them.
 */

/** What one pass spares (see the module's documentation). */
export interface Spared {
  /** Whether the pass leaves `key` alone whatever time its name carries (its call in flight when it began). */
  holds(key: string): boolean;
  /** Whether the pass leaves an object named by wall time `namedAt` alone (named since an object written during it). */
  namedSince(namedAt: number): boolean;
  /** The pass is over. */
  end(): void;
}

export class PassSparing {
  /** The keys in flight when the running pass began, or null when none runs. */
  #inFlightAtStart: ReadonlySet<string> | null = null;
  /** The earliest wall time an object written since the running pass began is named by. */
  #writtenFrom = Number.POSITIVE_INFINITY;

  /** How many keys the running pass holds (those in flight when it began), 0 when none runs. */
  get size(): number {
    return this.#inFlightAtStart?.size ?? 0;
  }

  /** An object named by wall time `namedAt` is being written. */
  wrote(namedAt: number): void {
    if (this.#inFlightAtStart !== null) this.#writtenFrom = Math.min(this.#writtenFrom, namedAt);
  }

  /** A pass begins while the objects `inFlight` are written for calls not over yet (copied). */
  begin(inFlight: ReadonlySet<string>): Spared {
    const atStart = new Set(inFlight);
    this.#inFlightAtStart = atStart;
    this.#writtenFrom = Number.POSITIVE_INFINITY;
    return {
      holds: (key) => atStart.has(key),
      namedSince: (namedAt) => namedAt >= this.#writtenFrom,
      end: () => {
        if (this.#inFlightAtStart !== atStart) return;
        this.#inFlightAtStart = null;
        this.#writtenFrom = Number.POSITIVE_INFINITY;
      },
    };
  }
}
