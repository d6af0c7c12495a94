/** How a writing command judges the newest writer from the manifest and the heartbeat. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ageText, writerState } from "../../src/cli/writer-check.js";
import type { WriterHeartbeat } from "../../src/queue/heartbeat.js";

const NOW = 1_800_000_000_000;

function manifest(epoch: number, closed: boolean, createdAt = NOW - 60_000) {
  return {
    id: 9,
    key: "app/manifest/9",
    epoch,
    replayAfter: 0,
    checkpoint: null,
    createdAt,
    closed,
  };
}

function beat(epoch: number, ageMs: number, closed = false): WriterHeartbeat {
  return { counter: 7, at: NOW - ageMs, intervalMs: 1_000, epoch, closed };
}

describe("writerState", () => {
  it("a fresh beat of the manifest's writer is live, up to 3 intervals old", () => {
    assert.deepEqual(writerState(manifest(4, false), beat(4, 3_000), NOW), {
      kind: "live",
      epoch: 4,
      beatAgeMs: 3_000,
      intervalMs: 1_000,
    });
    assert.equal(writerState(manifest(4, false), beat(4, 3_001), NOW).kind, "stale");
    // Clocks apart: a beat from the future is as fresh as one written now.
    assert.deepEqual(writerState(manifest(4, false), beat(4, -5_000), NOW), {
      kind: "live",
      epoch: 4,
      beatAgeMs: 0,
      intervalMs: 1_000,
    });
  });

  it("a clean close, in the manifest or the last beat, is closed whatever the beat's age", () => {
    assert.deepEqual(writerState(manifest(4, true), beat(4, 0), NOW), { kind: "closed", epoch: 4 });
    assert.deepEqual(writerState(manifest(4, true), null, NOW), { kind: "closed", epoch: 4 });
    assert.deepEqual(writerState(manifest(4, false), beat(4, 0, true), NOW), {
      kind: "closed",
      epoch: 4,
    });
  });

  it("no beat of the current writer: silent, with the newest manifest's age", () => {
    const silent = { kind: "silent", epoch: 4, manifestAgeMs: 60_000 };
    assert.deepEqual(writerState(manifest(4, false), null, NOW), silent);
    // A fresh beat of an older (fenced) writer says nothing about the writer that followed.
    assert.deepEqual(writerState(manifest(4, false), beat(3, 0), NOW), silent);
    assert.deepEqual(writerState(manifest(4, true), beat(3, 0), NOW), { kind: "closed", epoch: 4 });
  });

  it("a beat of a newer writer than the manifest read (one opened meanwhile) counts", () => {
    assert.equal(writerState(manifest(4, true), beat(5, 100), NOW).kind, "live");
  });

  it("ages read as seconds, minutes or hours", () => {
    assert.deepEqual([0, 3_000, 42_400, 300_000, 5_400_000].map(ageText), [
      "0.0 s",
      "3.0 s",
      "42 s",
      "5 min",
      "1.5 h",
    ]);
  });
});
