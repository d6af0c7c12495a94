// `npm run demo [-- options]`: the built CLI's `taquba demo`, run in this process. Builds dist/
// first only when it is missing or older than src/ (`npm ci` leaves it built).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

/** The newest modification time of the files under `dir`. */
function newestMtimeMs(dir) {
  let newest = 0;
  for (const name of readdirSync(dir, { recursive: true })) {
    newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(cli).mtimeMs;
  } catch {
    return -1;
  }
}

if (builtAt() < newestMtimeMs(join(root, "src"))) {
  process.stdout.write("Building dist/ first (src/ changed since the last build)...\n");
  const build = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
process.argv = [process.argv[0], cli, "demo", ...process.argv.slice(2)];
await import(new URL("../dist/cli/main.js", import.meta.url).href);
