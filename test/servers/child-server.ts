import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Generous: Azurite loads a few thousand modules before it listens, which took over 30 s on
 * a machine at load 27 (2 cores); the test files' own timeouts still catch a hang.
 */
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 3_000;

/** A server process started for a test. */
export interface ChildServer {
  /** The port it reported listening on (127.0.0.1). */
  port: number;
  /** Stop the process and remove its working directory. */
  stop(): Promise<void>;
}

export interface ChildServerSpec {
  /** For messages: "azurite", "s3rver". */
  name: string;
  executable: string;
  /** Arguments; `{dir}` is replaced by a fresh temp directory, also the working directory. */
  args: string[];
  /** Matched against the output; group 1 is the port. */
  readyPattern: RegExp;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Spawn a server, wait until it prints the port it listens on, and return a
 * handle to stop it. The process is killed if the test process exits first.
 */
export async function startChildServer(spec: ChildServerSpec): Promise<ChildServer> {
  const dir = await mkdtemp(join(tmpdir(), `taquba-${spec.name}-`));
  const child = spawn(
    spec.executable,
    spec.args.map((arg) => arg.replaceAll("{dir}", dir)),
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...spec.env } },
  );
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const stop = async (): Promise<void> => {
    process.removeListener("exit", killOnExit);
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await waitForPort(child, spec);
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function waitForPort(child: ChildProcess, spec: ChildServerSpec): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error(`${spec.name} did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = spec.readyPattern.exec(output);
      if (match) {
        cleanup();
        resolve(Number(match[1]));
      }
    };
    const onExit = (code: number | null): void =>
      fail(new Error(`${spec.name} exited (code ${code}) before listening:\n${output}`));
    const fail = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      child.off("error", fail);
      // Keep draining output so a chatty server never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", fail);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
