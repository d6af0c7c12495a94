import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CREATE_TIMES_WINDOW, CreateTimes } from "../../src/log/create-times.js";

describe("the WAL create times the checkpoint policy reads", () => {
  it("is null before the first create, then the median of the latest creates", () => {
    const times = new CreateTimes();
    assert.equal(times.median, null);
    times.record(5);
    assert.equal(times.median, 5);
    times.record(1);
    assert.equal(times.median, 3);
    times.record(2);
    assert.equal(times.median, 2);
  });

  it("forgets creates older than the window", () => {
    const times = new CreateTimes();
    for (let i = 0; i < CREATE_TIMES_WINDOW; i++) times.record(40);
    for (let i = 0; i < CREATE_TIMES_WINDOW / 2; i++) times.record(1);
    assert.equal(times.median, (1 + 40) / 2);
    times.record(1);
    assert.equal(times.median, 1);
    for (let i = 0; i < CREATE_TIMES_WINDOW; i++) times.record(7);
    assert.equal(times.median, 7);
  });

  it("is not moved by a minority of slow creates, however slow", () => {
    const times = new CreateTimes();
    for (let i = 0; i < 3 * CREATE_TIMES_WINDOW; i++) times.record(i % 3 === 0 ? 1_000 : 1);
    assert.equal(times.median, 1);
  });

  it("sorts a time that is not a number as the slowest: enough of them make the median NaN", () => {
    const times = new CreateTimes();
    for (let i = 0; i < CREATE_TIMES_WINDOW; i++) times.record(i % 4 === 0 ? Number.NaN : 1);
    assert.equal(times.median, 1);
    for (let i = 0; i < CREATE_TIMES_WINDOW; i++) times.record(Number.NaN);
    assert.ok(Number.isNaN(times.median));
  });
});
