/**
 * Whether a cron expression fires at all in its time zone: croner skips a
 * time a daylight-saving change skips, so an expression whose every matching
 * time falls in a gap never fires. Decided with bounded work, from the zone's
 * offsets in one year of each kind.
 */
import { Cron, CronPattern } from "croner";
import type { CronExpression } from "./timing.js";

/** Why a schedule cannot be planned: every time its cron matches falls in a daylight-saving gap of its zone. */
export class NeverFiresError extends Error {
  constructor(timezone: string) {
    super(
      `it never fires in ${JSON.stringify(timezone)}: every time it matches falls in a daylight-saving gap, which skips it`,
    );
    this.name = "NeverFiresError";
  }
}

/**
 * Years {@link firesInZone} draws its probe from, after the current one: any
 * 40 consecutive years hold every kind of year (each weekday of 1 January,
 * common and leap; 2100's missing leap day included).
 */
export const ZONE_PROBE_SPAN_YEARS = 40;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** 1 January of `year`, 00:00 UTC, in epoch ms (`Date.UTC` would read years 0–99 as 1900–1999). */
function startOfUtcYear(year: number): number {
  return new Date(0).setUTCFullYear(year, 0, 1);
}

/**
 * One year of each kind (the weekday of its 1 January, and whether it is a
 * leap year: 14 kinds) among the {@link ZONE_PROBE_SPAN_YEARS} years after
 * `year`, the first of each kind, in order.
 */
export function yearsOfEveryKind(year: number): number[] {
  const seen = new Set<number>();
  const years: number[] = [];
  for (let y = year + 1; y <= year + ZONE_PROBE_SPAN_YEARS; y++) {
    const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    const kind = new Date(startOfUtcYear(y)).getUTCDay() + (leap ? 7 : 0);
    if (!seen.has(kind)) {
      seen.add(kind);
      years.push(y);
    }
  }
  return years;
}

/** Most zones a {@link ZoneOffsetFormats} keeps a format for (it starts over when full). */
const KEPT_ZONES = 64;

/**
 * The "longOffset" formats {@link firesInZone} reads zones' offsets with, one
 * per zone, kept by the queue that checks (making one costs about as much as
 * the rest of a common check).
 */
export class ZoneOffsetFormats {
  readonly #formats = new Map<string, Intl.DateTimeFormat>();

  /** The format of `timezone`, made on first use. */
  of(timezone: string): Intl.DateTimeFormat {
    let format = this.#formats.get(timezone);
    if (format === undefined) {
      format = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "longOffset" });
      if (this.#formats.size >= KEPT_ZONES) this.#formats.clear();
      this.#formats.set(timezone, format);
    }
    return format;
  }
}

/** The zone's offset from UTC at `t`, in ms, read with `format` (a "longOffset" format). */
export function offsetAt(format: Intl.DateTimeFormat, t: number): number {
  const match = /GMT(?:([+-])(\d+):(\d+)(?::(\d+))?)?$/.exec(format.format(t));
  if (match === null) throw new Error(`cannot read the UTC offset in ${format.format(t)}`);
  if (match[1] === undefined) return 0;
  const ms = (Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4] ?? 0)) * 1000;
  return match[1] === "-" ? -ms : ms;
}

/**
 * Whether `expression` (one some date matches) fires at some time after `after`
 * in `timezone`. croner skips a time that a daylight-saving change skips,
 * except that when the seconds, minutes and hours fields each hold one value
 * (a fixed-time job) and the gap ends on the same local day, it runs the time
 * at the end of the gap (Greenland's zones skip Saturday 23:00–24:00: there a
 * fixed time in the gap is skipped too). An expression whose every matching
 * time is skipped (`15,45 2 31 3 +0` in Europe/Berlin, where 31 March is a
 * Sunday only when it is the day clocks skip 02:00–03:00; `30 23 24-30 3 +6`
 * in America/Nuuk) never fires, and croner's open search for its next time
 * walks to the year 3000, every skipped second an `Intl` conversion (up to
 * tens of seconds).
 *
 * Bounded instead: a zone's rules for the years ahead repeat with the calendar
 * (rules stated by weekday and date do; the tz data states nearly every zone's
 * so, Morocco's and Palestine's, tied to Ramadan, being the exceptions,
 * where this is an approximation that may refuse a cron naming an exact date
 * and weekday that some later year would fire), and whether a day matches depends on its local calendar date
 * alone, so one year of each kind ({@link yearsOfEveryKind}, after that of
 * `after`: a fire in that year recurs in a later year of its kind) holds a
 * fire if any year does. The days the date fields match in those 14 years are
 * walked in UTC; a day the zone sets no clock forward on fires, and the walk
 * ends there. On a day it does, the gap is found by bisecting the offset
 * (about 20 reads), and the day fires when a time of day the expression
 * matches lies outside it, or, for a fixed-time job, when the gap ends before
 * the day does. The work is a few `Intl` reads per forward change (one or two
 * a year), never a walk through seconds.
 */
export function firesInZone(
  expression: CronExpression,
  timezone: string,
  after: number,
  formats: ZoneOffsetFormats = new ZoneOffsetFormats(),
): boolean {
  if (timezone === "UTC") return true;
  const given = expression.getPattern()?.match(/\S+/g) ?? [];
  if (given.length !== 5 && given.length !== 6) return true;
  const fields = given.length === 5 ? ["0", ...given] : given;
  const year = Number.isFinite(after) ? new Date(after).getUTCFullYear() : Number.NaN;
  // croner's year field holds 1–9999: outside those, no judgement.
  if (!(year >= 1 && year + ZONE_PROBE_SPAN_YEARS <= 9999)) return true;
  const years = yearsOfEveryKind(year);
  const days = new Cron(`0 0 0 ${fields.slice(3, 6).join(" ")} ${years.join(",")}`, {
    utcOffset: 0,
  });
  const format = formats.of(timezone);
  // Needed only on a day the clocks go forward (made then: most checks end on their first day).
  let times: Cron | undefined;
  let fixedTime: boolean | undefined;
  const from = new Date(startOfUtcYear(year + 1) - 1_000);
  for (let day = days.nextRun(from); day !== null; day = days.nextRun(day)) {
    const start = day.getTime();
    const end = start + DAY_MS;
    // Every instant whose local time is on this day (offsets lie within −12 h … +14 h).
    let before = start - 15 * HOUR_MS;
    let after = end + 13 * HOUR_MS;
    const offsetBefore = offsetAt(format, before);
    const offsetAfter = offsetAt(format, after);
    // No change, or clocks set back (a time that occurs twice fires): every matching time fires.
    if (offsetAfter <= offsetBefore) return true;
    while (after - before > 1_000) {
      const middle = before + Math.floor((after - before) / 2_000) * 1_000;
      if (offsetAt(format, middle) === offsetBefore) before = middle;
      else after = middle;
    }
    // Local times from gapStart (inclusive) to gapEnd do not exist.
    const gapStart = after + offsetBefore;
    const gapEnd = after + offsetAfter;
    const timesOfDay = `${fields.slice(0, 3).join(" ")} * * *`;
    fixedTime ??= new CronPattern(timesOfDay).isFixedTime;
    // croner runs a fixed time in the gap at its end when that is on the same local day.
    if (fixedTime && gapEnd < end) return true;
    times ??= new Cron(timesOfDay, { utcOffset: 0 });
    const first = times.nextRun(new Date(start - 1_000));
    if (first !== null && first.getTime() < Math.min(gapStart, end)) return true;
    const later = times.nextRun(new Date(Math.max(gapEnd, start) - 1_000));
    if (later !== null && later.getTime() < end) return true;
  }
  return false;
}
