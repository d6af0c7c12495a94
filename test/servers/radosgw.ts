/**
 * Ceph's S3 gateway (radosgw) for tests: a throwaway single-node cluster (one
 * monitor, one OSD on memstore, i.e. in RAM, auth off) and radosgw on
 * 127.0.0.1 with free ports. Unlike the S3 emulators on the npm registry it
 * honours conditional writes (`If-None-Match: *`), so the S3 adapter's
 * fencing runs against a real server.
 *
 * The Debian packages are installed with apt-get when missing (as root); where
 * that is impossible, {@link radosgwAvailability} says why and the suites skip.
 * Every daemon is a child of the test process, stopped by its pid; a watchdog
 * process (`watchdog.ts`) kills them by pid if the test process dies without
 * stopping them, also when it was stopped by SIGTERM (`timeout`) or SIGINT.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startWatchdog, type Watchdog } from "./watchdog.js";

const run = promisify(execFile);

/** The Debian packages that bring the monitor, the OSD, radosgw and the admin tools. */
export const CEPH_PACKAGES = ["ceph-mon", "ceph-osd", "radosgw", "ceph-common"] as const;
const CEPH_TOOLS = [
  "ceph",
  "ceph-authtool",
  "monmaptool",
  "ceph-mon",
  "ceph-osd",
  "radosgw",
  "radosgw-admin",
];
const START_TIMEOUT_MS = 120_000;
/** How long to wait for another apt-get/dpkg (a concurrent install) to release its lock. */
const APT_LOCK_TIMEOUT_S = 300;

/** A running radosgw. */
export interface RadosgwServer {
  /** `http://127.0.0.1:<port>` (path-style addressing). */
  endpoint: string;
  region: "us-east-1";
  /** A user made for this server, with a random secret, so tests can check it never leaks. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** "16.2.15" */
  version: string;
  /** The radosgw process id. */
  pid: number;
  /** Stop radosgw answering (SIGSTOP): connections are accepted by the kernel, never answered. */
  freeze(): void;
  /** Let a frozen radosgw go on (SIGCONT). */
  thaw(): void;
  /** Stop every daemon by pid and remove the cluster's folder. */
  stop(): Promise<void>;
}

async function onPath(command: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

async function missingTools(): Promise<string[]> {
  const found = await Promise.all(CEPH_TOOLS.map(onPath));
  return CEPH_TOOLS.filter((_, i) => !found[i]);
}

/**
 * Install the Ceph packages with apt-get when a tool is missing. Resolves to
 * `undefined` when radosgw can run, or to the reason it cannot (not root, no
 * apt-get, the install failed), for a clear skip message.
 */
export async function ensureCephInstalled(
  log: (line: string) => void = () => {},
): Promise<string | undefined> {
  const missing = await missingTools();
  if (missing.length === 0) return undefined;
  const what = `Ceph radosgw is not installed (missing ${missing.join(", ")})`;
  const manual = `apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(" ")}`;
  if (process.getuid?.() !== 0) return `${what} and this is not root: run \`${manual}\` as root`;
  if (!(await onPath("apt-get")))
    return `${what} and there is no apt-get: install Ceph's ${CEPH_PACKAGES.join(", ")} (Debian package names)`;
  log(`installing ${CEPH_PACKAGES.join(", ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lock = `-o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`;
  // Test files that start at once each want the install: one at a time (flock), and
  // whoever comes second finds the tools there and installs nothing.
  const script =
    `${CEPH_TOOLS.map((tool) => `command -v ${tool} >/dev/null`).join(" && ")} || ` +
    `{ apt-get ${lock} update -qq && ` +
    `apt-get ${lock} install -y -qq --no-install-recommends ${CEPH_PACKAGES.join(" ")}; }`;
  try {
    await run("flock", [join(tmpdir(), "taquba-ceph-install.lock"), "sh", "-c", script], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    return `${what} and \`${manual}\` failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`;
  }
  const still = await missingTools();
  return still.length === 0
    ? undefined
    : `${what}; still missing after apt-get: ${still.join(", ")}`;
}

let availability: Promise<string | undefined> | undefined;

/** {@link ensureCephInstalled}, once per process. */
export function radosgwAvailability(): Promise<string | undefined> {
  availability ??= ensureCephInstalled((line) => process.stderr.write(`# radosgw: ${line}\n`));
  return availability;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The cluster's configuration: everything under `dir`, nothing shared with other clusters. */
function cephConfig(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
# radosgw cannot reach the monitor (error -13) without this
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
keyring = ${dir}/keyring
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id
# one OSD, objects held in RAM: a single replica is all there is
osd objectstore = memstore
memstore device bytes = 1073741824
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd max object name len = 460
osd max object namespace len = 64
# commit map changes at once instead of batching them for a second (radosgw makes ~10 at start)
paxos propose interval = 0.01
paxos min wait = 0.001
# the monitor refuses to run on a fuller disk than this; a test cluster needs little room
mon data avail crit = 1

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`;
}

/** A daemon in the foreground, as a child of this process. */
function daemon(args: string[], watchdog: Watchdog): ChildProcess {
  const child = spawn(args[0]!, args.slice(1), { stdio: "ignore" });
  if (child.pid !== undefined) watchdog.add(child.pid);
  child.unref();
  child.on("error", () => {}); // reported through the start timeout and the logs
  return child;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => child.once("exit", () => resolve()));
}

/** The cluster is throwaway (its data lives in RAM): kill at once rather than wait for a clean exit. */
async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  // Unreferenced while it runs; referenced now, so this process waits for the exit.
  child.ref();
  child.kill("SIGKILL");
  await gone;
}

/** Resolve once an HTTP request to `url` gets any answer. */
async function waitForHttp(url: string, deadline: number, daemons: ChildProcess[]): Promise<void> {
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch {
      // not listening yet
    }
    const dead = daemons.find((d) => d.exitCode !== null || d.signalCode !== null);
    if (dead !== undefined)
      throw new Error(`${dead.spawnargs[0]} exited (${dead.exitCode ?? dead.signalCode})`);
    if (performance.now() > deadline) throw new Error(`no answer from ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Start a fresh cluster and radosgw on 127.0.0.1 (≈10–15 s). Call
 * {@link radosgwAvailability} first; this throws when the tools are missing.
 */
export async function startRadosgw(): Promise<RadosgwServer> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-radosgw-"));
  const watchdog = startWatchdog();
  const daemons: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(daemons.map(stopDaemon));
    watchdog.release();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const config = join(dir, "ceph.conf");
    const fsid = randomUUID();
    await Promise.all(
      ["mon", "osd", "log", "run", "rgw"].map((sub) =>
        run("mkdir", ["-p", join(dir, sub)]).then(() => {}),
      ),
    );
    await writeFile(config, cephConfig(dir, fsid, monPort, rgwPort));
    const c = ["-c", config];
    const keyring = join(dir, "keyring");
    await run("ceph-authtool", ["--create-keyring", keyring, "--gen-key", "-n", "mon."]);
    await run("ceph-authtool", [keyring, "--gen-key", "-n", "client.admin"]);
    const monmap = join(dir, "monmap");
    await run("monmaptool", [
      "--create",
      "--addv",
      "a",
      `[v2:127.0.0.1:${monPort}]`,
      "--fsid",
      fsid,
      monmap,
    ]);
    await run("ceph-mon", [...c, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring]);
    daemons.push(daemon(["ceph-mon", ...c, "-f", "-i", "a"], watchdog));

    const osdUuid = randomUUID();
    const { stdout: osdId } = await run("ceph", [...c, "osd", "new", osdUuid], {
      timeout: 60_000,
    });
    const id = osdId.trim();
    await run("mkdir", ["-p", join(dir, "osd", id)]);
    await run("ceph-osd", [...c, "-i", id, "--mkfs", "--osd-uuid", osdUuid]);
    daemons.push(daemon(["ceph-osd", ...c, "-f", "-i", id], watchdog));
    const rgw = daemon(["radosgw", ...c, "-f", "-n", "client.rgw.a"], watchdog);
    daemons.push(rgw);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForHttp(endpoint, performance.now() + START_TIMEOUT_MS, daemons);
    const credentials = {
      accessKeyId: `taquba-${randomBytes(6).toString("hex")}`,
      secretAccessKey: randomBytes(24).toString("base64url"),
    };
    await run("radosgw-admin", [
      ...c,
      "user",
      "create",
      "--uid=taquba",
      "--display-name=taquba",
      `--access-key=${credentials.accessKeyId}`,
      `--secret-key=${credentials.secretAccessKey}`,
    ]);
    const { stdout: versionText } = await run("radosgw", ["--version"]);
    const pid = rgw.pid!;
    return {
      endpoint,
      region: "us-east-1",
      credentials,
      version: /version ([0-9.]+)/.exec(versionText)?.[1] ?? versionText.trim(),
      pid,
      freeze: () => process.kill(pid, "SIGSTOP"),
      thaw: () => process.kill(pid, "SIGCONT"),
      stop,
    };
  } catch (error) {
    const logs = await logTails(join(dir, "log"));
    await stop();
    throw new Error(`radosgw did not start: ${String(error)}${logs}`, { cause: error });
  }
}

/** The last lines of each daemon's log, for a failed start's message. */
async function logTails(folder: string): Promise<string> {
  const names = await readdir(folder).catch(() => []);
  const tails = await Promise.all(
    names.map(async (name) => {
      const text = await readFile(join(folder, name), "utf8").catch(() => "");
      const lines = text.trimEnd().split("\n").slice(-5).join("\n");
      return lines === "" ? "" : `\n--- ${name}:\n${lines}`;
    }),
  );
  return tails.join("");
}
