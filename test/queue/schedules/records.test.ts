import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApplyError, apply } from "../../../src/queue/apply.js";
import { DecodeError } from "../../../src/queue/binary.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import type { ScheduleDefinition } from "../../../src/queue/schedules/types.js";
import { decodeSnapshot, encodeSnapshot } from "../../../src/queue/snapshot.js";
import { State } from "../../../src/queue/state.js";
import { stateDigest } from "../../reliability/lib/audit.js";

const ID = "01J0000000000000000000000A";

const definition: ScheduleDefinition = {
  name: "nightly",
  cron: "0 3 * * *",
  everyMs: undefined,
  timezone: "Europe/Paris",
  queue: "reports",
  payload: Buffer.from("{}"),
  options: JSON.stringify({ priority: 5 }),
  startAt: 1_000,
  endAt: 9_000_000_000_000,
  catchUp: "all",
  setAt: 1_700_000_000_000,
};

function fire(fireAt: number, id?: string): QueueRecord {
  return {
    tag: Tag.ScheduleFire,
    name: "nightly",
    fireAt,
    job:
      id === undefined
        ? undefined
        : {
            tag: Tag.Enqueue,
            id,
            queue: "reports",
            payload: Buffer.from("{}"),
            headers: undefined,
            priority: 5,
            maxAttempts: 3,
            enqueuedAt: fireAt,
            runAt: undefined,
            dedupKey: `schedule:nightly:${fireAt}`,
          },
  };
}

describe("schedule records", { timeout: 30_000 }, () => {
  it("encode and decode unchanged", () => {
    const records: QueueRecord[] = [
      { tag: Tag.ScheduleSet, schedule: definition },
      {
        tag: Tag.ScheduleSet,
        schedule: {
          ...definition,
          cron: undefined,
          everyMs: 60_000,
          options: undefined,
          startAt: undefined,
          endAt: undefined,
          catchUp: "none",
        },
      },
      { tag: Tag.Unschedule, name: "nightly" },
      fire(1_700_000_100_000),
      fire(1_700_000_200_000, ID),
      { tag: Tag.Replace, id: ID, payload: Buffer.from("new"), headers: { a: "b" }, runAt: 5 },
      { tag: Tag.Replace, id: ID, payload: Buffer.from(""), headers: undefined, runAt: undefined },
    ];
    for (const record of records) {
      const decoded = JSON.parse(JSON.stringify(decodeRecord(encodeRecord(record))));
      assert.deepEqual(decoded, JSON.parse(JSON.stringify(record)));
    }
    const bad = encodeRecord(fire(5, ID));
    assert.throws(() => decodeRecord(bad.subarray(0, bad.length - 1)), DecodeError);
  });

  it("apply fires a time once: a fire at or before the last one is refused and changes nothing", () => {
    const state = new State();
    apply(state, { tag: Tag.ScheduleSet, schedule: definition });
    apply(state, fire(definition.setAt + 10, ID));
    assert.equal(state.schedules.get("nightly")!.firedUpTo, definition.setAt + 10);
    const digest = stateDigest(state);
    assert.throws(() => apply(state, fire(definition.setAt + 10)), ApplyError);
    assert.throws(
      () => apply(state, fire(definition.setAt + 5, "01J0000000000000000000000B")),
      ApplyError,
    );
    assert.equal(stateDigest(state), digest);
    // Replacing keeps what was fired, even when set at an earlier wall time.
    apply(state, {
      tag: Tag.ScheduleSet,
      schedule: { ...definition, setAt: definition.setAt - 1_000 },
    });
    assert.equal(state.schedules.get("nightly")!.firedUpTo, definition.setAt + 10);
    assert.throws(() => apply(state, { tag: Tag.Unschedule, name: "other" }), ApplyError);
    assert.throws(
      () => apply(state, { ...fire(definition.setAt + 20), name: "other" } as QueueRecord),
      ApplyError,
    );
  });

  it("a checkpoint keeps the schedules; an unknown section is refused", () => {
    const state = new State();
    apply(state, { tag: Tag.ScheduleSet, schedule: definition });
    apply(state, {
      tag: Tag.ScheduleSet,
      schedule: { ...definition, name: "b", cron: undefined, everyMs: 1_000 },
    });
    apply(state, fire(definition.setAt + 10, ID));
    const bytes = encodeSnapshot(state);
    const restored = decodeSnapshot(bytes.slice());
    assert.equal(stateDigest(restored), stateDigest(state));
    assert.equal(restored.schedules.size, 2);
    // A section kind this release does not know (a newer release's state) is not dropped silently.
    const extended = Buffer.concat([Buffer.from(bytes), Buffer.from([99, 1, 0])]);
    assert.throws(() => decodeSnapshot(extended), /unknown section 99/);
    // A snapshot without sections (as earlier releases wrote it) has no schedules.
    const empty = new State();
    apply(empty, { tag: Tag.PauseQueue, queue: "x", paused: true });
    assert.equal(decodeSnapshot(encodeSnapshot(empty)).schedules.size, 0);
  });
});
