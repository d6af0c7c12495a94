/**
 * A parsed cron shared by many schedules (`StoredCrons`): it remembers its
 * last search, so schedules whose last fires lie between the same two fire
 * times cost one croner search, not one each (a search in a time zone is
 * tens of µs: for 10,000 schedules, most of a listing).
 */
import { Cron } from "croner";
import { offsetAt, type ZoneOffsetFormats } from "./zone-gaps.js";

/**
 * Longest span a remembered search covers. Within it a zone changes its
 * offset at most once (the tz data holds no two changes of one zone two days
 * apart in the years a schedule fires), so equal offsets at both ends mean
 * local time runs steadily through it.
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
   * search, and reaches back to the run before it once a search from an
   * earlier time found the same run (the schedules sharing this cron were
   * set, or last fired, between the same two runs); a cron searched once
   * costs nothing more.
   */
  override nextRun(prev?: Parameters<Cron["nextRun"]>[0]): Date | null {
    if (!(prev instanceof Date)) return super.nextRun(prev);
    const from = prev.getTime();
    if (from >= this.#from && from < this.#next && this.#steadySpan()) return new Date(this.#next);
    const next = super.nextRun(prev);
    if (next === null) return null;
    const at = next.getTime();
    if (at === this.#next && from < this.#from) {
      const before = this.previousRuns(1, next)[0]?.getTime();
      this.#from = before !== undefined && before <= from ? before : from;
      this.#steady = undefined;
    } else if (at !== this.#next || !(from >= this.#from)) {
      this.#from = from;
      this.#next = at;
      this.#steady = undefined;
    }
    return next;
  }

  /** Whether local time runs steadily through the remembered span (looked at once). */
  #steadySpan(): boolean {
    if (this.#steady === undefined) {
      const from = this.#from;
      const to = this.#next;
      if (!(to > from && to - from <= STEADY_SPAN_MS)) this.#steady = false;
      else if (this.#zone === undefined) this.#steady = true;
      else {
        const format = this.#formats.of(this.#zone);
        this.#steady = offsetAt(format, from) === offsetAt(format, to);
      }
    }
    return this.#steady;
  }
}
