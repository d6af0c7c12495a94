/**
 * Checking `Queue.schedule`'s arguments into a schedule definition. Every
 * error is an `InvalidArgumentError` naming the field (`spec.cron`,
 * `spec.timezone`, `spec.endAt`, …), thrown before anything is written.
 */

import { messageOf } from "../../util/message.js";
import {
  checkOneOf,
  checkOptionsObject,
  checkPositiveDuration,
  checkString,
  invalidArgument,
  invalidArgumentGot,
} from "../../validate.js";
import type { QueueSettings } from "../config.js";
import { JOB_HINTS } from "../option-warnings.js";
import { ENQUEUE_OPTION_KEYS, type EnqueueOptions } from "../options.js";
import { checkDedupKey, checkPayload, checkQueueName, checkTimestamp } from "../validate.js";
import { checkEnqueueOptions } from "../validate-options.js";
import {
  type CronExpression,
  knownIn,
  knownTimeZone,
  NoMatchingDateError,
  parseCron,
} from "./timing.js";
import {
  CATCH_UPS,
  SCHEDULE_SPEC_KEYS,
  type ScheduleDefinition,
  type ScheduleSpec,
} from "./types.js";
import { firesInZone, type ZoneOffsetFormats } from "./zone-gaps.js";

/** Longest schedule name, in UTF-8 bytes. */
export const MAX_SCHEDULE_NAME_BYTES = 255;

/** A schedule name: 1–255 UTF-8 bytes of well-formed Unicode. */
export function checkScheduleName(value: unknown, arg = "name"): string {
  const name = checkString(value, arg);
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes < 1 || bytes > MAX_SCHEDULE_NAME_BYTES)
    throw invalidArgumentGot(
      arg,
      `a schedule name of 1–${MAX_SCHEDULE_NAME_BYTES} UTF-8 bytes`,
      `${bytes} bytes`,
    );
  // Well-formed as a dedup key is: every fire's default key holds the name.
  return checkDedupKey(name, arg);
}

/** What `spec.cron` must be, in messages. */
const CRON_EXPECTED = "a cron expression of 5 fields (6 with seconds first)";

/**
 * A cron expression has 5 fields, or 6 with seconds first, or is one of
 * croner's nicknames (`@daily`, ...). croner itself also reads a seventh field
 * (years), which the schedule's documented syntax does not have: such an
 * expression is refused here, naming the count, rather than read with a
 * meaning the caller may not intend. (Only new specs are checked: a stored
 * schedule is read as it was stored.)
 */
function checkCronFieldCount(cron: string): void {
  const fields = cron.match(/\S+/g)?.length ?? 0;
  const nickname = fields === 1 && cron.trim().startsWith("@");
  if (!nickname && fields !== 5 && fields !== 6)
    throw invalidArgumentGot(
      "spec.cron",
      CRON_EXPECTED,
      `${JSON.stringify(cron)} (${fields} field${fields === 1 ? "" : "s"})`,
    );
}

/** The job options a schedule keeps, as JSON (the fields of `EnqueueOptions` it may use). */
function storedOptions(options: EnqueueOptions, arg: string): string | undefined {
  if (options.runAt !== undefined)
    throw invalidArgument(
      `${arg}.runAt`,
      "absent (each fire sets its job's time; use delayMs to run it later)",
      options.runAt,
    );
  if (options.jobId !== undefined)
    throw invalidArgument(`${arg}.jobId`, "absent (every fire enqueues a new job)", options.jobId);
  if (options.dedupReplace === true)
    throw invalidArgument(
      `${arg}.dedupReplace`,
      "absent or false (a fire whose dedup key is held enqueues nothing and replaces nothing)",
      options.dedupReplace,
    );
  const kept: Record<string, unknown> = {};
  for (const key of [
    "priority",
    "maxAttempts",
    "dedupKey",
    "headers",
    "delayMs",
    "timeoutMs",
    "groupKey",
  ] as const)
    if (options[key] !== undefined) kept[key] = options[key];
  return Object.keys(kept).length === 0 ? undefined : JSON.stringify(kept);
}

/** The job options of a stored schedule. */
export function scheduleOptions(json: string | undefined): EnqueueOptions {
  return json === undefined ? {} : (JSON.parse(json) as EnqueueOptions);
}

/**
 * Checks `Queue.schedule(name, spec)` and returns the definition to write,
 * set at `now`. Throws `InvalidArgumentError` naming the first bad field.
 * `formats` are the queue's zone offset formats, for the gap check.
 */
export function checkScheduleSpec(
  nameArg: unknown,
  specArg: unknown,
  settings: QueueSettings,
  now: number,
  formats?: ZoneOffsetFormats,
): ScheduleDefinition {
  const name = checkScheduleName(nameArg);
  if (typeof specArg !== "object" || specArg === null || Array.isArray(specArg))
    throw invalidArgument("spec", "a schedule spec object", specArg);
  const spec = specArg as ScheduleSpec;
  if (spec.cron !== undefined && spec.everyMs !== undefined)
    throw invalidArgument(
      "spec.everyMs",
      "absent when `spec.cron` is given (exactly one)",
      spec.everyMs,
    );
  if (spec.cron === undefined && spec.everyMs === undefined)
    throw invalidArgumentGot(
      "spec.cron",
      "a cron expression, or `spec.everyMs` given (exactly one)",
      "neither",
    );
  const timezone =
    spec.timezone === undefined ? "UTC" : checkString(spec.timezone, "spec.timezone");
  // The queue's kept format of the zone when it has one (making a format is most of this check).
  if (!(formats === undefined ? knownTimeZone(timezone) : knownIn(formats, timezone)))
    throw invalidArgument(
      "spec.timezone",
      'an IANA time zone name such as "Europe/Paris"',
      timezone,
    );
  let cron: string | undefined;
  let everyMs: number | undefined;
  if (spec.cron !== undefined) {
    cron = checkString(spec.cron, "spec.cron");
    checkCronFieldCount(cron);
    let expression: CronExpression;
    try {
      expression = parseCron(cron, timezone, undefined, formats);
    } catch (error) {
      // Fields that no date satisfies together (`0 0 30 2 *`): a schedule that would never fire.
      if (error instanceof NoMatchingDateError)
        throw invalidArgumentGot(
          "spec.cron",
          `${CRON_EXPECTED} that some date matches`,
          `${JSON.stringify(cron)} (${error.message})`,
        );
      throw invalidArgumentGot(
        "spec.cron",
        CRON_EXPECTED,
        `${JSON.stringify(cron)} (${messageOf(error)})`,
      );
    }
    // Times that match but that the zone's clocks always skip: a schedule that would never fire.
    if (!firesInZone(expression, timezone, now, formats))
      throw invalidArgumentGot(
        "spec.cron",
        `${CRON_EXPECTED} that fires at some time in \`spec.timezone\``,
        `${JSON.stringify(cron)} (in ${JSON.stringify(timezone)} every time it matches from now on falls in a daylight-saving gap, which skips it)`,
      );
  } else everyMs = checkPositiveDuration(spec.everyMs, "spec.everyMs");
  const queue = checkQueueName(spec.queue, "spec.queue");
  const payload = checkPayload(spec.payload, settings.maxPayloadBytes, "spec.payload");
  // The payload is kept in the definition and copied into every fire's job
  // record: it must be small enough to stay inline (never offloaded).
  const inlineMax = settings.payloadOffloadBytes;
  if (inlineMax !== null && payload.byteLength > inlineMax)
    throw invalidArgumentGot(
      "spec.payload",
      `at most ${inlineMax} bytes (payloadOffloadBytes: a schedule's payload is kept inline, in the schedule and in each fire's job)`,
      `${payload.byteLength} bytes`,
    );
  checkOptionsObject(spec.options, "spec.options");
  const options = spec.options ?? {};
  checkEnqueueOptions(options, settings.configs.get(queue), "spec.options");
  const stored = storedOptions(options, "spec.options");
  const startAt =
    spec.startAt === undefined ? undefined : checkTimestamp(spec.startAt, "spec.startAt");
  const endAt = spec.endAt === undefined ? undefined : checkTimestamp(spec.endAt, "spec.endAt");
  if (endAt !== undefined && startAt !== undefined && endAt <= startAt)
    throw invalidArgumentGot("spec.endAt", `after \`spec.startAt\` (${startAt})`, String(endAt));
  const catchUp =
    spec.catchUp === undefined ? "latest" : checkOneOf(spec.catchUp, "spec.catchUp", CATCH_UPS);
  settings.optionWarnings.check(spec, "schedule specs", SCHEDULE_SPEC_KEYS, JOB_HINTS);
  settings.optionWarnings.check(spec.options, "spec.options", ENQUEUE_OPTION_KEYS, JOB_HINTS);
  return {
    name,
    cron,
    everyMs,
    timezone,
    queue,
    payload,
    options: stored,
    startAt,
    endAt,
    catchUp,
    setAt: now,
  };
}
