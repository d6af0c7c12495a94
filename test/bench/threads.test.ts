/**
 * The benchmark's attribution of the cores (`bench/lib/threads.ts`, used by
 * the turn meter): each thread of a Node process is classed as the main
 * thread, V8's platform, the libuv pool or other, and CPU spent on each kind
 * of work shows up in its class. Each case runs in a fresh child process, so
 * the threads are Node's own and nothing else's.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import {
  type CoreUse,
  coreUse,
  creationOrder,
  gapHolder,
  holder,
  SAMPLE,
} from "../../bench/lib/threads.js";

const run = promisify(execFile);
const linux = process.platform === "linux";
const threadsJs = new URL("../../bench/lib/threads.js", import.meta.url).href;
const turnsJs = new URL("../../bench/lib/turns.js", import.meta.url).href;

/** Runs `body` (ES module code with `sampler`, `take()` and `use(a, b)` in scope) in a child; returns what it prints. */
async function child<T>(body: string, nodeArgs: string[] = []): Promise<T> {
  const code = `
    import { ThreadSampler, coreUse, SAMPLE } from ${JSON.stringify(threadsJs)};
    const sampler = new ThreadSampler();
    const cpuAt = new WeakMap();
    const take = () => { const s = new Float64Array(SAMPLE.length); sampler.sample(s, performance.now()); cpuAt.set(s, process.cpuUsage()); return s; };
    // What the cores did, and the process's CPU by the kernel's own account (getrusage) over the same interval.
    const use = (a, b) => { return { ...coreUse(a, b), processMs: (cpuAt.get(b).user - cpuAt.get(a).user + cpuAt.get(b).system - cpuAt.get(a).system) / 1e3 }; };
    ${body}
  `;
  const { stdout } = await run(process.execPath, [...nodeArgs, "--input-type=module", "-e", code], {
    env: { ...process.env, NODE_OPTIONS: "", UV_THREADPOOL_SIZE: "2" },
  });
  return JSON.parse(stdout) as T;
}

describe("core attribution", { skip: !linux && "reads /proc", timeout: 180_000 }, () => {
  it("classes Node's threads: main, the V8 platform (scheduler + --v8-pool-size workers), then the libuv pool", async () => {
    const kinds = await child<[number, string][]>(
      `
      await new Promise((r) => setTimeout(r, 60)); // new threads are looked for every 50 ms
      take();
      console.log(JSON.stringify([...sampler.kinds()]));
      `,
      ["--v8-pool-size=3"],
    );
    const count = (k: string) => kinds.filter(([, kind]) => kind === k).length;
    assert.equal(count("main"), 1);
    assert.equal(count("v8"), 4, "the delayed task scheduler and three workers");
    const pool = await child<[number, string][]>(
      `
      const { pbkdf2 } = await import("node:crypto");
      await new Promise((r) => pbkdf2("x", "y", 1, 16, "sha256", r)); // starts the libuv pool
      await new Promise((r) => setTimeout(r, 60));
      take();
      console.log(JSON.stringify([...sampler.kinds()]));
      `,
    );
    assert.equal(pool.filter(([, kind]) => kind === "libuv").length, 2, "UV_THREADPOOL_SIZE=2");
    assert.equal(pool.filter(([, kind]) => kind === "v8").length, 5, "by default 4 workers");
  });

  it("puts CPU where it was spent: the libuv pool, a worker thread, V8's concurrent GC", async () => {
    const u = await child<Record<string, CoreUse & { processMs: number }>>(`
      const { pbkdf2 } = await import("node:crypto");
      const { Worker } = await import("node:worker_threads");
      const hash = () => new Promise((r) => pbkdf2("x", "y", 200000, 16, "sha256", r));
      await hash();
      await new Promise((r) => setTimeout(r, 60));
      let a = take();
      await hash();
      const libuv = use(a, take());
      // The worker spins for 100 ms of its own CPU when told to, then parks until terminated (its
      // listener keeps it alive: the CPU of a thread that has exited is not counted).
      const spin = \`
        const { parentPort } = await import("node:worker_threads");
        const { readFileSync } = await import("node:fs");
        const onCpu = () => Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e6;
        parentPort.on("message", () => { const t = onCpu() + 100; while (onCpu() < t); parentPort.postMessage("done"); });
      \`;
      const w = new Worker(spin, { eval: true }); // an ES module, as the child's own code
      await new Promise((r) => w.on("online", r));
      await new Promise((r) => setTimeout(r, 60));
      a = take(); // sees the worker's thread: a thread is counted from the sample that first sees it
      w.postMessage("go");
      await new Promise((r) => w.once("message", r));
      const other = use(a, take());
      await w.terminate();
      await new Promise((r) => setTimeout(r, 60));
      a = take();
      let keep = [];
      for (let i = 0; i < 3e6; i++) { keep.push({ i, s: String(i) }); if (keep.length > 1e6) keep = keep.slice(5e5); }
      const v8 = use(a, take());
      console.log(JSON.stringify({ libuv, other, v8 }));
    `);
    assert.ok(u.libuv!.libuvMs > 20, `libuv pool: ${JSON.stringify(u.libuv)}`);
    assert.ok(u.libuv!.libuvMs > 5 * u.libuv!.v8Ms, `libuv pool: ${JSON.stringify(u.libuv)}`);
    assert.ok(u.other!.otherMs >= 90, `worker thread: ${JSON.stringify(u.other)}`);
    assert.ok(u.other!.otherMs > 2 * u.other!.libuvMs, `worker thread: ${JSON.stringify(u.other)}`);
    assert.ok(u.v8!.v8Ms > 20, `concurrent GC: ${JSON.stringify(u.v8)}`);
    assert.ok(u.v8!.mainRunMs > 20, `the allocating main thread: ${JSON.stringify(u.v8)}`);
    for (const c of Object.values(u)) {
      // Pins the units: our threads' CPU, read from schedstat in ns, is the process's CPU by getrusage.
      const ours = c.mainRunMs + c.v8Ms + c.libuvMs + c.otherMs;
      assert.ok(
        ours <= 1.1 * c.processMs + 10,
        `ours within the process's CPU: ${JSON.stringify(c)}`,
      );
      assert.ok(
        ours >= 0.7 * c.processMs - 10,
        `ours is most of the process's CPU: ${JSON.stringify(c)}`,
      );
      assert.ok(c.stealMs >= 0 && c.idleMs >= 0, "machine counters only grow");
      assert.ok(
        Math.abs(c.lostMs) <
          0.25 * (c.mainRunMs + c.v8Ms + c.libuvMs + c.otherMs + c.restMs + c.idleMs) + 30,
        `all cores' time is accounted: ${JSON.stringify(c)}`,
      );
    }
  });

  it("the turn meter says what the cores did in each gap over its threshold", async () => {
    const s = await child<{
      gaps: number;
      cores: CoreUse;
      ticks: number;
      meterMs: number;
      processMs: number;
    }>(`
      const { TurnMeter } = await import(${JSON.stringify(turnsJs)});
      const meter = new TurnMeter(20);
      await new Promise((r) => setTimeout(r, 20));
      meter.reset();
      const cpu0 = process.cpuUsage();
      // 40 ms on a CPU in one turn, however loaded the machine is, allocating nothing (a GC pause
      // in the turn would be taken off its own time).
      const { openSync, readSync } = await import("node:fs");
      const fd = openSync("/proc/thread-self/schedstat", "r");
      const buf = Buffer.alloc(64);
      const onCpu = () => {
        const n = readSync(fd, buf, 0, 64, 0);
        let ns = 0;
        for (let i = 0; i < n && buf[i] !== 32; i++) ns = ns * 10 + buf[i] - 48;
        return ns / 1e6;
      };
      const t = onCpu() + 40;
      while (onCpu() < t);
      await new Promise((r) => setTimeout(r, 30));
      const s = meter.summary();
      const cpu = process.cpuUsage(cpu0);
      meter.stop();
      sampler.close();
      console.log(JSON.stringify({ gaps: s.gaps, cores: [...s.worst, ...s.waitedGaps].map((g) => g.cores).sort((a, b) => b.mainRunMs - a.mainRunMs)[0], ticks: s.ticks, meterMs: s.meterMs, processMs: (cpu.user + cpu.system) / 1e3 }));
    `);
    assert.ok(s.gaps >= 1, JSON.stringify(s));
    assert.ok(s.cores.mainRunMs >= 30, `the busy main thread: ${JSON.stringify(s.cores)}`);
    assert.ok(s.ticks > 0);
    // The meter's cost is CPU: some µs a tick, within the process's CPU (a gap's wall time is not).
    assert.ok(s.meterMs > 0 && s.meterMs < s.processMs, JSON.stringify(s));
  });
});

describe("core use arithmetic", () => {
  it("differences two samples; the rest of the machine is its busy time less this process's", () => {
    const a = new Float64Array(SAMPLE.length);
    const b = new Float64Array(SAMPLE.length);
    b[SAMPLE.mainRun] = 10;
    b[SAMPLE.mainWait] = 12;
    b[SAMPLE.v8Run] = 25;
    b[SAMPLE.libuvRun] = 1;
    b[SAMPLE.otherRun] = 2;
    b[SAMPLE.machineBusy] = 50;
    b[SAMPLE.machineSteal] = 10;
    b[SAMPLE.machineIdle] = 15;
    b[SAMPLE.coreTime] = 80;
    const u = coreUse(a, b);
    assert.equal(u.mainWaitMs, 12);
    assert.equal(u.restMs, 12);
    assert.equal(u.lostMs, 5, "80 ms of two cores' time, 75 accounted");
    assert.equal(holder(u), "our V8 threads");
    assert.equal(holder({ ...u, stealMs: 30 }), "steal");
    assert.equal(holder({ ...u, v8Ms: 0, restMs: 11 }), "other processes");
    assert.equal(holder({ ...u, lostMs: 40 }), "the host (lost)");
  });

  it("names no holder when no share is above its error", () => {
    const none = coreUse(new Float64Array(SAMPLE.length), new Float64Array(SAMPLE.length));
    assert.equal(holder(none), "unknown");
    const noise = { ...none, mainWaitMs: 15, v8Ms: 0.3, restMs: -10, lostMs: -5 };
    assert.equal(holder(noise), "unknown");
    // /proc/stat counts in 10 ms ticks: 10 ms of "other processes" is within one tick's error.
    assert.equal(holder({ ...none, mainWaitMs: 15, restMs: 10 }), "unknown");
    assert.equal(holder({ ...none, mainWaitMs: 15, restMs: 30 }), "other processes");
    assert.equal(holder({ ...none, mainWaitMs: 15, v8Ms: 6 }), "our V8 threads");
  });

  it("gives no holder to a gap in which the main thread was not waiting for a core", () => {
    const none = coreUse(new Float64Array(SAMPLE.length), new Float64Array(SAMPLE.length));
    // Asleep or blocked (not runnable) for most of a 58 ms gap, while other processes ran.
    assert.equal(
      gapHolder({ ...none, mainRunMs: 0.3, mainWaitMs: 3.9, restMs: 100 }),
      "main not waiting",
    );
    // On the CPU for all of it (a turn of ours just under the threshold).
    assert.equal(gapHolder({ ...none, mainRunMs: 20, v8Ms: 25 }), "main not waiting");
    assert.equal(gapHolder({ ...none, mainRunMs: 5, mainWaitMs: 16, v8Ms: 25 }), "our V8 threads");
  });

  it("ranks threads by creation after the thread ids wrap at pid_max", () => {
    // main 32765, whose first threads got 32766 and 32767, then ids wrapped (low ids are taken).
    assert.deepEqual(
      creationOrder([300, 301, 32765, 32766, 32767], 32765, 32768),
      [32765, 32766, 32767, 300, 301],
    );
    // main near the top: threads after it, then those after the wrap.
    assert.deepEqual(
      creationOrder([5, 32760, 32765, 2, 32761], 32760, 32768),
      [32760, 32761, 32765, 2, 5],
    );
    assert.deepEqual(creationOrder([900, 905, 901], 900, 32768), [900, 901, 905]);
  });
});
