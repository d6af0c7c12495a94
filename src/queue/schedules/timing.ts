/**
 * Fire times of a schedule: the next one after a given time, and the latest
 * one up to a given time. Cron expressions are evaluated by `croner` in the
 * schedule's IANA time zone (its documented daylight-saving rules apply);
 * `everyMs` schedules fire at `base + k · everyMs`, where `base` is
 * `startAt`, else the time the schedule was set. Only times in
 * `[startAt, endAt)` are fire times. Pure functions of their arguments.
 */
import { Cron, CronPattern } from "croner";
import { MAX_TIMESTAMP_MS } from "../validate.js";
import type { ScheduleDefinition } from "./types.js";

/** A parsed cron expression of a schedule (parse once, ask many times). */
export type CronExpression = Cron;

/** Why a cron expression is refused or cannot be planned: no date matches its fields together. */
export class NoMatchingDateError extends Error {
  constructor() {
    super("no date matches it");
    this.name = "NoMatchingDateError";
  }
}

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
 * Seven common years, whose 1 January falls on each weekday (2001 a Monday, …):
 * every month but a leap February follows the calendar of the same month in
 * one of them (a leap year's March to December is a common year's, the one
 * whose 1 January is a weekday later).
 */
export const COMMON_PROBE_YEARS = "2001,2002,2003,2005,2006,2009,2010";

/** Seven leap years, whose 1 January falls on each weekday: every leap February. */
export const LEAP_PROBE_YEARS = "2004,2008,2012,2016,2020,2024,2028";

/** Just before the first probe year (epoch ms: a `Date` shared between calls could be changed). */
const PROBE_FROM_MS = Date.UTC(2001, 0, 1) - 1_000;

/** Whether croner finds a time matching `fields` (6, seconds first) in `years`, in UTC. */
function matchesIn(fields: readonly string[], years: string): boolean {
  return (
    new Cron([...fields, years].join(" "), { utcOffset: 0 }).nextRun(new Date(PROBE_FROM_MS)) !==
    null
  );
}

/**
 * Whether some date matches the fields of `expression` (as parsed, nicknames
 * expanded). Whether a day matches depends only on its month's calendar (its
 * length and the weekday it starts on); every time of a matching day is in
 * UTC, and a local time of any zone is a time of the same calendars. So the
 * fields match some date if and only if they match one in the
 * {@link COMMON_PROBE_YEARS}, or in February of the {@link LEAP_PROBE_YEARS}:
 * croner's search, limited to those (at most 7 years and 7 months of days, a
 * few ms), where an open search for an expression nothing matches walks every
 * day up to the year 3000 and holds the event loop for tens of ms or more.
 * An expression with its own year field (never accepted by `schedule()`) is
 * not probed.
 */
export function someDateMatches(expression: CronExpression): boolean {
  const given = expression.getPattern()?.match(/\S+/g) ?? [];
  if (given.length !== 5 && given.length !== 6) return true;
  const fields = given.length === 5 ? ["0", ...given] : given;
  if (matchesIn(fields, COMMON_PROBE_YEARS)) return true;
  const february = new Cron(`0 0 0 1 ${fields[4]} *`, { utcOffset: 0 }).match(
    new Date(Date.UTC(2001, 1, 1)),
  );
  return february && matchesIn([...fields.slice(0, 4), "2", fields[5]!], LEAP_PROBE_YEARS);
}

/**
 * Years {@link firesInZone} draws its probe from, after the current one: any
 * 40 consecutive years hold every kind of year (each weekday of 1 January,
 * common and leap; 2100's missing leap day included).
 */
export const ZONE_PROBE_SPAN_YEARS = 40;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

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
    const kind = new Date(Date.UTC(y, 0, 1)).getUTCDay() + (leap ? 7 : 0);
    if (!seen.has(kind)) {
      seen.add(kind);
      years.push(y);
    }
  }
  return years;
}

/** The zone's offset from UTC at `t`, in ms, read with `format` (a "longOffset" format). */
function offsetAt(format: Intl.DateTimeFormat, t: number): number {
  const match = /GMT(?:([+-])(\d+):(\d+)(?::(\d+))?)?$/.exec(format.format(t));
  if (match === null) throw new Error(`cannot read the UTC offset in ${format.format(t)}`);
  if (match[1] === undefined) return 0;
  const ms = (Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4] ?? 0)) * 1000;
  return match[1] === "-" ? -ms : ms;
}

/**
 * Whether `expression` (one some date matches) fires at some time after `after`
 * in `timezone`. croner runs a time that a daylight-saving change skips at the
 * end of the gap when the seconds, minutes and hours fields each hold one
 * value (a fixed-time job), and skips it otherwise: such an expression whose
 * every matching time falls in a gap (`15,45 2 31 3 +0` in Europe/Berlin,
 * where 31 March is a Sunday only when it is the day clocks skip 02:00–03:00)
 * never fires, and croner's open search for its next time walks to the year
 * 3000, every skipped second an `Intl` conversion (up to tens of seconds).
 *
 * Bounded instead: a zone's rules for the years ahead repeat with the
 * calendar (rules stated by weekday and date do; the tz data states nearly
 * every zone's so, Morocco's, tied to Ramadan, being the exception, where
 * this is an approximation), and whether a day matches depends on its local
 * calendar date alone, so one year of each kind ({@link yearsOfEveryKind},
 * after that of `after`: a fire in that year recurs in a later year of its
 * kind) holds a fire if any year does. The days the date fields match in those 14 years are walked in UTC; a day the
 * zone sets no clock forward on fires, and the walk ends there. On a day it
 * does, the gap is found by bisecting the offset (about 20 reads), and the
 * day fires when a time of day the expression matches lies outside it. The
 * work is a few `Intl` reads per forward change (one or two a year), never a
 * walk through seconds.
 */
export function firesInZone(expression: CronExpression, timezone: string, after: number): boolean {
  if (timezone === "UTC") return true;
  const given = expression.getPattern()?.match(/\S+/g) ?? [];
  if (given.length !== 5 && given.length !== 6) return true;
  const fields = given.length === 5 ? ["0", ...given] : given;
  // croner moves a fixed-time job's skipped time to the end of the gap: it fires.
  if (new CronPattern(fields.join(" ")).isFixedTime) return true;
  const year = Number.isFinite(after) ? new Date(after).getUTCFullYear() : Number.NaN;
  // croner's year field holds 1–9999: outside those, no judgement.
  if (!(year >= 1 && year + ZONE_PROBE_SPAN_YEARS <= 9999)) return true;
  const years = yearsOfEveryKind(year);
  const days = new Cron(`0 0 0 ${fields.slice(3, 6).join(" ")} ${years.join(",")}`, {
    utcOffset: 0,
  });
  const times = new Cron(`${fields.slice(0, 3).join(" ")} * * *`, { utcOffset: 0 });
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    timeZoneName: "longOffset",
  });
  const from = new Date(Date.UTC(year + 1, 0, 1) - 1_000);
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
    const first = times.nextRun(new Date(start - 1_000));
    if (first !== null && first.getTime() < Math.min(gapStart, end)) return true;
    const later = times.nextRun(new Date(Math.max(gapEnd, start) - 1_000));
    if (later !== null && later.getTime() < end) return true;
  }
  return false;
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses `cron` for `timezone`. Throws croner's error for a bad expression,
 * {@link NoMatchingDateError} when no date matches it, an error naming the
 * zone when this runtime does not know it, and with `firesAfter`
 * {@link NeverFiresError} when it never fires after that time
 * ({@link firesInZone}). Never an open search: every check costs a bounded
 * time whatever the expression.
 */
export function parseCron(cron: string, timezone: string, firesAfter?: number): CronExpression {
  // UTC by offset: the same times, without a time-zone lookup per step (several times faster).
  const expression = new Cron(cron, timezone === "UTC" ? { utcOffset: 0 } : { timezone });
  if (!someDateMatches(expression)) throw new NoMatchingDateError();
  // An unknown zone would surface only when a time is computed: check it now.
  if (timezone !== "UTC" && !knownTimeZone(timezone))
    throw new Error(
      `time zone '${timezone}' is unknown to this runtime (its time-zone data may be older than that of the process that stored the schedule)`,
    );
  if (firesAfter !== undefined && !firesInZone(expression, timezone, firesAfter))
    throw new NeverFiresError(timezone);
  return expression;
}

/** Cron of `s`, made when not given (callers that ask often keep one). */
function cronOf(s: ScheduleDefinition, cron: CronExpression | undefined): CronExpression {
  return cron ?? parseCron(s.cron!, s.timezone);
}

/** The first fire time of `s` strictly after `after`, or `null` when there is none. */
export function nextFireAfter(
  s: ScheduleDefinition,
  after: number,
  cron?: CronExpression,
): number | null {
  let t: number;
  if (s.everyMs !== undefined) {
    const base = s.startAt ?? s.setAt;
    const k = after < base ? 0 : Math.floor((after - base) / s.everyMs) + 1;
    t = base + k * s.everyMs;
  } else {
    const from = s.startAt !== undefined && s.startAt - 1 > after ? s.startAt - 1 : after;
    const next = cronOf(s, cron).nextRun(new Date(from));
    if (next === null) return null;
    t = next.getTime();
  }
  if ((s.endAt !== undefined && t >= s.endAt) || t > MAX_TIMESTAMP_MS) return null;
  return t;
}

/**
 * The latest fire time `t` of `s` with `after < t ≤ upTo`, or `null` when
 * there is none.
 */
export function lastFireUpTo(
  s: ScheduleDefinition,
  after: number,
  upTo: number,
  cron?: CronExpression,
): number | null {
  const first = nextFireAfter(s, after, cron);
  if (first === null || first > upTo) return null;
  const limit = s.endAt === undefined ? upTo : Math.min(upTo, s.endAt - 1);
  if (s.everyMs !== undefined) {
    const base = s.startAt ?? s.setAt;
    return Math.max(first, base + Math.floor((limit - base) / s.everyMs) * s.everyMs);
  }
  const previous = cronOf(s, cron).previousRuns(1, new Date(limit + 1))[0];
  return previous === undefined ? first : Math.max(first, previous.getTime());
}
