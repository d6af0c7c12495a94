/**
 * A parsed cron shared by many schedules (`StoredCrons`): it remembers its
 * last search, so schedules whose last fires lie between the same two fire
 * times cost one croner search, not one each (a search in a time zone is
 * tens of µs: for 10,000 schedules, most of a listing).
 */
import { Cron } from "croner";
import { offsetAt, type ZoneOffsetFormats } from "./zone-gaps.js";

/**
 * Longest span a remembered search answers for. Within it, equal UTC offsets
 * at both ends are taken to mean local time runs steadily through it, which
 * holds when the zone changes its offset at most once in two days. That check
 * is a precaution: croner treats a repeated hour the same way whether asked
 * from before it or within it, so its searches agree with answers from memory
 * even across a change.
 */
const STEADY_SPAN_MS = 2 * 86_400_000;

export class SharedCron extends Cron {
  readonly #zone: string | undefined;
  readonly #formats: ZoneOffsetFormats;
  /** A search from any time in `[#from, #next)` finds `#next` (NaN: none remembered). */
  #from = Number.NaN;
  #next = Number.NaN;
  /** Whether local time runs steadily through that span (`undefined`: not looked at yet). */
  #steady: boolean | undefined;

  /** `zone`: the IANA zone it is evaluated in (`undefined`: a fixed offset). */
  constructor(pattern: string, zone: string | undefined, formats: ZoneOffsetFormats) {
    super(pattern, zone === undefined ? { utcOffset: 0 } : { timezone: zone });
    this.#zone = zone;
    this.#formats = formats;
  }

  /**
   * croner's next run strictly after `prev`. No run lies between a run and
   * the next one croner finds after it, so a search from any time in between
   * finds that next one as well, provided local time runs steadily through
   * them (croner searches by local time, which a clock set back repeats):
   * answered then without a search. The span is remembered from the last
   * search, and reaches back towards the run before it (at most two days
   * before the run) once a search from an earlier time found the same run
   * (the schedules sharing this cron were set, or last fired, between the
   * same two runs); a cron searched once costs nothing more.
   */
  override nextRun(prev?: Parameters<Cron["nextRun"]>[0]): Date | null {
    if (!(prev instanceof Date)) return super.nextRun(prev);
    const from = prev.getTime();
    if (from >= this.#from && from < this.#next && this.#steadySpan()) return new Date(this.#next);
    const next = super.nextRun(prev);
    if (next === null) return null;
    const at = next.getTime();
    if (at !== this.#next) {
      this.#remember(from, at);
    } else if (from < this.#from) {
      // A search from an earlier time found the same run. A span longer than
      // two days is never answered from memory: keep the shorter one.
      if (at - from <= STEADY_SPAN_MS) this.#remember(this.#reachBack(from, at), at);
    } else {
      // Searched although within the span, which is unsteady: `[from, at)`
      // is as sound (croner found `at` from `from`) and may be steady.
      this.#remember(from, at);
    }
    return next;
  }

  #remember(from: number, next: number): void {
    this.#from = from;
    this.#next = next;
    this.#steady = undefined;
  }

  /**
   * How far back before `from` a search still finds the run `at` that it
   * found from `from`, within the longest span answered from memory: from
   * two days before `at` when croner finds `at` from there (one search
   * forward, not a search back over a sparse cron's months), else from the
   * run before `at`, which is then less than two days back.
   */
  #reachBack(from: number, at: number): number {
    const earliest = at - STEADY_SPAN_MS;
    if (!this.#steadyBetween(earliest, at)) return from;
    if (super.nextRun(new Date(earliest))?.getTime() === at) return earliest;
    const before = this.previousRuns(1, new Date(at))[0]?.getTime();
    return before !== undefined && before <= from ? before : from;
  }

  /** Whether local time runs steadily through the remembered span (looked at once). */
  #steadySpan(): boolean {
    this.#steady ??= this.#steadyBetween(this.#from, this.#next);
    return this.#steady;
  }

  /** Whether `[from, to)` is at most two days long and the zone's offset is equal at both ends. */
  #steadyBetween(from: number, to: number): boolean {
    if (!(to > from && to - from <= STEADY_SPAN_MS)) return false;
    if (this.#zone === undefined) return true;
    const format = this.#formats.of(this.#zone);
    return offsetAt(format, from) === offsetAt(format, to);
  }
}
