/**
 * Command-line parsing shared by the commands: strict `util.parseArgs` and
 * the numeric flag readers. Malformed flags are {@link UsageError}s (exit 2)
 * whose messages name the flag, in the same style as every argument error
 * ("Expected `--jobs` to be a positive integer, got "ten"").
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { messageOf } from "../util/message.js";
import { expectationMessage, integerRange } from "../validate.js";
import { type CliIO, type Command, UsageError } from "./io.js";
import { quoted } from "./terminal-text.js";

/** Option declarations as `util.parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parseCommandArgs} returns for the options `T`. */
export type ParsedCommandArgs<T extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>
>;

/**
 * `util.parseArgs` in strict mode, with its errors turned into
 * {@link UsageError}s that name the flag. A negative number after a flag that
 * takes a value is that value (`--priority -1`), so the flag's own check can
 * say what is wrong with it.
 */
export function parseCommandArgs<T extends CommandOptions>(
  args: string[],
  options: T,
): ParsedCommandArgs<T> {
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw usageOf(error, args, options);
  }
}

/** `--flag -5` → `--flag=-5` for flags that take a value (before any `--`). */
function joinNegativeValues(args: readonly string[], options: CommandOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return out.concat(args.slice(i));
    const name = flagName(arg, options);
    const next = args[i + 1];
    if (
      name !== undefined &&
      options[name]?.type === "string" &&
      next !== undefined &&
      /^-\.?\d/.test(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** The option a lone `--name` or `-x` token stands for, if any. */
function flagName(arg: string, options: CommandOptions): string | undefined {
  if (/^--[^=]+$/.test(arg)) return arg.slice(2);
  if (/^-[^-]$/.test(arg))
    return Object.keys(options).find((name) => options[name]?.short === arg.slice(1));
  return undefined;
}

/** A `util.parseArgs` error as a message in the CLI's style, naming the flag. */
function usageOf(error: unknown, args: readonly string[], options: CommandOptions): UsageError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = messageOf(error);
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? "";
  const known = Object.entries(options)
    .map(([name, o]) => `--${name}${o.type === "string" ? " <value>" : ""}`)
    .join(", ");
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION")
    return new UsageError(
      `Expected one of the options ${known}, got ${quoted(flag)} ` +
        '(an argument that starts with "-" but is no option goes after "--")',
    );
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take an argument/.test(message)) {
      const given = args.find((arg) => arg.startsWith(`${flag}=`)) ?? flag;
      return new UsageError(expectationMessage(flag, "given without a value", quoted(given)));
    }
    if (/argument is ambiguous/.test(message)) {
      const next = args[args.indexOf(flag) + 1] ?? "";
      return new UsageError(
        expectationMessage(flag, "followed by its value", quoted(next)) +
          ` (for a value that starts with "-", write ${flag}=<value>)`,
      );
    }
    if (/argument missing/.test(message))
      return new UsageError(expectationMessage(flag, "followed by its value", "nothing"));
  }
  return new UsageError(message);
}

/** A {@link UsageError} for flag `--name`, whose text was `value`. */
export function badFlag(name: string, expected: string, value: string): UsageError {
  return new UsageError(expectationMessage(`--${name}`, expected, quoted(value)));
}

/** The {@link UsageError} for a missing (`undefined`) or unknown `--status`: one message for both. */
export function statusFlag(statuses: readonly string[], given: string | undefined): UsageError {
  return new UsageError(
    expectationMessage(
      "--status",
      `one of ${statuses.join(", ")}`,
      given === undefined ? "nothing" : quoted(given),
    ),
  );
}

/** An integer flag of at least `min`; `fallback` when absent. */
export function intFlag(value: string | undefined, name: string, min: number): number | undefined;
export function intFlag(
  value: string | undefined,
  name: string,
  min: number,
  fallback: number,
): number;
export function intFlag(
  value: string | undefined,
  name: string,
  min: number,
  fallback?: number,
): number | undefined {
  if (value === undefined) return fallback;
  const n = /^[+-]?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) {
    const low = min === Number.NEGATIVE_INFINITY ? -Number.MAX_SAFE_INTEGER : min;
    throw badFlag(name, `an integer from ${low} to ${Number.MAX_SAFE_INTEGER}`, value);
  }
  if (!Number.isSafeInteger(n) || n < min) throw badFlag(name, integerRange(min), value);
  return n;
}

/** A positive integer flag. */
export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  return intFlag(value, name, 1, fallback);
}

/** A non-negative integer flag. */
export function nonNegativeInt(value: string | undefined, name: string, fallback: number): number {
  return intFlag(value, name, 0, fallback);
}

/** What a command declares; see {@link defineCommand}. */
export interface CommandSpec<T extends CommandOptions> {
  readonly name: string;
  readonly summary: string;
  /** Printed for `-h` / `--help` (every command has that flag). */
  readonly help: string;
  readonly options: T;
  /** Runs the command on its parsed arguments; resolves with the exit code. */
  run(parsed: ParsedCommandArgs<T>, io: CliIO): Promise<number>;
}

/** A {@link Command} that parses its arguments strictly and answers `--help` with its help text. */
export function defineCommand<T extends CommandOptions>(spec: CommandSpec<T>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    async run(args, io) {
      const parsed = parseCommandArgs(args, spec.options);
      if ((parsed.values as { help?: unknown }).help === true) {
        io.out(spec.help);
        return 0;
      }
      return spec.run(parsed, io);
    },
  };
}
