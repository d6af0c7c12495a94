/**
 * Command-line parsing shared by the commands: strict `util.parseArgs` and
 * the numeric flag readers. Malformed flags are {@link UsageError}s (exit 2)
 * whose messages name the flag, in the same style as every argument error
 * ("Expected `--jobs` to be a positive integer, got "ten"").
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { expectationMessage, integerRange } from "../validate.js";
import { type CliIO, type Command, UsageError } from "./io.js";

/** Option declarations as `util.parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parseCommandArgs} returns for the options `T`. */
export type ParsedCommandArgs<T extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>
>;

/** `util.parseArgs` in strict mode, with its errors turned into {@link UsageError}. */
export function parseCommandArgs<T extends CommandOptions>(
  args: string[],
  options: T,
): ParsedCommandArgs<T> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A {@link UsageError} for flag `--name`, whose text was `value`. */
export function badFlag(name: string, expected: string, value: string): UsageError {
  return new UsageError(expectationMessage(`--${name}`, expected, JSON.stringify(value)));
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
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw badFlag(name, integerRange(min), value);
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
