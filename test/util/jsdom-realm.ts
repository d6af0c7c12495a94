/**
 * Runs a queue flow on the built package (`build/src`) loaded into a `vm`
 * context shaped like Jest's `jsdom` test environment, as a user's test file
 * runs there: no `TextEncoder`, `TextDecoder` or `setImmediate` globals,
 * `setTimeout`/`setInterval` that return numbers (ref'd, cleared when the
 * environment closes, as jsdom's are), jsdom's `AbortSignal` without `any`,
 * and Node's `Buffer` and core modules from the outer realm. The payloads and
 * results come from yet other realms. Prints one JSON line: what the flow
 * saw, or the error that stopped it. Needs `--experimental-vm-modules`;
 * argv[2] is an empty directory for the FileStore.
 */

import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const INDEX = new URL("../../src/index.js", import.meta.url).href;

/** The flow, as a module of the context: the user's test file. */
const FLOW = `
import { FileStore, MemoryStore, Queue, runWorker, silentLogger } from "taquba";

const { dir, foreign, report } = realmTest;

async function flow(makeStore) {
  let queue = await Queue.open(makeStore(), "app", { logger: silentLogger });
  // Events are delivered after the turn that recorded them: the flow waits for all five.
  let enqueued = 0;
  let sawAll;
  const allEnqueued = new Promise((resolve) => (sawAll = resolve));
  queue.on("enqueued", () => {
    if (++enqueued === 5) sawAll();
  });
  const ids = [];
  for (const payload of [foreign.bytes, foreign.buffer, foreign.text])
    ids.push(await queue.enqueue("q", payload));
  const claims = await queue.claimBatch("q", 3);
  const claimed = claims.map((claim) => Array.from(claim.payload));
  for (const claim of claims) await queue.ack(claim, { result: foreign.result });
  const workId = await queue.enqueue("work", foreign.buffer, { timeoutMs: 60000 });
  const stop = new AbortController();
  const worked = [];
  await runWorker(
    queue,
    "work",
    async (job, ctx) => {
      worked.push(Array.from(job.payload));
      stop.abort();
      worked.push(ctx.signal.aborted);
      return foreign.result;
    },
    { signal: stop.signal },
  );
  // A job past its timeoutMs: ctx.signal (made without AbortSignal.any) aborts with the
  // deadline's reason, and the attempt fails as timed out.
  const slowId = await queue.enqueue("slow", foreign.text, { timeoutMs: 20, maxAttempts: 1 });
  const stopSlow = new AbortController();
  const timedOut = [];
  await runWorker(
    queue,
    "slow",
    async (job, ctx) => {
      const reason = await new Promise((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve(ctx.signal.reason)),
      );
      timedOut.push(reason?.name, reason?.message);
      stopSlow.abort();
      throw reason;
    },
    { signal: stopSlow.signal },
  );
  let late;
  await Promise.race([
    allEnqueued,
    new Promise((resolve) => (late = setTimeout(resolve, 10000))),
  ]);
  clearTimeout(late);
  await queue.close();
  queue = await Queue.open(makeStore(), "app", { logger: silentLogger });
  const stats = await queue.stats("q");
  const results = [];
  for (const id of [...ids, workId]) {
    const job = await queue.getJob(id);
    results.push(job?.result === undefined ? null : Array.from(job.result));
  }
  const slow = await queue.getJob(slowId);
  timedOut.push(slow?.status, slow?.lastError);
  await queue.close();
  return { enqueued, claimed, worked, timedOut, done: stats.done, results };
}

const globals = {
  TextEncoder: typeof TextEncoder,
  TextDecoder: typeof TextDecoder,
  setImmediate: typeof setImmediate,
  timer: typeof setTimeout(() => {}, 0),
  AbortSignalAny: typeof AbortSignal.any,
};
const memoryStore = new MemoryStore();
const memory = await flow(() => memoryStore);
const file = await flow(() => new FileStore(dir));
report({ globals, memory, file });
`;

/** Timers as jsdom's: numbered, ref'd, all cleared when the window closes. */
function numberedTimers() {
  const live = new Map<number, NodeJS.Timeout>();
  let last = 0;
  const start =
    (repeat: boolean) =>
    (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number => {
      const id = ++last;
      const run = (): void => {
        if (!repeat) live.delete(id);
        fn(...args);
      };
      live.set(id, repeat ? setInterval(run, ms) : setTimeout(run, ms));
      return id;
    };
  const clear = (id?: unknown): void => {
    const handle = live.get(id as number);
    if (handle === undefined) return;
    clearTimeout(handle);
    live.delete(id as number);
  };
  const close = (): void => {
    for (const handle of live.values()) clearTimeout(handle);
    live.clear();
  };
  return {
    globals: {
      setTimeout: start(false),
      setInterval: start(true),
      clearTimeout: clear,
      clearInterval: clear,
    },
    close,
  };
}

/** Node's `AbortSignal` as jsdom 20's: no static `any`. */
const signalWithoutAny = new Proxy(AbortSignal, {
  get: (target, key, receiver) => (key === "any" ? undefined : Reflect.get(target, key, receiver)),
  has: (target, key) => key !== "any" && Reflect.has(target, key),
});

const timers = numberedTimers();
let reported: unknown = null;
const context = vm.createContext({
  console,
  process,
  Buffer,
  URL,
  URLSearchParams,
  AbortController,
  AbortSignal: signalWithoutAny,
  DOMException,
  Event,
  EventTarget,
  queueMicrotask,
  performance,
  ...timers.globals,
  realmTest: {
    dir: process.argv[2],
    foreign: {
      bytes: vm.runInNewContext("new Uint8Array([1, 2, 3])"),
      buffer: Buffer.from("buf"),
      text: vm.runInNewContext('"text"'),
      result: vm.runInNewContext("new Uint8Array([9, 8])"),
    },
    report: (value: unknown) => {
      reported = value;
    },
  },
});

/**
 * Each module once, by URL: the promise is kept at once, as the linker is asked for the
 * imports of many modules at the same time (two copies of a module would be two realms'
 * worth of classes, and `instanceof` between them fails).
 */
const modules = new Map<string, Promise<vm.Module>>();

/** A module of the outer realm (a core module, a dependency) as the context sees it. */
async function outerModule(specifier: string): Promise<vm.Module> {
  const namespace = (await import(specifier)) as Record<string, unknown>;
  const names = Object.keys(namespace);
  return new vm.SyntheticModule(
    names,
    function (this: vm.SyntheticModule) {
      for (const name of names) this.setExport(name, namespace[name]);
    },
    { context, identifier: specifier },
  );
}

async function sourceModule(url: string, source?: string): Promise<vm.Module> {
  const text = source ?? (await readFile(fileURLToPath(url), "utf8"));
  return new vm.SourceTextModule(text, {
    context,
    identifier: url,
    initializeImportMeta: (meta) => {
      meta.url = url;
    },
    importModuleDynamically: (async (specifier: string, referrer: vm.Module) => {
      const module = await load(specifier, referrer);
      if (module.status === "unlinked") await module.link(load);
      if (module.status === "linked") await module.evaluate();
      return module;
    }) as never,
  });
}

async function load(specifier: string, referrer: vm.Module): Promise<vm.Module> {
  const bare = specifier.replace(/^node:/, "");
  const outer = specifier.startsWith("node:") || builtinModules.includes(bare);
  const key =
    specifier === "taquba"
      ? INDEX
      : /^\.\.?\//.test(specifier)
        ? new URL(specifier, referrer.identifier).href
        : specifier;
  let module = modules.get(key);
  if (module === undefined) {
    module = outer || !key.startsWith("file:") ? outerModule(key) : sourceModule(key);
    modules.set(key, module);
  }
  return module;
}

try {
  const flow = await sourceModule(new URL("flow.js", import.meta.url).href, FLOW);
  await flow.link(load);
  await flow.evaluate();
} catch (error) {
  // Thrown in the context: not an Error of this realm.
  reported = { error: String((error as { stack?: unknown } | null)?.stack ?? error) };
} finally {
  timers.close();
}
process.stdout.write(`${JSON.stringify(reported)}\n`);
