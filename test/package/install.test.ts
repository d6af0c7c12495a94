// Owns the check that taquba works as a user installs it: `npm pack` (which builds the package),
// publint and attw on the tarball, then fresh CommonJS and ESM apps that install the tarball
// (no cloud SDK; first a check that no node_modules above the apps holds an optional peer) and,
// on every test Node, run a job through `require`/`import` (the cloud stores failing with an
// error that names the SDK to install), run the CLI (help, demo, version), and type-check a
// TypeScript consumer with `skipLibCheck: false` (NodeNext, Node16, Node10 and Bundler
// resolution); both builds in one process, with each other and under fake timers; and that
// `engines` names a Node with every newer built-in the code calls. The apps' sources are in
// install-apps.ts.
//
// By default the install is offline: npm uses an empty cache of the test's own, and taquba's
// dependencies are the lockfile's versions, packed from the repository's node_modules. So a
// newer release of a dependency within its declared range is not tried, and warnings only the
// registry gives (`npm warn deprecated`) are not seen. TAQUBA_PACKAGE_TEST_REGISTRY=1 installs
// the tarball alone from the registry instead, as `npm install taquba` would (network needed).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot, type TestNode, testNodes } from "../nodes.js";
import { killRunning, type Run, run } from "../process-group.js";
import { type App, makeApp } from "./install-apps.js";
import { optionalPeers, packagesAbove, packDependencies, userEnv } from "./isolated-app.js";

/** Whether the apps install taquba's dependencies from the registry (see the header). */
const fromRegistry = process.env.TAQUBA_PACKAGE_TEST_REGISTRY === "1";
/** The deadline of a command that builds, packs, installs or type-checks. */
const TIMEOUT_MS = 240_000;
/** The deadline of an app or CLI run, each a second or so: a hang fails soon, not at the end. */
const APP_TIMEOUT_MS = 60_000;

function ok(result: Run, what: string): string {
  assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const root = repoRoot();
const bin = (name: string): string => join(root, "node_modules", ".bin", name);
const version = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }
).version;

describe("the packed package, installed in fresh apps", { timeout: TIMEOUT_MS }, () => {
  let work: string;
  let tarball: string;
  let installed: string;
  const apps: App[] = [];
  const installOutput: string[] = [];
  const nodes: TestNode[] = testNodes();

  let env: NodeJS.ProcessEnv;
  /** Builds, packs, installs and type-checks. */
  const tool = (command: string, args: string[], cwd: string): Promise<Run> =>
    run(command, args, { cwd, env, timeoutMs: TIMEOUT_MS });
  /** Runs of the apps and the CLI. */
  const runApp = (command: string, args: string[], cwd: string): Promise<Run> =>
    run(command, args, { cwd, env, timeoutMs: APP_TIMEOUT_MS });

  before(async () => {
    // The real path: Node searches from the realpath of the script it runs.
    work = realpathSync(await mkdtemp(join(tmpdir(), "taquba-package-")));
    env = userEnv(fromRegistry ? undefined : join(work, "npm-cache"));
    // An optional peer in a node_modules above the apps would be found in place of the one they
    // lack: the checks of its error would wait on its network or pass for the wrong reason.
    const peers = optionalPeers(root);
    for (const node of nodes) {
      const stray = await packagesAbove(node.executable, work, peers, env);
      assert.deepEqual(
        stray,
        [],
        `Expected no optional peer of taquba where Node ${node.version} looks for the apps' packages, found ${stray.join(", ")}: remove it, or (for a node_modules above the temporary directory) set TMPDIR to a directory with none above it, or (for NODE_PATH or a global folder such as ~/.node_modules) unset NODE_PATH or take it out of that folder`,
      );
    }
    ok(await tool("npm", ["pack", "--pack-destination", work], root), "npm pack");
    const packed = readdirSync(work).filter((name) => name.endsWith(".tgz"));
    assert.deepEqual(packed, [`taquba-${version}.tgz`]);
    tarball = join(work, packed[0]!);
    // With its dependencies from the repository, the install needs no registry and no cache.
    const dependencies = fromRegistry
      ? []
      : await packDependencies(root, join(work, "dependencies"), env);
    for (const kind of ["commonjs", "module"] as const) {
      const app = await makeApp(work, kind);
      const install = await tool(
        "npm",
        ["install", tarball, ...dependencies, "--no-audit", "--no-fund"],
        app.dir,
      );
      // Offline, ENOTCACHED means a dependency in node_modules is not what package.json asks.
      const hint = /ENOTCACHED/.test(install.stderr)
        ? " (offline: is a dependency in package.json out of step with node_modules? run `npm ci`)"
        : "";
      ok(install, `npm install in the ${kind} app${hint}`);
      installOutput.push(install.stdout + install.stderr);
      apps.push(app);
    }
    installed = join(apps[0]!.dir, "node_modules", "taquba");
  });

  after(async () => {
    // A run the suite's timeout cut short would otherwise go on, with all it started.
    killRunning();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("installs without a warning and without any cloud SDK or OpenTelemetry", () => {
    for (const output of installOutput) assert.doesNotMatch(output, /warn/i, output);
    for (const app of apps)
      for (const sdk of ["@aws-sdk", "@azure", "@google-cloud", "@opentelemetry"])
        assert.ok(!existsSync(join(app.dir, "node_modules", sdk)), `${sdk} was installed`);
  });

  it("ships dist, src, LICENSE, README.md and package.json, nothing else", () => {
    assert.deepEqual(readdirSync(installed).sort(), [
      "LICENSE",
      "README.md",
      "dist",
      "package.json",
      "src",
    ]);
    assert.match(readFileSync(join(installed, "LICENSE"), "utf8"), /^MIT License/);
  });

  it("engines and the README name a Node that has every newer built-in the code calls", () => {
    // Built-ins newer than Node 20.0.0, each with the first 20.x that has it: on an older
    // Node, `import "taquba"` fails to link (a missing named export) or a call throws.
    const newer = [
      {
        what: "crc32 of node:zlib",
        since: [20, 15, 0],
        use: /import \{[^}]*\bcrc32\b[^}]*\} from "node:zlib"/,
      },
      { what: "AbortSignal.any", since: [20, 3, 0], use: /AbortSignal\.any\(/ },
      // The file store's writer thread, when it is loaded as a module (no `require`).
      { what: "process.getBuiltinModule", since: [20, 16, 0], use: /process\.getBuiltinModule\(/ },
    ];
    const code = readdirSync(join(installed, "dist"), { recursive: true })
      .map(String)
      .filter((name) => name.endsWith(".js") && !name.startsWith(`cjs${sep}`))
      .map((name) => readFileSync(join(installed, "dist", name), "utf8"))
      .join("\n");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as {
      engines: { node: string };
    };
    const floor = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(manifest.engines.node);
    assert.ok(floor, `engines.node is not ">=major.minor.patch": ${manifest.engines.node}`);
    const [major, minor, patch] = floor.slice(1).map(Number) as [number, number, number];
    for (const { what, since, use } of newer) {
      // A pattern that stops matching would turn its check off without a word: a built-in
      // the code no longer calls is taken off this list by hand.
      assert.match(code, use, `the shipped code no longer calls ${what} as this test expects`);
      const [m, n, p] = since as [number, number, number];
      const enough = major !== m ? major > m : minor !== n ? minor > n : patch >= p;
      assert.ok(
        enough,
        `the code uses ${what} (Node ${since.join(".")}), engines says ${manifest.engines.node}`,
      );
    }
    const readme = readFileSync(join(installed, "README.md"), "utf8");
    assert.match(readme, new RegExp(`Node ${major}\\.${minor} or newer`));
  });

  it("ships the sources of every source map", () => {
    const maps = readdirSync(join(installed, "dist"), { recursive: true })
      .map(String)
      .filter((name) => name.endsWith(".map"));
    assert.ok(maps.length > 100, `only ${maps.length} source maps`);
    for (const name of maps) {
      const map = join(installed, "dist", name);
      const { sources, sourceRoot } = JSON.parse(readFileSync(map, "utf8")) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const path = resolve(dirname(map), sourceRoot ?? "", source);
        assert.ok(
          path.startsWith(installed + sep),
          `${name} points outside the package: ${source}`,
        );
        assert.ok(existsSync(path), `${name} names ${relative(installed, path)}, not shipped`);
      }
    }
  });

  it("passes publint and attw (types per condition, for ., ./testing and ./dashboard)", async () => {
    const publint = ok(await tool(bin("publint"), ["run", tarball, "--strict"], work), "publint");
    assert.match(publint, /All good/);
    const attw = ok(
      await tool(bin("attw"), [tarball, "--format", "ascii", "--no-color"], work),
      "attw",
    );
    assert.match(attw, /No problems found/);
  });

  it("type-checks TypeScript consumers (CJS, ESM; NodeNext, Node16, Node10, bundler) with skipLibCheck off and no SDK", async () => {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    // NodeNext and Node16 read the app's `type`, so they check each app. Bundler and Node10
    // resolution ignore it (both apps resolve the same files), so they check the CommonJS one.
    const projects = apps.flatMap((app) =>
      [
        "tsconfig.json",
        "tsconfig.node16.json",
        ...(app.kind === "commonjs" ? ["tsconfig.bundler.json", "tsconfig.node10.json"] : []),
      ].map((config) => ({ app, config })),
    );
    // As many at once as there are cores: more only contend for them (and for memory).
    const results: Run[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let index = next++; index < projects.length; index = next++) {
        const { app, config } = projects[index]!;
        results[index] = await tool(process.execPath, [tsc, "-p", join(app.dir, config)], app.dir);
      }
    };
    await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
    for (const [index, result] of results.entries())
      ok(result, `tsc -p ${projects[index]!.config} in the ${projects[index]!.app.kind} app`);
  });

  for (const node of nodes) {
    it(`require() and import both run a job on Node ${node.version}`, async () => {
      for (const app of apps) {
        const data = await mkdtemp(join(work, "data-"));
        const out = ok(
          await runApp(node.executable, [app.script, data], app.dir),
          `${app.script} on Node ${node.version}`,
        );
        const report = JSON.parse(out) as Record<string, unknown>;
        assert.deepEqual(report, {
          resolved: join(app.dir, "node_modules", "taquba", app.entry),
          seen: ["ada@example.com"],
          done: 1,
          pending: 0,
          testing: ["function", "function", "function"],
          telemetry: "INVALID_ARGUMENT (says what to install)",
          conflict: "CONFLICT",
          sdks: [
            "true STORAGE true @aws-sdk/client-s3",
            "true STORAGE true @azure/storage-blob",
            "true STORAGE true @google-cloud/storage",
          ],
        });
      }
    });

    it(`the installed CLI prints its version on Node ${node.version}`, async () => {
      const app = apps[0]!;
      const cli = join(app.dir, "node_modules", "taquba", "dist", "cli", "main.js");
      assert.equal(
        ok(await runApp(node.executable, [cli, "--version"], app.dir), "cli"),
        `${version}\n`,
      );
    });
  }

  it("a store of the CommonJS build runs under, and fences, queues of the ESM build", async () => {
    const app = apps.find((a) => a.kind === "commonjs")!;
    const data = await mkdtemp(join(work, "mixed-"));
    const out = ok(await runApp(process.execPath, ["mixed.cjs", data], app.dir), "mixed.cjs");
    assert.deepEqual(JSON.parse(out), {
      twoBuilds: true,
      pending: 1,
      fenced: "FENCED",
      guards: [true, true],
      instanceOf: false,
    });
  });

  it("both builds take their own turns under fake timers that hold time still", async () => {
    const app = apps.find((a) => a.kind === "commonjs")!;
    const out = ok(await runApp(process.execPath, ["fake-timers.cjs"], app.dir), "fake-timers.cjs");
    assert.deepEqual(JSON.parse(out), { cjs: "done 1", esm: "done 1" });
  });

  it("`npx taquba --help` lists the commands, a cloud store names its SDK, `npx taquba demo` runs", async () => {
    const app = apps.find((a) => a.kind === "module")!;
    const help = ok(
      await runApp("npx", ["--no-install", "taquba", "--help"], app.dir),
      "npx taquba --help",
    );
    assert.match(help, /^Usage: taquba <command>/);
    for (const command of ["demo", "stats", "dashboard"])
      assert.match(help, new RegExp(`^  ${command} `, "m"));
    // A cloud store without its SDK: the CLI says where to install it.
    const s3 = await runApp(
      "npx",
      ["--no-install", "taquba", "stats", "--store", "s3://bucket"],
      app.dir,
    );
    assert.equal(s3.code, 1, s3.stderr);
    assert.match(
      s3.stderr,
      /^taquba stats: STORAGE: S3Store needs the optional package "@aws-sdk\/client-s3", which is not installed: run `npm install @aws-sdk\/client-s3` in the project that has taquba installed/,
    );
    const store = await mkdtemp(join(work, "demo-"));
    const demo = ok(
      await runApp(
        "npx",
        ["--no-install", "taquba", "demo", "--jobs", "50", "--json", "--store", store],
        app.dir,
      ),
      "npx taquba demo",
    );
    const summary = JSON.parse(demo) as {
      interrupted: boolean;
      left: { toEnqueue: number; unfinished: number };
      stats: { done: number; dead: number };
    };
    assert.equal(summary.interrupted, false);
    assert.deepEqual(summary.left, { toEnqueue: 0, unfinished: 0 });
    // The demo fails some jobs on purpose: each one ends done or dead.
    assert.equal(summary.stats.done + summary.stats.dead, 50);
  });

  it("`npx taquba --version` and the installed bin print the version", async () => {
    for (const app of apps) {
      const npx = await runApp("npx", ["--no-install", "taquba", "--version"], app.dir);
      assert.equal(ok(npx, "npx taquba --version"), `${version}\n`);
      const linked = join(app.dir, "node_modules", ".bin", "taquba");
      assert.equal(
        ok(await runApp(linked, ["--version"], app.dir), "taquba --version"),
        `${version}\n`,
      );
    }
  });
});
