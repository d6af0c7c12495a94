import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sleep } from "../lib/process.js";

const run = promisify(execFile);

/** A server this process started; `stop()` shuts it down and removes its data. */
export interface RunningServer {
  name: string;
  version: string;
  url: string;
  stop(): Promise<void>;
}

const POSTGRES_ROOT = "/usr/lib/postgresql";

/** The newest installed PostgreSQL's bin directory, if any. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(POSTGRES_ROOT)) return undefined;
  const versions = readdirSync(POSTGRES_ROOT)
    .filter((v) => existsSync(join(POSTGRES_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(POSTGRES_ROOT, versions[0], "bin");
}

async function onPath(command: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

/** Install Debian's redis-server and postgresql when either is missing (needs root). */
export async function ensureServerPackages(log: (line: string) => void): Promise<void> {
  const missing: string[] = [];
  if (!(await onPath("redis-server"))) missing.push("redis-server");
  if (postgresBinDir() === undefined) missing.push("postgresql");
  if (missing.length === 0) return;
  log(`installing ${missing.join(", ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], { env, maxBuffer: 64 * 1024 * 1024 });
  await run("apt-get", ["install", "-y", "-qq", ...missing], { env, maxBuffer: 64 * 1024 * 1024 });
}

/** Resolve once a TCP connection to 127.0.0.1:port succeeds (or reject after `timeoutMs`). */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

/**
 * Redis on 127.0.0.1 in a temp directory, durable the way BullMQ's docs
 * recommend for production: AOF on, fsync every second, no RDB snapshots.
 */
export async function startRedis(port: number): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-redis-"));
  const { stdout } = await run("redis-server", ["--version"]);
  const version = /v=([0-9.]+)/.exec(stdout)?.[1] ?? stdout.trim();
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--save",
      "",
      "--daemonize",
      "no",
      "--logfile",
      join(dir, "redis.log"),
    ],
    { stdio: "ignore" },
  );
  await waitForPort(port, 10_000);
  return {
    name: "redis",
    version,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * PostgreSQL on 127.0.0.1 in a temp cluster with initdb's defaults (fsync on,
 * synchronous_commit on, full_page_writes on). As root, the cluster runs as the
 * `postgres` system user, since PostgreSQL refuses to run as root.
 */
export async function startPostgres(
  port: number,
  databases: readonly string[],
): Promise<RunningServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error("PostgreSQL is not installed");
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), "taquba-pg-"));
  if (asRoot) {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args], { cwd: "/" })
      : run(join(bin, tool), args);
  const data = join(dir, "data");
  try {
    await pg("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-instructions",
    ]);
    await pg("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "postgres.log"),
      "-o",
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`,
      "-w",
      "start",
    ]);
  } catch (error) {
    // The port may be taken (a server left over from a killed run): leave no temp cluster behind.
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = async (): Promise<void> => {
    await pg("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const psql = (sql: string) =>
      run(join(bin, "psql"), [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-Atc",
        sql,
      ]);
    const version = (await psql("show server_version")).stdout.trim();
    for (const db of databases) await psql(`create database ${db}`);
    return { name: "postgres", version, url: `postgres://postgres@127.0.0.1:${port}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
