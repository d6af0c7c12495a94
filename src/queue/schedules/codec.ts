/**
 * The binary form of a schedule, shared by its log record (`ScheduleSet`)
 * and the checkpoint's schedules section.
 *
 *     name | u8 flags | cron (string) or everyMs (varint) | timezone | queue |
 *     payload (bytes) | [options JSON] | [startAt] | [endAt] | u8 catchUp | setAt
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../binary.js";
import { CATCH_UPS, type ScheduleDefinition } from "./types.js";

const CRON = 1;
const START_AT = 2;
const END_AT = 4;
const OPTIONS = 8;

export function writeScheduleDefinition(w: ByteWriter, s: ScheduleDefinition): void {
  w.string(s.name);
  w.u8(
    (s.cron !== undefined ? CRON : 0) |
      (s.startAt !== undefined ? START_AT : 0) |
      (s.endAt !== undefined ? END_AT : 0) |
      (s.options !== undefined ? OPTIONS : 0),
  );
  if (s.cron !== undefined) w.string(s.cron);
  else w.varint(s.everyMs!);
  w.string(s.timezone);
  w.string(s.queue);
  w.bytes(s.payload);
  if (s.options !== undefined) w.string(s.options);
  if (s.startAt !== undefined) w.varint(s.startAt);
  if (s.endAt !== undefined) w.varint(s.endAt);
  w.u8(CATCH_UPS.indexOf(s.catchUp));
  w.varint(s.setAt);
}

/** Reads a definition; the payload is copied (it outlives the bytes read). */
export function readScheduleDefinition(r: ByteReader): ScheduleDefinition {
  const name = r.string();
  const flags = r.u8();
  if ((flags & ~(CRON | START_AT | END_AT | OPTIONS)) !== 0)
    throw new DecodeError(`schedule ${JSON.stringify(name)} has unknown flags ${flags}`);
  const cron = flags & CRON ? r.string() : undefined;
  const everyMs = flags & CRON ? undefined : r.varint();
  const timezone = r.string();
  const queue = r.string();
  const payload = Buffer.from(r.bytes());
  const options = flags & OPTIONS ? r.string() : undefined;
  const startAt = flags & START_AT ? r.varint() : undefined;
  const endAt = flags & END_AT ? r.varint() : undefined;
  const catchUp = CATCH_UPS[r.u8()];
  if (catchUp === undefined)
    throw new DecodeError(`schedule ${JSON.stringify(name)} has an unknown catch-up policy`);
  const setAt = r.varint();
  return {
    name,
    cron,
    everyMs,
    timezone,
    queue,
    payload,
    options,
    startAt,
    endAt,
    catchUp,
    setAt,
  };
}
