/**
 * Runs a scenario of `fixtures/child.ts` in a child process and SIGKILLs it
 * once the scenario reported what it did: the parent then reopens the store
 * and checks that everything acknowledged survived.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./fixtures/child.js", import.meta.url));

/** The JSON lines the scenario printed before it was killed. */
export function runAndKill(dir: string, scenario: string, arg?: unknown): Promise<unknown[]> {
  const args = [CHILD, dir, scenario, ...(arg === undefined ? [] : [JSON.stringify(arg)])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: unknown[] = [];
  let buffered = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === "kill-me") child.kill("SIGKILL");
        else lines.push(JSON.parse(line));
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(lines);
      else reject(new Error(`child exited with ${code ?? signal} before the kill: ${stderr}`));
    });
  });
}
