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
 * few or none. One slot alone never gets any: without a ready claim its
 * frees are at least one write apart, the write that its settlement took.
 * The rate follows the last frees, so a change from short jobs to long ones
 * shows only as the long ones end: claims taken ready just before then wait
 * for them.
 *
 * Both are measured, on the queue's monotonic clock:
 * - the round-trip, as the shortest of the last {@link ROUND_TRIPS_KEPT}
 *   settlements' times to become durable (a settlement never waits for jobs,
 *   as a claim may; the shortest is the write itself, not a wait behind a
 *   checkpoint or a busy store);
 * - the rate at which slots free, over the last `2 × concurrency` frees (at
 *   most {@link FREES_KEPT}) of handlers that ran. Frees that old are not
 *   what the slots do now once no slot freed for {@link STALE_AFTER} times
 *   the window's span (or the round-trip, if longer): the target is then 0
 *   (after a quiet spell, say, whatever the next jobs are).
 *
 * Until both have been measured the target is 0, and so it is while the
 * round-trip measures 0 (a clock that does not move, such as a `ManualClock`
 * not advanced while a settlement is written; one advanced only while a
 * write is out makes the round-trip that advance).
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

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
    this.#frees = new Float64Array(Math.max(2, Math.min(2 * concurrency, FREES_KEPT)));
  }

  /** A handler ended at `at` (monotonic ms), freeing its slot. */
  slotFreed(at: number): void {
    this.#frees[this.#freesSeen % this.#frees.length] = at;
    this.#freesSeen++;
  }

  /** A settlement became durable `elapsedMs` after it was issued. */
  settled(elapsedMs: number): void {
    if (this.#roundTrips.length < ROUND_TRIPS_KEPT) this.#roundTrips.push(elapsedMs);
    else this.#roundTrips[this.#nextRoundTrip] = elapsedMs;
    this.#nextRoundTrip = (this.#nextRoundTrip + 1) % ROUND_TRIPS_KEPT;
    this.#roundTripMs = Math.min(...this.#roundTrips);
  }

  /** Claims to hold ready beyond the running handlers at `now` (monotonic ms): 0 to `concurrency`. */
  valueAt(now: number): number {
    const roundTrip = this.#roundTripMs;
    const kept = Math.min(this.#freesSeen, this.#frees.length);
    if (!(roundTrip > 0) || kept < 2) return 0;
    const newest = this.#frees[(this.#freesSeen - 1) % this.#frees.length]!;
    const oldest = this.#frees[(this.#freesSeen - kept) % this.#frees.length]!;
    const span = newest - oldest;
    const sinceNewest = now - newest;
    // A clock that went back (or gave no number), or frees too old to tell what the slots do now.
    if (!(span >= 0) || !(sinceNewest >= 0)) return 0;
    if (sinceNewest > STALE_AFTER * Math.max(span, roundTrip)) return 0;
    // Frees in one instant (handlers that ended in the same turn): faster than any round-trip.
    if (span === 0) return this.#concurrency;
    return Math.min(this.#concurrency, Math.floor(((kept - 1) / span) * roundTrip));
  }
}

/** Settlement round-trips kept: a few slow writes (a checkpoint beside them) do not raise the estimate. */
export const ROUND_TRIPS_KEPT = 8;

/**
 * The kept frees are stale once no slot freed for this many times their span
 * (or the round-trip, if longer): far longer than the gaps between bursts of
 * frees of a busy worker, far shorter than a quiet spell.
 */
export const STALE_AFTER = 4;

/** Most slot frees the rate is measured over (`2 × concurrency` below it). */
export const FREES_KEPT = 256;
