import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { repoRoot } from "../nodes.js";
import { http } from "./helpers.js";

const CLI = join(repoRoot(), "build", "src", "cli", "main.js");
const dirs: string[] = [];
/** Whether this machine has an IPv6 loopback address (a container may run with IPv6 off). */
const ipv6Loopback = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once("error", () => resolve(false));
  server.listen(0, "::1", () => server.close(() => resolve(true)));
});
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("taquba dashboard (CLI)", { timeout: 60_000 }, () => {
  it("serves a read-only dashboard on 127.0.0.1 without fencing the running writer, and stops on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-dashboard-cli-"));
    dirs.push(dir);
    const writer = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await writer.enqueue("emails", "hello <world>");
    const child = spawn(
      process.execPath,
      [
        CLI,
        "dashboard",
        "--store",
        dir,
        "--port",
        "0",
        "--refresh-ms",
        "1",
        "--allowed-hosts",
        "ops.example",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const match = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (match !== null) resolve(match[1]!);
        });
        let err = "";
        child.stderr.on("data", (chunk: Buffer) => {
          err += chunk.toString();
        });
        child.on("exit", (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
      });
      const home = await http(`${url}/`);
      assert.equal(home.status, 200);
      assert.match(home.body, /<span class="mode">read-only<\/span>/);
      assert.match(home.body, /emails/);
      assert.doesNotMatch(home.body, /<form/);

      // Later writes show up in the next snapshot; the writer was never fenced.
      await writer.enqueue("reports", "r1");
      await writer.flush();
      const again = await http(`${url}/`);
      assert.match(again.body, /reports/);
      assert.equal(writer.closed, false);

      // It answers loopback names and the names listed, no other (DNS rebinding).
      const port = new URL(url).port;
      assert.equal(
        (await http(`${url}/`, { headers: { host: `evil.example:${port}` } })).status,
        403,
      );
      assert.equal((await http(`${url}/`, { headers: { host: `localhost:${port}` } })).status, 200);
      assert.equal(
        (await http(`${url}/`, { headers: { host: `ops.example:${port}` } })).status,
        200,
        "--allowed-hosts adds names",
      );
      // To the loopback names and IP addresses it answers anyway, as its help says.
      for (const host of [`app.localhost:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`])
        assert.equal((await http(`${url}/`, { headers: { host } })).status, 200, host);
      const refused = await http(`${url}/`, { headers: { host: `evil.example:${port}` } });
      assert.match(refused.body, /--allowed-hosts/, "the refusal names the flag");
      const post = await http(`${url}/action`, { form: { action: "requeue", id: "x" } });
      assert.equal(post.status, 403);

      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
      await writer.close();
    }
  });

  it("stops, exit code 0, once nobody reads its output (`taquba dashboard | head -0`)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-dashboard-cli-"));
    dirs.push(dir);
    await (await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger })).close();
    const child = spawn(process.execPath, [CLI, "dashboard", "--store", dir, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The reader is gone before the line saying where it serves is written.
    child.stdout.destroy();
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
      assert.equal(signal, null, "it stopped on its own");
      assert.equal(code, 0, err);
      assert.equal(err, "");
    } finally {
      clearTimeout(timer);
    }
  });

  // Bound to every address, the URL it prints opens (0.0.0.0 or [::] as Host is refused).
  for (const [host, loopback, flags] of [
    ["0.0.0.0", "127.0.0.1", ["--allowed-hosts", "ops.example"]],
    ["0.0.0.0", "127.0.0.1", []],
    ["::", "[::1]", ["--allowed-hosts", "ops.example"]],
  ] as const)
    it(`bound to ${["--host", host, ...flags].join(" ")}, prints a loopback URL that answers`, {
      skip: host === "::" && !ipv6Loopback ? "no IPv6 loopback address here" : false,
    }, async () => {
      const dir = await mkdtemp(join(tmpdir(), "taquba-dashboard-cli-"));
      dirs.push(dir);
      await (await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger })).close();
      for (const json of [false, true]) {
        const child = spawn(
          process.execPath,
          [
            CLI,
            "dashboard",
            "--store",
            dir,
            "--port",
            "0",
            "--host",
            host,
            ...flags,
            ...(json ? ["--json"] : []),
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        try {
          const line = await new Promise<string>((resolve, reject) => {
            let out = "";
            let err = "";
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString();
              if (out.includes("\n")) resolve(out);
            });
            child.stderr.on("data", (chunk: Buffer) => {
              err += chunk.toString();
            });
            child.on("exit", (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
          });
          let url: string;
          if (json) {
            url = (JSON.parse(line) as { url: string }).url;
          } else {
            const match = /^taquba dashboard \(read-only\) at (\S+) \(bound to (\S+), /.exec(line);
            assert.ok(match !== null, line);
            url = match[1]!;
            const port = new URL(url).port;
            assert.equal(match[2], `${host === "::" ? "[::]" : host}:${port}`, "the bound address");
          }
          assert.equal(new URL(url).hostname, loopback, url);
          const page = await http(url);
          assert.equal(page.status, 200, `${url}: ${page.body}`);
        } finally {
          child.kill("SIGKILL");
        }
      }
    });

  for (const [port, expected] of [
    ["ten", /Expected `--port` to be an integer/],
    [
      "65536",
      /^taquba dashboard: Expected `--port` to be an integer from 0 to 65535, got "65536"\n$/,
    ],
  ] as const)
    it(`rejects --port ${port} as a usage error`, async () => {
      const child = spawn(process.execPath, [CLI, "dashboard", "--port", port], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 2, err);
      assert.match(err, expected);
    });

  it("a port in use is one line on stderr and exit code 1, not a stack trace", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), "taquba-dashboard-cli-"));
    dirs.push(dir);
    await (await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger })).close();
    try {
      const child = spawn(
        process.execPath,
        [CLI, "dashboard", "--store", dir, "--port", String(port)],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let err = "";
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 1, err);
      assert.match(
        err,
        new RegExp(
          `^taquba dashboard: cannot serve on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*\\n$`,
        ),
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
