/**
 * Time flags of the CLI: `--run-at`, an ISO 8601 date-time or a time
 * relative to now such as `+30s`, `+5m`, `+2h`, `+1d`; and durations such as
 * `--older-than 7d` (`30s`, `5m`, `2h`, `7d`). Anything else is a
 * usage error naming the flag; a calendar date that does not exist
 * (`2026-02-30`) is rejected rather than rolled over, and so is a time past
 * the end of the `Date` range or a duration past `Number.MAX_SAFE_INTEGER`
 * milliseconds, before any command opens the store.
 */
import { MAX_TIMESTAMP_MS } from "../queue/validate.js";
import { badFlag } from "./args.js";

const EXPECTED = "an ISO 8601 time (2026-12-24T18:00:00Z) or a relative time (+30s, +5m, +2h, +1d)";

const RELATIVE = /^\+(\d{1,15})(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Date, optional time (minutes, seconds, fraction), optional zone. */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function isoTime(value: string): number | null {
  const match = ISO.exec(value);
  if (match === null) return null;
  const [, y, mo, d, h, mi, s] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59)) return null;
  const text = value.replace(" ", "T");
  // `Date.parse` reads a UTC offset as ±hh:mm or ±hhmm, not as ±hh: give it that one as ±hh:00.
  const ms = Date.parse(h === undefined ? text : text.replace(/([+-]\d{2})$/, "$1:00"));
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Milliseconds since the UNIX epoch for the text of flag `--name`, relative
 * times counted from `now`. Throws a `UsageError` naming the flag otherwise.
 */
export function timeFlag(value: string, name: string, now: number): number {
  const relative = RELATIVE.exec(value);
  if (relative !== null) {
    const at = now + Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS];
    if (at > MAX_TIMESTAMP_MS)
      throw badFlag(name, `${EXPECTED} before the end of the Date range (year 275760)`, value);
    return at;
  }
  const absolute = isoTime(value);
  if (absolute === null) throw badFlag(name, EXPECTED, value);
  return absolute;
}

const DURATION = /^(\d{1,15})(s|m|h|d)$/;
const DURATION_EXPECTED = "a duration such as 30s, 5m, 2h or 7d";
/** The longest duration flag in whole days: every duration is at most `Number.MAX_SAFE_INTEGER` ms. */
const MAX_DURATION_DAYS = Math.floor(Number.MAX_SAFE_INTEGER / UNIT_MS.d);

/** Milliseconds for a duration flag such as `30s`, `5m`, `2h` or `7d`; a `UsageError` naming the flag otherwise. */
export function durationFlag(value: string, name: string): number {
  const match = DURATION.exec(value);
  if (match === null) throw badFlag(name, DURATION_EXPECTED, value);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms > Number.MAX_SAFE_INTEGER)
    throw badFlag(name, `${DURATION_EXPECTED}, of at most ${MAX_DURATION_DAYS}d`, value);
  return ms;
}
