import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApplyError, apply } from "../../../src/queue/apply.js";
import { DecodeError } from "../../../src/queue/binary.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import { MAX_SCHEDULE_TOMBSTONES } from "../../../src/queue/schedules/tombstones.js";
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

  it("a removed schedule leaves a tombstone: created again, it starts after the removed one's last fire", () => {
    const state = new State();
    apply(state, { tag: Tag.ScheduleSet, schedule: definition });
    apply(state, fire(definition.setAt + 10, ID));
    apply(state, { tag: Tag.Unschedule, name: "nightly" });
    assert.deepEqual([...state.scheduleTombstones], [["nightly", definition.setAt + 10]]);
    // Created again at an earlier wall time (the clock stepped back): the tombstone holds.
    apply(state, {
      tag: Tag.ScheduleSet,
      schedule: { ...definition, setAt: definition.setAt - 5 },
    });
    assert.equal(state.schedules.get("nightly")!.firedUpTo, definition.setAt + 10);
    assert.equal(state.scheduleTombstones.size, 0);
    assert.throws(() => apply(state, fire(definition.setAt + 10)), ApplyError);
    // Created later than the tombstone: it starts at its own set time.
    apply(state, { tag: Tag.Unschedule, name: "nightly" });
    apply(state, {
      tag: Tag.ScheduleSet,
      schedule: { ...definition, setAt: definition.setAt + 99 },
    });
    assert.equal(state.schedules.get("nightly")!.firedUpTo, definition.setAt + 99);
  });

  it(`tombstones beyond ${MAX_SCHEDULE_TOMBSTONES} drop the oldest removal's; a checkpoint keeps them in order`, () => {
    const state = new State();
    for (let i = 0; i <= MAX_SCHEDULE_TOMBSTONES; i++) {
      const name = `s${i}`;
      apply(state, { tag: Tag.ScheduleSet, schedule: { ...definition, name, setAt: 1_000 + i } });
      apply(state, { tag: Tag.Unschedule, name });
    }
    // The oldest removal (s0) went; s1 created and removed again becomes the newest.
    assert.equal(state.scheduleTombstones.size, MAX_SCHEDULE_TOMBSTONES);
    assert.equal(state.scheduleTombstones.has("s0"), false);
    assert.equal(state.scheduleTombstones.get("s1"), 1_001);
    apply(state, { tag: Tag.ScheduleSet, schedule: { ...definition, name: "s1", setAt: 5 } });
    apply(state, { tag: Tag.Unschedule, name: "s1" });
    assert.equal([...state.scheduleTombstones.keys()].at(-1), "s1");
    assert.equal(state.scheduleTombstones.get("s1"), 1_001);
    const restored = decodeSnapshot(encodeSnapshot(state).slice());
    assert.deepEqual([...restored.scheduleTombstones], [...state.scheduleTombstones]);
    assert.equal(stateDigest(restored), stateDigest(state));
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
