import { InvalidArgumentError } from "../../src/errors.js";

/** Parsed `--name=value` / `--name value` / `--flag` command-line options. */
export class Args {
  readonly #values = new Map<string, string>();

  constructor(argv: readonly string[]) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] ?? "";
      if (!arg.startsWith("--"))
        throw new InvalidArgumentError(`unexpected argument "${arg}": expected --name=value`);
      const eq = arg.indexOf("=");
      if (eq > 0) {
        this.#values.set(arg.slice(2, eq), arg.slice(eq + 1));
      } else {
        const next = argv[i + 1];
        const isValue = next !== undefined && !next.startsWith("--");
        this.#values.set(arg.slice(2), isValue ? next : "true");
        if (isValue) i++;
      }
    }
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  string(name: string, fallback: string): string {
    return this.#values.get(name) ?? fallback;
  }

  /** A finite number ≥ 0; accepts `_` separators and `k`/`m` suffixes (`100k`, `1m`). */
  number(name: string, fallback: number): number {
    const raw = this.#values.get(name);
    if (raw === undefined) return fallback;
    const value = parseCount(raw);
    if (value === undefined)
      throw new InvalidArgumentError(`--${name}: expected a number >= 0, got "${raw}"`);
    return value;
  }

  flag(name: string): boolean {
    const raw = this.#values.get(name);
    return raw !== undefined && raw !== "false" && raw !== "0";
  }

  /** Comma-separated list. */
  list(name: string, fallback: readonly string[]): string[] {
    const raw = this.#values.get(name);
    return raw === undefined ? [...fallback] : raw.split(",").filter((s) => s.length > 0);
  }
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
