/**
 * The benchmark scripts' command lines: an unknown flag or a value that is not one of
 * the choices stops a script with status 2 and one line saying what it expected, and
 * every command line README.md and BENCHMARKS.md show for these scripts still parses.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Args, closest, UsageError } from "../../bench/lib/args.js";
import { fullPlan, quickPlan } from "../../bench/plans.js";
import { prepareRunOne } from "../../bench/workloads/index.js";
import { repoRoot } from "../nodes.js";

const BENCH = fileURLToPath(new URL("../../bench/", import.meta.url));

/** The script each `npm run` bench command runs (package.json). */
const NPM_SCRIPTS: Record<string, string> = {
  bench: "suite",
  "bench:compare": "compare",
  "bench:takeover": "takeover",
  "bench:own-ids": "own-ids",
  "bench:series": "series",
};
/** Scripts with no command-line check (render.js takes a file to print). */
const UNCHECKED = new Set(["render"]);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(script: string, args: readonly string[]): Promise<Outcome> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(BENCH, `${script}.js`), ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** Runs `script args`, which must stop at its command line: status 2, one line on stderr. */
async function refused(script: string, args: readonly string[], line: RegExp): Promise<void> {
  const { code, stdout, stderr } = await runScript(script, args);
  assert.equal(code, 2, `${script} ${args.join(" ")}: status ${code}\n${stderr}`);
  assert.equal(stdout, "");
  assert.equal(stderr.split("\n").length, 2, `one line: ${stderr}`);
  assert.match(stderr, line);
}

/**
 * The bench command lines of a markdown text: fenced lines (with `\` continuations) and
 * inline code spans (which may wrap) that run a script under build/bench/ or `npm run bench…`.
 */
function documentedCommands(markdown: string): string[] {
  const found: string[] = [];
  const mentions = (text: string) => /build\/bench\/[a-z-]+\.js|npm run bench\b/.test(text);
  markdown.split(/^```.*$/m).forEach((part, i) => {
    if (i % 2 === 1) {
      for (const line of part.replace(/\\\n\s*/g, " ").split("\n"))
        if (mentions(line)) found.push(line.trim());
    } else {
      for (const match of part.matchAll(/`([^`]+)`/g)) {
        const span = (match[1] ?? "").replace(/\s*\\?\n\s*/g, " ").trim();
        if (mentions(span)) found.push(span);
      }
    }
  });
  return found;
}

/**
 * A documented command line as a script and its arguments, placeholders filled in:
 * `=<a|b>`, `=a|b` and `[--optional]` take their first form, another `<placeholder>` in
 * a value becomes `x`, one on its own (`<mode>`) is left out, and an upper-case letter
 * standing for a number becomes 1.
 */
function toInvocation(command: string): { script: string; args: string[] } | undefined {
  let text = command.replace(/\s+#.*$/, "");
  text = text.replace(
    /=<([^<>]*\|[^<>]*)>/g,
    (_, alternatives: string) => `=${(alternatives.split("|")[0] ?? "").trim()}`,
  );
  text = text.replace(/(^|\s)<[^<>]*>/g, "$1");
  text = text.replace(/<[^<>]*>/g, "x");
  text = text.replace(/\[([^\]]*)\]/g, "$1");
  const tokens = text.split(/\s+/).filter((t) => t.length > 0);
  let script: string | undefined;
  let rest: string[] = [];
  const npm = tokens.findIndex((t, i) => t === "run" && tokens[i - 1] === "npm");
  const node = tokens.findIndex((t) => /^build\/bench\/[a-z-]+\.js$/.test(t));
  if (node >= 0) {
    script = /^build\/bench\/([a-z-]+)\.js$/.exec(tokens[node] ?? "")?.[1];
    rest = tokens.slice(node + 1);
  } else if (npm >= 0 && (tokens[npm + 1] ?? "").startsWith("bench")) {
    script = NPM_SCRIPTS[tokens[npm + 1] ?? ""];
    assert.ok(script, `${command}: no such npm script`);
    rest = tokens.slice(npm + 2);
    if (rest[0] === "--") rest = rest.slice(1);
  }
  if (script === undefined || UNCHECKED.has(script)) return undefined;
  const args = rest
    .filter((t) => !t.includes("…"))
    .map((t) => {
      const eq = t.indexOf("=");
      if (!t.startsWith("--") || eq < 0) return t;
      const value = t.slice(eq + 1).replace(/^[A-Z]$/, "1");
      return `${t.slice(0, eq + 1)}${value.includes(",") ? value : (value.split("|")[0] ?? "")}`;
    });
  return { script, args };
}

describe("bench command lines", { timeout: 240_000 }, () => {
  it("knows the flags a script asked about, and suggests the closest for a typo", () => {
    const args = new Args(["--jobs=10", "--wrokers=4"]);
    assert.equal(args.number("jobs", 1), 10);
    args.number("workers", 1);
    args.flag("skip-install");
    assert.throws(() => args.rejectUnknown(), {
      name: "UsageError",
      message: "Unknown flag --wrokers (did you mean --workers?)",
    });
    const far = new Args(["--zzz"]);
    far.number("jobs", 1);
    far.accept("payload");
    assert.throws(() => far.rejectUnknown(), {
      message: "Unknown flag --zzz; valid flags: --jobs, --payload",
    });
    assert.throws(() => new Args(["--x"]).rejectUnknown(), /this command takes no flags/);
    const fine = new Args(["--jobs=1"]);
    fine.has("jobs");
    fine.rejectUnknown();
    assert.equal(closest("skip", ["skip-install", "only"]), "skip-install");
    assert.equal(closest("concurency", ["concurrency", "single-concurrency"]), "concurrency");
    assert.equal(closest("jbos", ["jobs"]), "jobs", "a swap of neighbours is one edit");
    assert.equal(closest("x", ["jobs", "only"]), undefined);
  });

  it("checks choices, lists of choices and flag values", () => {
    const systems = ["taquba", "bullmq", "pg-boss", "graphile"] as const;
    assert.deepEqual(new Args(["--only=bullmq,taquba,bullmq"]).listOf("only", systems, systems), [
      "bullmq",
      "taquba",
    ]);
    assert.deepEqual(new Args([]).listOf("only", systems, ["taquba"]), ["taquba"]);
    assert.throws(() => new Args(["--only=typo"]).listOf("only", systems, systems), {
      message:
        "Expected `--only` to be a comma-separated list of taquba, bullmq, pg-boss, graphile, got `typo`",
    });
    assert.throws(() => new Args(["--only=taquba,bulmq"]).listOf("only", systems, systems), {
      message:
        "Expected `--only` to be a comma-separated list of taquba, bullmq, pg-boss, graphile, " +
        "got `taquba,bulmq` (`bulmq` is not one) (did you mean `bullmq`?)",
    });
    assert.throws(() => new Args(["--only="]).listOf("only", systems, systems), UsageError);
    assert.throws(() => new Args(["--only"]).listOf("only", systems, systems), /got `true`/);
    assert.equal(
      new Args(["--mode=sigkill"]).oneOf("mode", ["clean", "sigkill"], "clean"),
      "sigkill",
    );
    assert.throws(() => new Args(["--mode=sigkil"]).oneOf("mode", ["clean", "sigkill"], "clean"), {
      message:
        "Expected `--mode` to be one of clean, sigkill, got `sigkil` (did you mean `sigkill`?)",
    });
    assert.equal(new Args(["--full"]).flag("full"), true);
    assert.equal(new Args(["--full=false"]).flag("full"), false);
    assert.throws(() => new Args(["--full=yes"]).flag("full"), UsageError);
    assert.throws(() => new Args(["stray"]), UsageError);
  });

  it("run-one checks the workload, the store and every flag before it runs anything", () => {
    assert.throws(() => prepareRunOne("claim_drian", new Args([])), /did you mean `claim_drain`/);
    assert.throws(() => prepareRunOne(undefined, new Args([])), /Expected the workload/);
    assert.throws(
      () => prepareRunOne("claim_drain", new Args(["--store=fiel"])),
      /Expected `--store` to be one of memory, file, s3like, radosgw, got `fiel` \(did you mean `file`\?\)/,
    );
    assert.throws(
      () => prepareRunOne("claim_drain", new Args(["--jobs=5", "--job=5"])),
      /^UsageError: Unknown flag --job \(did you mean --jobs\?\)$/,
    );
    // Flags read only in some set-ups are still the workload's own.
    prepareRunOne("steady_state", new Args(["--schedule=1:50", "--rate=5", "--seconds=1"]));
    assert.throws(
      () => prepareRunOne("fair_groups", new Args(["--modes=grouped,plian"])),
      /did you mean `plain`/,
    );
  });

  it("counts are whole numbers in range, refused before anything runs", () => {
    assert.equal(new Args(["--jobs=50k"]).integer("jobs", 1, 1), 50_000);
    assert.equal(new Args(["--warmup=0"]).integer("warmup", 5, 0), 0);
    assert.equal(new Args([]).integer("jobs", 7, 1), 7);
    for (const [raw, min] of [
      ["2.5", 1],
      ["0", 1],
      ["-1", 0],
      ["1e3", 1],
      ["", 0],
    ] as const)
      assert.throws(() => new Args([`--jobs=${raw}`]).integer("jobs", 1, min), {
        name: "UsageError",
        message: `Expected \`--jobs\` to be an integer >= ${min}, got \`${raw}\``,
      });
    // These used to start: end_to_end --batch=0, a fractional --jobs and steady_state
    // --workers=0 never ended, --concurrency=0 and ceiling --workers=0 failed with a stack
    // trace once the store was open, claim_drain --workers=0 reported a run of no jobs.
    for (const [workload, flag, min] of [
      ["end_to_end", "--batch=0", 1],
      ["end_to_end", "--jobs=2.5", 1],
      ["end_to_end", "--jobs=0", 1],
      ["end_to_end", "--concurrency=0", 1],
      ["end_to_end", "--producers=1.5", 0],
      ["end_to_end", "--warmup=0.5", 0],
      ["claim_drain", "--workers=0", 1],
      ["claim_batch", "--batch=0", 1],
      ["steady_state", "--workers=0", 1],
      ["ceiling", "--workers=0", 1],
      ["cold_start", "--live=1.5", 0],
      ["payload_sweep", "--producers=0", 1],
    ] as const)
      assert.throws(
        () => prepareRunOne(workload, new Args(["--store=memory", flag])),
        new RegExp(`^UsageError: Expected \`${flag.split("=")[0]}\` to be an integer >= ${min}, `),
        `${workload} ${flag}`,
      );
  });

  it("every run of the suite's plans parses", () => {
    for (const c of [...quickPlan(), ...fullPlan()])
      prepareRunOne(c.workload, new Args([`--store=${c.store}`, ...c.args]));
  });

  it("each script refuses an unknown flag or choice: status 2, one line, nothing run", async () => {
    await Promise.all([
      refused(
        "compare",
        ["--only=typo"],
        /^Expected `--only` to be a comma-separated list of taquba, bullmq, pg-boss, graphile, got `typo`$/m,
      ),
      refused("compare", ["--workloads=singel"], /did you mean `single`\?/),
      refused(
        "compare",
        ["--skip-instal"],
        /^Unknown flag --skip-instal \(did you mean --skip-install\?\)$/m,
      ),
      refused("compare", ["--prefetch=4"], /did you mean --taquba-prefetch\?/),
      refused("compare", ["--concurrency=32,many"], /`--concurrency`.*got `many`/),
      // --check-args: without the check, these would install and start the servers.
      refused(
        "compare",
        ["--repeat=1.5", "--check-args"],
        /^Expected `--repeat` to be an integer >= 1, got `1.5`$/m,
      ),
      refused(
        "compare",
        ["--batch=0", "--check-args"],
        /^Expected `--batch` to be an integer >= 1/m,
      ),
      refused(
        "compare",
        ["--single-jobs=0", "--check-args"],
        /`--single-jobs` to be an integer >= 1/,
      ),
      refused(
        "run-one",
        ["claim_drain", "--store=memory", "--jbos=10"],
        /Unknown flag --jbos \(did you mean --jobs\?\)/,
      ),
      refused(
        "run-one",
        ["typo", "--store=memory"],
        /^Expected the workload to be one of claim_drain, /,
      ),
      refused(
        "run-one",
        ["cold_start", "--mode=crash"],
        /Expected `--mode` to be one of clean, sigkill, got `crash`/,
      ),
      refused(
        "suite",
        ["--only=typo"],
        /^Expected `--only` to be a comma-separated list of claim_drain, /,
      ),
      refused("suite", ["--stores=s3"], /`--stores`.*memory, file, s3like, radosgw, got `s3`/),
      refused("suite", ["--ful"], /did you mean --full\?/),
      refused("series", ["--round=2"], /did you mean --rounds\?/),
      refused(
        "series",
        ["--rounds=2", "--", "--store=memory", "--jobz=1"],
        /Unknown flag --jobz \(did you mean --jobs\?\)/,
      ),
      refused("series", ["--modes=off,metric"], /Expected `--modes` items/),
      refused(
        "takeover",
        ["--stores=s3"],
        /Expected `--stores` to be a comma-separated list of radosgw, azurite, got `s3`/,
      ),
      refused("takeover", ["--warmup-acks=lots"], /`--warmup-acks`/),
      refused("own-ids", ["--phase=reopen"], /did you mean --phases\?/),
      refused("own-ids", ["--ids=mine"], /`--ids`.*own, generated, got `mine`/),
      refused("reader-reopen", ["--job=10"], /did you mean --jobs\?/),
      // --check-args never takes a value: what follows it is an argument of its own.
      refused("compare", ["--check-args", "32,256"], /^Unexpected argument `32,256`/),
      refused("group-commit", ["soon"], /^Expected `seconds` to be a number > 0, got `soon`$/m),
      refused("group-commit", ["--seconds=3"], /^Unknown flag --seconds=3/),
      refused("group-commit", ["3", "4"], /^Unexpected argument `4`/),
      refused("throughput", ["--check-args", "1.5"], /Expected `jobs` to be an integer >= 1/),
    ]);
  });

  it("counts of the workloads outside the quick suite are whole numbers too", () => {
    for (const [workload, flag, min] of [
      ["stalls", "--live=0.5", 0],
      ["stalls", "--dead=2.5", 0],
      ["op_slices", "--repeats=0", 1],
      ["op_slices", "--live=1.5", 0],
      ["rate_limit", "--max=0", 1],
      ["rate_limit", "--workers=0.5", 1],
      ["transactions", "--jobs=0", 1],
      ["single_enqueue", "--producers=0", 1],
      ["telemetry_overhead", "--chunk=0", 1],
      ["schedules", "--calls=0", 1],
      ["cancel_cost", "--tx=0", 1],
      ["kv_slices", "--keys=0", 1],
      ["span_cost", "--rounds=0", 1],
      ["fair_groups", "--concurrency=0", 1],
      ["payload_offload", "--workers=0", 1],
      ["flow_admin", "--jobs=0", 1],
      ["cancelled_slices", "--tombstones=1.5", 0],
    ] as const)
      assert.throws(
        () => prepareRunOne(workload, new Args(["--store=memory", flag])),
        new RegExp(`^UsageError: Expected \`${flag.split("=")[0]}\` to be an integer >= ${min}, `),
        `${workload} ${flag}`,
      );
  });

  it("--help prints a short usage on stdout and exits 0; render.js refuses a bad file in one line", async () => {
    const scripts: [string, string[]][] = [
      ["suite", ["--help"]],
      ["compare", ["--help"]],
      ["series", ["--help"]],
      ["takeover", ["--help"]],
      ["own-ids", ["--help"]],
      ["reader-reopen", ["--help"]],
      ["group-commit", ["--help"]],
      ["throughput", ["--help"]],
      ["render", ["--help"]],
      ["run-one", ["--help"]],
      ["run-one", ["stalls", "--help"]],
    ];
    const outcomes = await Promise.all(scripts.map(([script, args]) => runScript(script, args)));
    for (const [i, { code, stdout, stderr }] of outcomes.entries()) {
      const [script, args] = scripts[i] ?? ["", []];
      const line = `${script} ${args.join(" ")}`;
      assert.equal(code, 0, `${line}: status ${code}\n${stderr}`);
      assert.equal(stderr, "", line);
      assert.match(stdout, new RegExp(`^usage: node build/bench/${script}\\.js `, "m"), line);
      assert.ok(stdout.split("\n").length <= 40, `${line}: short`);
    }
    assert.match(outcomes[0]!.stdout, /^flags: .*--full.*--only/m, "suite names its flags");
    assert.match(outcomes[6]!.stdout, /^seconds: a number > 0 \(default 3\)$/m);
    assert.match(outcomes[10]!.stdout, /^flags: .*--claimed.*--live/m, "a workload's own flags");
    const missing = join(BENCH, "no-such-results.json");
    await Promise.all([
      refused(
        "render",
        [missing],
        /^Cannot read the results file `.*no-such-results\.json`: no such file$/m,
      ),
      refused(
        "render",
        [],
        /^Expected a results file \(usage: render\.js <results\.json>\), got none$/m,
      ),
      refused(
        "render",
        [join(BENCH, "suite.js")],
        /^Expected `.*suite\.js` to be a results file \(JSON\), got /m,
      ),
    ]);
  });

  it("--check-args gives the same answer wherever it stands", async () => {
    const lines: [string, string[]][] = [
      ["compare", ["--check-args", "--concurrency", "32,256"]],
      ["compare", ["--concurrency", "32,256", "--check-args"]],
      ["compare", ["--check-args", "--concurrency", "32,256", "--only=taquba"]],
      ["group-commit", ["--check-args"]],
      ["group-commit", ["0.5", "--check-args"]],
      ["throughput", ["--check-args", "20k"]],
    ];
    const outcomes = await Promise.all(lines.map(([script, args]) => runScript(script, args)));
    for (const [i, { code, stdout, stderr }] of outcomes.entries()) {
      const [script, args] = lines[i] ?? ["", []];
      assert.equal(code, 0, `${script} ${args.join(" ")}: status ${code}\n${stderr}`);
      assert.equal(stdout, "", "nothing run");
    }
    assert.throws(() => new Args(["--check-args", "x"]), /Unexpected argument `x`/);
    assert.equal(new Args(["--check-args", "--jobs", "5"]).number("jobs", 1), 5);
  });

  it("every command line README.md and BENCHMARKS.md show for a bench script parses", async () => {
    const commands = ["README.md", "BENCHMARKS.md"].flatMap((file) =>
      documentedCommands(readFileSync(join(repoRoot(), file), "utf8")),
    );
    const invocations = new Map<string, { script: string; args: string[] }>();
    for (const command of commands) {
      const invocation = toInvocation(command);
      if (invocation === undefined) continue;
      // Checked with --check-args: parsed and checked, then exit 0 without running.
      const { script, args } = invocation;
      const checked =
        script === "run-one"
          ? [args[0] ?? "", "--check-args", ...args.slice(1)]
          : ["--check-args", ...args];
      invocations.set(`${script} ${checked.join(" ")}`, { script, args: checked });
    }
    assert.ok(invocations.size > 40, `found ${invocations.size} command lines`);
    const scripts = new Set([...invocations.values()].map((i) => i.script));
    for (const script of [
      "suite",
      "run-one",
      "compare",
      "series",
      "takeover",
      "own-ids",
      "group-commit",
    ])
      assert.ok(scripts.has(script), `a documented ${script} command line`);
    const failures: string[] = [];
    const queue = [...invocations];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
          const [line, { script, args }] = next;
          const { code, stderr } = await runScript(script, args);
          if (code !== 0) failures.push(`${line}: status ${code}: ${stderr.trim()}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
  });
});
