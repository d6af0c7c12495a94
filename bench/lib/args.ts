import { basename } from "node:path";
import { InvalidArgumentError } from "../../src/errors.js";

/**
 * A bad command line: an unknown flag, a value of the wrong kind, a name that is not one
 * of the choices. `parseCommandLine` prints its message as one line and exits with status 2.
 */
export class UsageError extends InvalidArgumentError {}

/**
 * Flags that never take the next argument as their value: `--check-args 32,256` leaves
 * `32,256` a stray argument (refused), so where `--check-args` stands changes nothing.
 */
const FLAGS_WITHOUT_VALUE: ReadonlySet<string> = new Set(["check-args"]);

/**
 * Parsed `--name=value` / `--name value` / `--flag` command-line options.
 *
 * Every name a script asks about (`has`, `string`, `number`, `flag`, `list`, `oneOf`,
 * `listOf`, or `accept`) becomes one it takes; once the script has read all of its
 * options, `rejectUnknown()` refuses any other flag given, naming the closest known one.
 * So a script reads all of its options up front, whatever their values, before it runs.
 */
export class Args {
  readonly #values = new Map<string, string>();
  readonly #known = new Set<string>();

  constructor(argv: readonly string[]) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] ?? "";
      if (!arg.startsWith("--") || arg === "--")
        throw new UsageError(`Unexpected argument \`${arg}\`: expected --name=value`);
      const eq = arg.indexOf("=");
      if (eq > 0) {
        this.#values.set(arg.slice(2, eq), arg.slice(eq + 1));
      } else {
        const name = arg.slice(2);
        const next = argv[i + 1];
        const isValue =
          !FLAGS_WITHOUT_VALUE.has(name) && next !== undefined && !next.startsWith("--");
        this.#values.set(name, isValue ? next : "true");
        if (isValue) i++;
      }
    }
  }

  /** Names the script takes without reading them here (read elsewhere, or passed on). */
  accept(...names: string[]): void {
    for (const name of names) this.#known.add(name);
  }

  has(name: string): boolean {
    this.#known.add(name);
    return this.#values.has(name);
  }

  string(name: string, fallback: string): string {
    this.#known.add(name);
    return this.#values.get(name) ?? fallback;
  }

  /** A finite number ≥ 0; accepts `_` separators and `k`/`m` suffixes (`100k`, `1m`). */
  number(name: string, fallback: number): number {
    this.#known.add(name);
    const raw = this.#values.get(name);
    if (raw === undefined) return fallback;
    const value = parseCount(raw);
    if (value === undefined)
      throw new UsageError(`Expected \`--${name}\` to be a number >= 0, got \`${raw}\``);
    return value;
  }

  /**
   * A whole number ≥ `min` (a count: jobs, loops, bytes, rounds), with the separators and
   * suffixes of {@link number}. A fraction or a count below `min` is refused here, before
   * the script starts anything, instead of hanging or failing later in the run.
   */
  integer(name: string, fallback: number, min: number): number {
    this.#known.add(name);
    const raw = this.#values.get(name);
    if (raw === undefined) return fallback;
    const value = parseCount(raw);
    if (value === undefined || !Number.isSafeInteger(value) || value < min)
      throw new UsageError(`Expected \`--${name}\` to be an integer >= ${min}, got \`${raw}\``);
    return value;
  }

  /** `--name` alone, or `--name=true|false|1|0`. */
  flag(name: string): boolean {
    this.#known.add(name);
    const raw = this.#values.get(name);
    if (raw === undefined) return false;
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new UsageError(`Expected \`--${name}\` alone or with true or false, got \`${raw}\``);
  }

  /** Comma-separated list. */
  list(name: string, fallback: readonly string[]): string[] {
    this.#known.add(name);
    const raw = this.#values.get(name);
    return raw === undefined ? [...fallback] : raw.split(",").filter((s) => s.length > 0);
  }

  /** One of `choices`. */
  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    this.#known.add(name);
    const raw = this.#values.get(name);
    if (raw === undefined) return fallback;
    const choice = choices.find((c) => c === raw);
    if (choice === undefined)
      throw new UsageError(
        `Expected \`--${name}\` to be one of ${choices.join(", ")}, got \`${raw}\`${suggestion(raw, choices, "`")}`,
      );
    return choice;
  }

  /** A comma-separated list of at least one of `choices`, each once at most. */
  listOf<T extends string>(name: string, choices: readonly T[], fallback: readonly T[]): T[] {
    this.#known.add(name);
    const raw = this.#values.get(name);
    if (raw === undefined) return [...fallback];
    const items = raw.split(",").filter((s) => s.length > 0);
    const picked: T[] = [];
    const expected = `Expected \`--${name}\` to be a comma-separated list of ${choices.join(", ")}, got \`${raw}\``;
    if (items.length === 0) throw new UsageError(expected);
    for (const item of items) {
      const choice = choices.find((c) => c === item);
      if (choice === undefined)
        throw new UsageError(
          `${expected}${items.length > 1 ? ` (\`${item}\` is not one)` : ""}${suggestion(item, choices, "`")}`,
        );
      if (!picked.includes(choice)) picked.push(choice);
    }
    return picked;
  }

  /** The names the script asked about so far, sorted. */
  known(): string[] {
    return [...this.#known].sort();
  }

  /** The names this command line gave. */
  given(): string[] {
    return [...this.#values.keys()];
  }

  /** Throws a `UsageError` for the first flag given that the script did not ask about. */
  rejectUnknown(): void {
    const known = [...this.#known].sort();
    for (const name of this.#values.keys()) {
      if (this.#known.has(name)) continue;
      const close = closest(name, known);
      throw new UsageError(
        close !== undefined
          ? `Unknown flag --${name} (did you mean --${close}?)`
          : known.length === 0
            ? `Unknown flag --${name}: this command takes no flags`
            : `Unknown flag --${name}; valid flags: ${known.map((k) => `--${k}`).join(", ")}`,
      );
    }
  }
}

/**
 * Parses a script's command line: `read` asks for every option the script takes (and may
 * check them further), then any other flag is refused. A bad command line prints one line
 * to stderr and exits with status 2. With `--check-args`, the script exits 0 right after
 * (how the tests check that the documented command lines still parse).
 */
export function parseCommandLine<T>(
  argv: readonly string[],
  read: (args: Args) => T,
  summary?: string,
): T {
  if (argv.includes("--help")) {
    // The flags are the names `read` asks about, with none given.
    const names = new Args([]);
    names.flag("check-args");
    try {
      read(names);
    } catch {
      // A script that needs some flag still names the ones it asked about before.
    }
    printUsage(summary, "[--flag=value ...]", [
      `flags: ${names
        .known()
        .map((name) => `--${name}`)
        .join(", ")}`,
    ]);
  }
  return exitOnUsageError(() => {
    const args = new Args(argv);
    const checkOnly = args.flag("check-args");
    const parsed = read(args);
    args.rejectUnknown();
    if (checkOnly) process.exit(0);
    return parsed;
  });
}

/**
 * Parses the command line of a script that takes one optional number as its argument
 * (`group-commit.js [seconds]`, `throughput.js [jobs]`), and `--check-args`. Anything
 * else, or a number `valid` refuses, prints one line and exits with status 2; with
 * `--check-args` the script exits 0 right after; `--help` prints the usage and exits 0.
 */
export function parseNumberArgument(
  argv: readonly string[],
  name: string,
  fallback: number,
  valid: (value: number) => boolean,
  expected: string,
  summary?: string,
): number {
  if (argv.includes("--help"))
    printUsage(summary, `[${name}] [--check-args]`, [`${name}: ${expected} (default ${fallback})`]);
  return exitOnUsageError(() => {
    let checkOnly = false;
    const given: string[] = [];
    for (const arg of argv) {
      if (arg === "--check-args") checkOnly = true;
      else if (arg.startsWith("--"))
        throw new UsageError(`Unknown flag ${arg}: this command takes [${name}] and --check-args`);
      else given.push(arg);
    }
    if (given.length > 1)
      throw new UsageError(`Unexpected argument \`${given[1]}\`: this command takes one [${name}]`);
    const raw = given[0];
    const value = raw === undefined ? fallback : parseCount(raw);
    if (value === undefined || !valid(value))
      throw new UsageError(`Expected \`${name}\` to be ${expected}, got \`${raw}\``);
    if (checkOnly) process.exit(0);
    return value;
  });
}

/**
 * `--help`: prints what the script does (`summary`), how it is called and `details`
 * to stdout, and exits with status 0.
 */
export function printUsage(
  summary: string | undefined,
  synopsis: string,
  details: readonly string[] = [],
): never {
  const script = `node build/bench/${basename(process.argv[1] ?? "script.js")}`;
  const lines = [
    ...(summary === undefined ? [] : [summary]),
    `usage: ${script} ${synopsis}`,
    ...details,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  process.exit(0);
}

/** Runs `parse`; a bad command line it reports prints one line and exits with status 2. */
export function exitOnUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

/** ` (did you mean <q>x<q>?)` for the choice closest to `raw`, if one is close. */
function suggestion(raw: string, choices: readonly string[], quote: string): string {
  const close = closest(raw, choices);
  return close === undefined ? "" : ` (did you mean ${quote}${close}${quote}?)`;
}

/**
 * The candidate nearest to `name`: within an edit distance of a third of its length (at
 * least 1, at most 3), or one that holds it or that it holds (3 characters or more).
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    const holds =
      Math.min(name.length, candidate.length) >= 3 &&
      (candidate.includes(name) || name.includes(candidate));
    if ((distance <= limit || holds) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, with a swap of two neighbouring characters counting as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const above = rows[i - 1]!;
      let d = Math.min(
        above[j]! + 1,
        row[j - 1]! + 1,
        above[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row[j] = d;
    }
  return rows[a.length]![b.length]!;
}

/** `"100k"` → 100000, `"1m"` → 1000000, `"1_000"` → 1000; `undefined` if not a number ≥ 0. */
export function parseCount(raw: string): number | undefined {
  const match = /^([0-9][0-9_]*(?:\.[0-9]+)?)([kKmM]?)$/.exec(raw.trim());
  if (match === null) return undefined;
  const base = Number((match[1] ?? "").replaceAll("_", ""));
  const suffix = (match[2] ?? "").toLowerCase();
  const value = suffix === "k" ? base * 1_000 : suffix === "m" ? base * 1_000_000 : base;
  return Number.isFinite(value) ? value : undefined;
}
