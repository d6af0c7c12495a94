// The fresh apps install.test.ts installs the packed package into: a CommonJS and an ESM app,
// each with a job script run through `require` or `import` (a job, a transaction, telemetry
// and the cloud stores without their packages), a TypeScript consumer and its tsconfigs
// (NodeNext, Node16, Node10, Bundler; skipLibCheck off), and, in the CommonJS app, a script
// with both builds in one process and one under node:test's fake timers.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../nodes.js";

const root = repoRoot();

/** Enqueue a job, let runWorker take it and ack it, reopen the store and report what it holds. */
const JOB_BODY = `
  const dir = process.argv[2];
  const queue = await Queue.open(new FileStore(dir), "app", { logger: silentLogger });
  await queue.enqueue("emails", JSON.stringify({ to: "ada@example.com" }));
  const stop = new AbortController();
  const seen = [];
  await runWorker(
    queue,
    "emails",
    async (job) => {
      seen.push(JSON.parse(Buffer.from(job.payload).toString()).to);
      stop.abort();
    },
    { signal: stop.signal },
  );
  // Transactions and their error class work through this entry point too.
  const conflict = await queue
    .transaction((tx) => tx.kvCheck("k", "expected"))
    .then(() => "committed", (error) => (error instanceof ConflictError ? error.code : String(error)));
  await queue.close();
  const reopened = await Queue.open(new FileStore(dir), "app", { logger: silentLogger });
  const stats = await reopened.stats("emails");
  await reopened.close();
  // Telemetry needs @opentelemetry/api, which the app did not install: a clear error.
  const telemetry = await Queue.open(new FileStore(dir), "traced", { telemetry: true }).then(
    () => "opened",
    (error) =>
      error.code +
      (error.message.includes("npm install @opentelemetry/api") ? " (says what to install)" : ""),
  );
  // So do the cloud stores: a permanent StorageError that names the SDK to install. An SDK
  // found after all would talk to a network that may not answer: each open gets a deadline.
  const sdks = [];
  let late = false;
  for (const [Store, options] of [
    [S3Store, { bucket: "b" }],
    [AzureBlobStore, { container: "c", accountUrl: "https://a.blob.core.windows.net" }],
    [GcsStore, { bucket: "b" }],
  ]) {
    const opened = Queue.open(new Store(options), "app", { logger: silentLogger });
    let timer;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(() => resolve(Store.name + " neither opened nor failed in 5 s"), 5000);
    });
    sdks.push(await Promise.race([deadline, opened.then(() => "opened", (error) =>
      [error instanceof StorageError, error.code, error.permanent,
        /run \`npm install ([^\`]+)\`/.exec(error.message)?.[1]].join(" "))]));
    clearTimeout(timer);
    late ||= sdks.at(-1).endsWith(" in 5 s");
  }
  console.log(JSON.stringify({ resolved, seen, done: stats.done, pending: stats.pending,
    testing: [typeof ManualClock, typeof FaultStore, typeof dashboard], telemetry, conflict, sdks }));
  // A store still waiting on the network would keep the process alive.
  if (late) process.exit();
`;

const CJS_JOB = `"use strict";
const { AzureBlobStore, ConflictError, FileStore, GcsStore, Queue, runWorker, S3Store, silentLogger, StorageError } =
  require("taquba");
const { FaultStore, ManualClock } = require("taquba/testing");
const { dashboard } = require("taquba/dashboard");
const resolved = require.resolve("taquba");
(async () => {${JOB_BODY}})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const ESM_JOB = `import { AzureBlobStore, ConflictError, FileStore, GcsStore, Queue, runWorker, S3Store, silentLogger,
  StorageError } from "taquba";
import { FaultStore, ManualClock } from "taquba/testing";
import { dashboard } from "taquba/dashboard";
import { fileURLToPath } from "node:url";
const resolved = fileURLToPath(import.meta.resolve("taquba"));
${JOB_BODY}`;

/** Uses every store's options type: none of them may need a cloud SDK's types. */
const TS_CONSUMER = `import {
  AzureBlobStore,
  FileStore,
  GcsStore,
  type JobRecord,
  type FlowJob,
  type KvPage,
  type ObjectStore,
  Queue,
  runWorker,
  S3Store,
  type TelemetryOptions,
  type Transaction,
  type TransactionResult,
} from "taquba";
import { FaultStore, ManualClock } from "taquba/testing";
import { type DashboardHandler, type DashboardOptions, dashboard } from "taquba/dashboard";

// The dashboard's types resolve from the subpath.
export const dashboardOptions: DashboardOptions = { readOnly: true, basePath: "/admin/queues" };
export function adminUi(queue: Queue): DashboardHandler {
  return dashboard(queue, dashboardOptions);
}

// Transactions, flows and KV pages have their types at the entry point.
export const flow: FlowJob = { queue: "notify", payload: "x", children: [{ queue: "ship", payload: "x" }] };
export function settle(queue: Queue, build: (tx: Transaction) => void): Promise<TransactionResult> {
  return queue.transaction(build);
}
export function scan(queue: Queue): Promise<KvPage> {
  return queue.kvScan("user/", { limit: 10 });
}

// Telemetry options type-check without @opentelemetry/api installed.
export const telemetry: TelemetryOptions = { traces: false, requestPrices: { put: 0.000005 } };

export async function main(dir: string): Promise<JobRecord | null> {
  const stores: ObjectStore[] = [
    new S3Store({ bucket: "b", endpoint: "http://127.0.0.1:9000", forcePathStyle: true }),
    new AzureBlobStore({ container: "c", accountUrl: "https://a.blob.core.windows.net" }),
    new GcsStore({ bucket: "b" }),
    new FaultStore(new FileStore(dir)),
  ];
  const queue = await Queue.open(stores[3]!, "app", { clock: new ManualClock(0) });
  const id = await queue.enqueue("q", "payload");
  const stop = new AbortController();
  await runWorker(queue, "q", async () => stop.abort(), { signal: stop.signal });
  return queue.getJob(id);
}
`;

/**
 * Both builds in one process (a CommonJS app `import()`ing the package gets the ESM build):
 * a store of one build under a queue of the other, which fences a queue of the first, and
 * each build's `isObjectExistsError` recognising the other's error.
 */
const MIXED_BUILDS = `"use strict";
const cjs = require("taquba");
(async () => {
  const esm = await import("taquba");
  const store = new cjs.FileStore(process.argv[2]);
  const queue = await esm.Queue.open(store, "app", { logger: esm.silentLogger });
  await queue.enqueue("q", "x");
  const pending = (await queue.stats("q")).pending;
  const second = await cjs.Queue.open(new esm.MemoryStore(), "other", { logger: cjs.silentLogger });
  await second.close();
  const takeover = await cjs.Queue.open(store, "app", { logger: cjs.silentLogger });
  const fenced = await queue.enqueue("q", "late").then(() => "written", (error) => error.code);
  await takeover.close();
  await queue.close().catch(() => {});
  const exists = await store
    .put("app/k", new Uint8Array(1), { ifNoneMatch: "*" })
    .then(() => store.put("app/k", new Uint8Array(1), { ifNoneMatch: "*" }))
    .catch((error) => error);
  console.log(JSON.stringify({
    twoBuilds: cjs.ObjectExistsError !== esm.ObjectExistsError,
    pending,
    fenced,
    guards: [esm.isObjectExistsError(exists), cjs.isObjectExistsError(new esm.ObjectExistsError("k"))],
    instanceOf: exists instanceof esm.ObjectExistsError,
  }));
  await store.close();
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

/**
 * Both builds under node:test's fake timers (every API, `node:timers` included), installed
 * after the package loaded: taquba's own turns use the real `setImmediate`, so enqueue, claim
 * and ack complete although no fake time passes.
 */
const FAKE_TIMERS = `"use strict";
const { mock } = require("node:test");
const cjs = require("taquba");
const realSetTimeout = setTimeout;
const realClearTimeout = clearTimeout;
async function run(build) {
  const queue = await build.Queue.open(new build.MemoryStore(), "app", { logger: build.silentLogger });
  mock.timers.enable();
  let guard;
  try {
    return await Promise.race([
      (async () => {
        await queue.enqueue("q", "x");
        const [claim] = await queue.claimBatch("q", 1, { waitMs: 0 });
        await queue.ack(claim);
        return "done " + (await queue.stats("q")).done;
      })(),
      new Promise((resolve) => (guard = realSetTimeout(() => resolve("stuck"), 5000))),
    ]);
  } finally {
    realClearTimeout(guard);
    mock.timers.reset();
    await queue.close();
  }
}
(async () => {
  const esm = await import("taquba");
  console.log(JSON.stringify({ cjs: await run(cjs), esm: await run(esm) }));
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

export interface App {
  dir: string;
  kind: "commonjs" | "module";
  script: string;
  entry: string;
}

export async function makeApp(parent: string, kind: App["kind"]): Promise<App> {
  const dir = join(parent, kind === "commonjs" ? "cjs-app" : "esm-app");
  await mkdir(dir);
  const manifest = { name: `${kind}-app`, version: "1.0.0", private: true, type: kind };
  await writeFile(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const script = kind === "commonjs" ? "job.cjs" : "job.mjs";
  await writeFile(join(dir, script), kind === "commonjs" ? CJS_JOB : ESM_JOB);
  if (kind === "commonjs") {
    await writeFile(join(dir, "mixed.cjs"), MIXED_BUILDS);
    await writeFile(join(dir, "fake-timers.cjs"), FAKE_TIMERS);
  }
  await writeFile(join(dir, "consumer.ts"), TS_CONSUMER);
  const compilerOptions = {
    module: "NodeNext",
    moduleResolution: "NodeNext",
    target: "ES2022",
    strict: true,
    // Not part of `strict`, but apps that turn it on check our declarations with it too.
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    types: ["node"],
    // The repository's @types/node: the app needs no registry access for it.
    typeRoots: [join(root, "node_modules", "@types")],
  };
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions, files: ["consumer.ts"] }),
  );
  // An app built by a bundler resolves the package the bundler's way.
  await writeFile(
    join(dir, "tsconfig.bundler.json"),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, module: "Preserve", moduleResolution: "Bundler" },
      files: ["consumer.ts"],
    }),
  );
  // Node16 resolution, and the Node10 resolution of older setups (subpaths through typesVersions).
  await writeFile(
    join(dir, "tsconfig.node16.json"),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, module: "Node16", moduleResolution: "Node16" },
      files: ["consumer.ts"],
    }),
  );
  await writeFile(
    join(dir, "tsconfig.node10.json"),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, module: "CommonJS", moduleResolution: "Node10" },
      files: ["consumer.ts"],
    }),
  );
  return { dir, kind, script, entry: kind === "commonjs" ? "dist/cjs/index.js" : "dist/index.js" };
}
