/**
 * How many claims `runWorker` holds ready under `prefetch: "auto"`.
 *
 * A handler starts only once its claim is durable, so a slot that frees
 * waits one commit round-trip for its next job unless a claim is already
 * held ready. Ready claims cost something too: each is leased while it waits
 * (a job of higher priority, or of another fair group, that arrives later
 * waits behind it), and if the process dies its attempt is spent. So hold
 * about as many as the worker's slots free during one round-trip: the rate
 * at which slots free times the round-trip, rounded down, at most
 * `concurrency`. Short handlers get up to one ready claim per slot; slow
 * ones (or slots held by handlers that do not end) free slots rarely and get
 * few or none.
 *
 * Both are measured, on the queue's monotonic clock:
 * - the round-trip, as the shortest of the last {@link ROUND_TRIPS_KEPT}
 *   settlements' times to become durable (a settlement never waits for jobs,
 *   as a claim may; the shortest is the write itself, not a wait behind a
 *   checkpoint or a busy store);
 * - the rate at which slots free, over the last `2 × concurrency` frees (at
 *   most {@link FREES_KEPT}) of handlers that ran.
 *
 * Until both have been measured the target is 0, and so it is while the
 * round-trip measures 0 (a clock that does not move, such as a `ManualClock`
 * not advanced while a settlement is written).
 */
export class ReadyTarget {
  readonly #concurrency: number;
  /** When the last slots freed (monotonic ms); a ring of `#frees.length`. */
  readonly #frees: Float64Array;
  #freesSeen = 0;
  /** Round-trips of the last settlements, in milliseconds; a ring. */
  readonly #roundTrips: number[] = [];
  #nextRoundTrip = 0;
  /** The shortest of {@link #roundTrips}; -1 before the first. */
  #roundTripMs = -1;
  #value = 0;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
    this.#frees = new Float64Array(Math.max(2, Math.min(2 * concurrency, FREES_KEPT)));
  }

  /** Claims to hold ready beyond the running handlers (0 to `concurrency`). */
  get value(): number {
    return this.#value;
  }

  /** A handler ended at `at` (monotonic ms), freeing its slot. */
  slotFreed(at: number): void {
    this.#frees[this.#freesSeen % this.#frees.length] = at;
    this.#freesSeen++;
    this.#update();
  }

  /** A settlement became durable `elapsedMs` after it was issued. */
  settled(elapsedMs: number): void {
    if (this.#roundTrips.length < ROUND_TRIPS_KEPT) this.#roundTrips.push(elapsedMs);
    else this.#roundTrips[this.#nextRoundTrip] = elapsedMs;
    this.#nextRoundTrip = (this.#nextRoundTrip + 1) % ROUND_TRIPS_KEPT;
    this.#roundTripMs = Math.min(...this.#roundTrips);
    this.#update();
  }

  #update(): void {
    const roundTrip = this.#roundTripMs;
    const kept = Math.min(this.#freesSeen, this.#frees.length);
    if (!(roundTrip > 0) || kept < 2) {
      this.#value = 0;
      return;
    }
    const newest = this.#frees[(this.#freesSeen - 1) % this.#frees.length]!;
    const oldest = this.#frees[(this.#freesSeen - kept) % this.#frees.length]!;
    const span = newest - oldest;
    // Frees at one instant (handlers that ended in the same turn): faster than any round-trip.
    this.#value =
      span > 0
        ? Math.min(this.#concurrency, Math.floor(((kept - 1) / span) * roundTrip))
        : this.#concurrency;
  }
}

/** Settlement round-trips kept: a few slow writes (a checkpoint beside them) do not raise the estimate. */
export const ROUND_TRIPS_KEPT = 8;

/** Most slot frees the rate is measured over (`2 × concurrency` below it). */
export const FREES_KEPT = 256;
