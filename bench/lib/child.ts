import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** Start `node [nodeArgs] script args` with stdout piped and stderr passed through. */
export function spawnNode(
  script: URL,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, fileURLToPath(script), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
}

/** Resolve with everything the child printed once it printed `marker` on a line of its own. */
export function waitForLine(child: ChildProcess, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.split("\n").includes(marker)) {
        child.stdout?.off("data", onData);
        child.off("exit", onExit);
        resolve(output);
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      reject(new Error(`child exited (code ${code}, signal ${signal}) before printing ${marker}`));
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

/** Run a child to completion (killed after `timeoutMs` if > 0); reject on a non-zero exit. Returns its stdout. */
export async function runNode(
  script: URL,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  timeoutMs = 0,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const child = spawnNode(script, args, nodeArgs, env);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const timer = timeoutMs > 0 ? setTimeout(() => child.kill("SIGKILL"), timeoutMs) : undefined;
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  clearTimeout(timer);
  if (code !== 0)
    throw new Error(
      `${fileURLToPath(script)} ${args.join(" ")} failed (code ${code}, signal ${signal})`,
    );
  return output;
}

/** Kill a child with SIGKILL and wait until it is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/** Wait for a child to exit by itself. */
export async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, "exit");
}
