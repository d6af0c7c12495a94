/**
 * The benchmark series (`bench/series.ts`): its statistics, its modes, and a
 * tiny series run end to end through the same entry point as `npm run bench:series`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseSeriesModes } from "../../bench/lib/series-modes.js";
import { changesAgainst, median, medianWithInterval } from "../../bench/lib/series-stats.js";

describe("benchmark series", { timeout: 120_000 }, () => {
  it("medians, seeded bootstrap intervals, and changes against the baseline of the same round", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), /at least one value/);
    const values = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10];
    const a = medianWithInterval(values);
    assert.deepEqual(medianWithInterval(values), a, "seeded: the same rounds, the same interval");
    assert.equal(a.median, 5.5);
    assert.ok(a.low <= a.median && a.median <= a.high && a.low >= 1 && a.high <= 10, String(a));
    assert.ok(a.high - a.low < 9, "narrower than the range");
    const same = medianWithInterval([4, 4, 4, 4]);
    assert.deepEqual(same, { median: 4, low: 4, high: 4 });

    const rounds = [
      new Map([
        ["off", 100],
        ["metrics", 95],
      ]),
      new Map([
        ["off", 200],
        ["metrics", 210],
      ]),
      new Map([["off", 150]]), // a round without the mode counts for nothing
    ];
    const rounded = (changes: number[]) => changes.map((c) => Math.round(c * 10) / 10);
    assert.deepEqual(rounded(changesAgainst(rounds, "metrics", "off", "rate")), [5, -5]);
    assert.deepEqual(rounded(changesAgainst(rounds, "metrics", "off", "cost")), [-5, 5]);
  });

  it("modes become run-one options; a bad one is refused, naming it", () => {
    assert.deepEqual(parseSeriesModes("off,metrics,traces:0.01:parent"), [
      { label: "off", args: ["--telemetry=off"] },
      { label: "metrics", args: ["--telemetry=metrics"] },
      {
        label: "traces:0.01:parent",
        args: ["--telemetry=traces", "--trace-sample=0.01", "--require-parent"],
      },
    ]);
    for (const bad of [
      "trace",
      "traces:2",
      "traces:0.1:child",
      "metrics:1:parent:x",
      "off@",
      "off@a@b",
    ])
      assert.throws(() => parseSeriesModes(bad), new RegExp(`got "${bad}"`));
    // An A/A series: the same set-up twice, under labels of their own.
    assert.deepEqual(parseSeriesModes("off,off@2"), [
      { label: "off", args: ["--telemetry=off"] },
      { label: "off@2", args: ["--telemetry=off"] },
    ]);
    assert.throws(
      () => parseSeriesModes("off,metrics,off"),
      /name each mode once.*got "off" twice/,
    );
  });

  it("a tiny series on the memory store prints every mode against the baseline and keeps the raw results", async () => {
    const dir = mkdtempSync(join(tmpdir(), "taquba-series-test-"));
    try {
      const out = join(dir, "series.jsonl");
      const script = fileURLToPath(new URL("../../bench/series.js", import.meta.url));
      const { stdout } = await promisify(execFile)(process.execPath, [
        script,
        "--rounds=2",
        "--modes=off,metrics",
        `--out=${out}`,
        "--",
        "--store=memory",
        "--jobs=300",
        "--warmup=100",
        "--producers=4",
        "--concurrency=4",
      ]);
      assert.match(stdout, /^round 1\/2: (off|metrics) \d+\/s, (off|metrics) \d+\/s$/m);
      assert.match(stdout, /^\(2 rounds: the intervals below mean little/m);
      assert.match(stdout, /^off: end to end \d+ jobs\/s \(median\)/m);
      assert.match(
        stdout,
        /^ {2}end to end\s+-?\d+\.\d % slower than off \[-?\d+\.\d, -?\d+\.\d\] \(2 rounds\)$/m,
      );
      assert.match(stdout, /^ {2}CPU per processed job\s+-?\d+\.\d % more than off/m);
      const lines = readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(lines.length, 4);
      assert.deepEqual(
        lines.map((l: { round: number; mode: string }) => `${l.round}:${l.mode}`).sort(),
        ["0:metrics", "0:off", "1:metrics", "1:off"],
      );
      assert.equal(lines[0].result.workload, "end_to_end");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
