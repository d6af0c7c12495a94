/** The TypeScript modules under a folder, for the tests that read `src/` as text. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** Every `.ts` file under `dir`, at any depth, sorted by path. */
export async function modules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await modules(path)));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}
