import { Cron } from "croner";

type Search = "nextRun" | "nextRuns" | "previousRuns";
const SEARCHES: readonly Search[] = ["nextRun", "nextRuns", "previousRuns"];

/**
 * Runs `f`, recording the pattern of every search croner is asked for
 * meanwhile (`nextRun`, `nextRuns`, `previousRuns`, on any `Cron`), in order.
 * Nicknames show expanded, as croner keeps them. `f` is given the list as
 * it grows.
 */
export async function cronSearchesDuring<T>(
  f: (searches: readonly string[]) => T | Promise<T>,
): Promise<{ result: T; searches: string[] }> {
  const searches: string[] = [];
  const proto = Cron.prototype as unknown as Record<Search, (...args: unknown[]) => unknown>;
  const originals = new Map(SEARCHES.map((key) => [key, proto[key]] as const));
  for (const [key, original] of originals)
    proto[key] = function (this: Cron, ...args: unknown[]) {
      searches.push(this.getPattern() ?? "");
      return original.apply(this, args);
    };
  try {
    return { result: await f(searches), searches };
  } finally {
    for (const [key, original] of originals) proto[key] = original;
  }
}
