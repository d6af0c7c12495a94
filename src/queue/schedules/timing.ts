/**
 * Fire times of a schedule: the next one after a given time, and the latest
 * one up to a given time. Cron expressions are evaluated by `croner` in the
 * schedule's IANA time zone (its documented daylight-saving rules apply);
 * `everyMs` schedules fire at `base + k · everyMs`, where `base` is
 * `startAt`, else the time the schedule was set. Only times in
 * `[startAt, endAt)` are fire times. Pure functions of their arguments.
 */
import { Cron } from "croner";
import { MAX_TIMESTAMP_MS } from "../validate.js";
import { SharedCron } from "./shared-cron.js";
import type { Schedule, ScheduleDefinition } from "./types.js";
import { firesInZone, NeverFiresError, ZoneOffsetFormats } from "./zone-gaps.js";

/** A parsed cron expression of a schedule (parse once, ask many times). */
export type CronExpression = Cron;

/** Why a cron expression is refused or cannot be planned: no date matches its fields together. */
export class NoMatchingDateError extends Error {
  constructor() {
    super("no date matches it");
    this.name = "NoMatchingDateError";
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
 * {@link knownTimeZone}, answered by the zone's format in `formats`: made
 * once per zone (making a zone's format costs about as much as the rest of
 * planning a zoned cron).
 */
export function knownIn(formats: ZoneOffsetFormats, zone: string): boolean {
  try {
    formats.of(zone);
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
 * ({@link firesInZone}, reading offsets with `formats`). Never an open search: every check costs a bounded
 * time whatever the expression. `shared` (with `formats`): a {@link SharedCron},
 * for many schedules to ask.
 */
export function parseCron(
  cron: string,
  timezone: string,
  firesAfter?: number,
  formats?: ZoneOffsetFormats,
  shared = false,
): CronExpression {
  const zone = timezone === "UTC" ? undefined : timezone;
  // UTC by offset: the same times, without a time-zone lookup per step (several times faster).
  const expression =
    shared && formats !== undefined
      ? new SharedCron(cron, zone, formats)
      : new Cron(cron, zone === undefined ? { utcOffset: 0 } : { timezone: zone });
  if (!someDateMatches(expression)) throw new NoMatchingDateError();
  // An unknown zone would surface only when a time is computed: check it now.
  if (
    timezone !== "UTC" &&
    !(formats === undefined ? knownTimeZone(timezone) : knownIn(formats, timezone))
  )
    throw new Error(
      `time zone '${timezone}' is unknown to this runtime (its time-zone data may be older than that of the process that stored the schedule)`,
    );
  if (firesAfter !== undefined && !firesInZone(expression, timezone, firesAfter, formats))
    throw new NeverFiresError(timezone);
  return expression;
}

/**
 * The parsed cron of stored schedule `s` (`undefined` for an `everyMs` one),
 * checked as a queue plans it: besides {@link parseCron}'s errors, throws
 * {@link NeverFiresError} when it never fires after its last fire (every
 * time in a daylight-saving gap: `schedule()` refuses it, a store written by
 * an older version may hold it). Bounded work, where croner's open search for
 * such a cron's next time walks to the year 3000. `formats` as for
 * {@link firesInZone}.
 */
export function storedCron(
  s: Schedule,
  formats?: ZoneOffsetFormats,
  shared = false,
): CronExpression | undefined {
  return s.cron === undefined
    ? undefined
    : parseCron(s.cron, s.timezone, s.firedUpTo, formats, shared);
}

/**
 * Stored schedules' parsed crons for one listing (or a queue's planning at
 * open): {@link storedCron}'s answer depends only on the expression, the zone
 * and the UTC year of the last fire ({@link firesInZone} reads only that
 * year), so schedules sharing those share one parse and its checks. Each is a
 * {@link SharedCron}: croner's searches from a given date read no state of it,
 * and the one it remembers answers as croner does. `formats` as for
 * {@link firesInZone}.
 */
export class StoredCrons {
  readonly formats: ZoneOffsetFormats;
  readonly #parsed = new Map<string, { expression: CronExpression } | { error: unknown }>();

  constructor(formats = new ZoneOffsetFormats()) {
    this.formats = formats;
  }

  /** {@link storedCron} of `s`, the same expression (or error) for the same key. */
  of(s: Schedule): CronExpression | undefined {
    if (s.cron === undefined) return undefined;
    const year = Number.isFinite(s.firedUpTo) ? new Date(s.firedUpTo).getUTCFullYear() : Number.NaN;
    const key = `${s.timezone}\n${year}\n${s.cron}`;
    let parsed = this.#parsed.get(key);
    if (parsed === undefined) {
      try {
        parsed = { expression: storedCron(s, this.formats, true)! };
      } catch (error) {
        parsed = { error };
      }
      this.#parsed.set(key, parsed);
    }
    if ("error" in parsed) throw parsed.error;
    return parsed.expression;
  }
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
