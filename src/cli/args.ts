import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./io.js";

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

/** A positive integer option value. */
export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name}: expected a positive integer, got "${value}"`);
  return n;
}

/** A non-negative integer option value. */
export function nonNegativeInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name}: expected an integer ≥ 0, got "${value}"`);
  return n;
}
