import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Progress } from "../../src/cli/progress.js";
import { capture } from "./capture.js";

/** A fake terminal: `interactive` with a width, recording what was written. */
function terminal(columns = 100) {
  return Object.assign(capture(), { interactive: true, columns });
}

/** A clock the test moves by hand. */
function manual() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("progress", { timeout: 10_000 }, () => {
  it("on a terminal: one line redrawn in place with a bar, at most every redrawMs, ended by finish", () => {
    const io = terminal();
    const clock = manual();
    const progress = new Progress(io, { label: "Requeueing", total: 200, now: clock.now });
    progress.update(0);
    progress.update(50, "batch 1"); // within 100 ms: not drawn
    clock.advance(100);
    progress.update(100, "batch 2");
    clock.advance(100);
    progress.finish(200, "done");
    progress.update(10); // ignored after finish
    const frames = io.stdout.split("\r").slice(1);
    assert.equal(io.stdout[0], "\r");
    assert.deepEqual(frames, [
      `Requeueing  ${"░".repeat(30)}    0%  0/200\u001b[K`,
      `Requeueing  ${"█".repeat(15)}${"░".repeat(15)}   50%  100/200  batch 2\u001b[K`,
      `Requeueing  ${"█".repeat(30)}  100%  200/200  done\u001b[K\n`,
    ]);
  });

  it("a narrow terminal gets a shorter bar, never under 10 cells", () => {
    const io = terminal(60);
    new Progress(io, { label: "Removing", total: 4 }).finish(1);
    assert.match(io.stdout, /^\rRemoving {2}█{3}░{9} {2} 25% {2}1\/4/u);
    const tiny = terminal(20);
    new Progress(tiny, { label: "Removing", total: 10 }).finish(5);
    assert.match(tiny.stdout, /^\rRemoving {2}█{5}░{5} {2} 50%/u);
  });

  it("elsewhere: plain lines at most every lineMs, no bar and no control characters", () => {
    const io = capture();
    const clock = manual();
    const progress = new Progress(io, { label: "Enqueuing", total: 3000, now: clock.now });
    progress.update(1000);
    clock.advance(400);
    progress.update(2000); // within a second: no line
    clock.advance(600);
    progress.update(2500, "almost");
    progress.finish(3000);
    assert.equal(
      io.stdout,
      [
        "Enqueuing   33%  1000/3000",
        "Enqueuing   83%  2500/3000  almost",
        "Enqueuing  100%  3000/3000  almost",
        "",
      ].join("\n"),
    );
    assert.ok(!io.stdout.includes("\r") && !io.stdout.includes("\u001b"));
  });

  it("a finish that changes nothing writes nothing more (but ends a terminal's line)", () => {
    const plain = capture();
    const p = new Progress(plain, { label: "Requeueing", total: 1 });
    p.update(1);
    p.finish();
    assert.equal(plain.stdout, "Requeueing  100%  1/1\n");
    const tty = terminal(60);
    const t = new Progress(tty, { label: "Requeueing", total: 1 });
    t.update(1);
    t.finish(1);
    assert.equal(tty.stdout.split("\r").length, 2, "drawn once");
    assert.ok(tty.stdout.endsWith("\u001b[K\n"));
  });

  it("without a total: the count alone; a total may come later", () => {
    const io = capture();
    const progress = new Progress(io, { label: "Scanning", lineMs: 0 });
    progress.update(7);
    progress.setTotal(10);
    progress.finish(10);
    assert.equal(io.stdout, "Scanning  7\nScanning  100%  10/10\n");
  });
});
