// Which compiled test files (build/test/**/*.test.js) the runner runs.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/**
 * The test files at `path` (itself if a file, else every `*.test.js` under
 * it, sorted), without those under `root`/build/test whose source
 * (`root`/test/… .test.ts) is gone: tsc does not delete the output of a
 * removed or renamed source, and such a file would still run, against
 * modules built since. `notice` gets one line for each one skipped.
 */
export function testFilesUnder(
  path: string,
  root: string,
  notice: (line: string) => void,
): string[] {
  const files = statSync(path).isDirectory()
    ? readdirSync(path, { recursive: true })
        .map((name) => join(path, String(name)))
        .filter((file) => file.endsWith(".test.js"))
        .sort()
    : [path];
  const build = join(root, "build");
  return files.filter((file) => {
    const inBuild = relative(build, file);
    if (!inBuild.startsWith(`test${sep}`) || !inBuild.endsWith(".test.js")) return true;
    const source = inBuild.replace(/\.js$/, ".ts");
    if (existsSync(join(root, source))) return true;
    const shown = (p: string) => p.split(sep).join("/");
    notice(`skipped build/${shown(inBuild)}: no ${shown(source)} (left by an earlier build)`);
    return false;
  });
}
