/**
 * Headless Chromium for the dashboard's browser test: Debian's `chromium`
 * package, installed with apt-get when missing (as root), driven by
 * playwright-core pointed at that executable (no browser download).
 * {@link chromiumAvailability} resolves to the executable, or to why there is
 * none: only a machine without apt-get is a reason to skip; anything else
 * that keeps Chromium away is reported as a failure by the caller.
 */
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The Debian package. */
export const CHROMIUM_PACKAGE = "chromium";
/** Where Debian's package puts the browser, in the order looked for. */
const EXECUTABLES = ["chromium", "chromium-browser"];
/** How long to wait for another apt-get/dpkg (a concurrent install) to release its lock. */
const APT_LOCK_TIMEOUT_S = 300;

export type ChromiumAvailability =
  | { executable: string }
  /** `skip`: no apt-get on this machine (the one case the test skips); else the install failed. */
  | { reason: string; skip: boolean };

async function which(command: string): Promise<string | null> {
  try {
    const { stdout } = await run("sh", ["-c", `command -v ${command}`]);
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

async function findExecutable(): Promise<string | null> {
  for (const name of EXECUTABLES) {
    const path = await which(name);
    if (path !== null) return path;
  }
  return null;
}

/** Installs Debian's Chromium with apt-get when it is missing. */
export async function ensureChromiumInstalled(
  log: (line: string) => void = () => {},
): Promise<ChromiumAvailability> {
  const found = await findExecutable();
  if (found !== null) return { executable: found };
  const manual = `apt-get install -y --no-install-recommends ${CHROMIUM_PACKAGE}`;
  if ((await which("apt-get")) === null)
    return {
      reason: `Chromium is not installed and there is no apt-get: install Debian's "${CHROMIUM_PACKAGE}" package (or any Chromium as "chromium" on PATH) to run the browser test`,
      skip: true,
    };
  if (process.getuid?.() !== 0)
    return {
      reason: `Chromium is not installed and this is not root: run \`${manual}\` as root`,
      skip: false,
    };
  log(`installing ${CHROMIUM_PACKAGE} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lock = `-o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`;
  // Whoever comes second (another test process) finds it installed and installs nothing.
  const script =
    `command -v ${EXECUTABLES[0]} >/dev/null || ` +
    `{ apt-get ${lock} update -qq && apt-get ${lock} install -y -qq --no-install-recommends ${CHROMIUM_PACKAGE}; }`;
  try {
    await run("flock", [join(tmpdir(), "taquba-chromium-install.lock"), "sh", "-c", script], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    return {
      reason: `Chromium is not installed and \`${manual}\` failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`,
      skip: false,
    };
  }
  const installed = await findExecutable();
  return installed !== null
    ? { executable: installed }
    : { reason: "Chromium is still missing after apt-get installed it", skip: false };
}
