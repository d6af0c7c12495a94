/**
 * The CLI's argument errors: one style ("Expected `--flag` to be …, got …")
 * naming the flag, exit code 2, no error code in front, and nothing written.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-errors-");
after(temp.removeAll);
const storeDir = temp.make;

/** A usage error of `command`: exit 2, one line in the common style, nothing on stdout. */
function assertUsage(
  out: { code: number; stdout: string; stderr: string },
  command: string,
  message: RegExp,
): void {
  assert.equal(out.code, 2, out.stderr);
  assert.equal(out.stdout, "");
  assert.match(out.stderr, new RegExp(`^taquba ${command}: Expected `));
  assert.match(out.stderr, message);
  assert.doesNotMatch(out.stderr, /INVALID_ARGUMENT|Unknown option|ambiguous|S3Store/);
  assert.equal(out.stderr.trimEnd().split("\n").length, 1, out.stderr);
}

describe("taquba CLI argument errors", { timeout: 60_000 }, () => {
  it("a value out of range is named by its flag, without an error code, exit 2", async () => {
    const dir = await storeDir();
    const write = ["--take-over", "--store", dir];
    assertUsage(
      await cli("enqueue", "q", "p", "--max-attempts", "0", ...write),
      "enqueue",
      /^taquba enqueue: Expected `--max-attempts` to be an integer from 1 to \d+, got 0$/m,
    );
    assertUsage(await cli("enqueue", "", "p", ...write), "enqueue", /Expected `<queue>` to be/);
    assert.deepEqual(await new FileStore(dir).list(""), { objects: [] }, "nothing written");
  });

  it("a negative number after a flag is its value, and the flag's check says what is wrong", async () => {
    const dir = await storeDir();
    const write = ["--take-over", "--store", dir];
    assertUsage(
      await cli("enqueue", "q", "p", "--max-attempts", "-1", ...write),
      "enqueue",
      /Expected `--max-attempts` to be an integer from 1 to \d+, got -1$/m,
    );
    assertUsage(
      await cli("enqueue", "q", "p", "--priority", "-5", ...write),
      "enqueue",
      /Expected `--priority` to be an integer from 0 to \d+, got -5$/m,
    );
    assertUsage(
      await cli("dead", "q", "--limit", "-1", "--store", dir),
      "dead",
      /Expected `--limit` to be a positive integer, got "-1"$/m,
    );
    // A page of none is refused as `jobs` refuses it, and `requeue --all` opens no writer for it.
    for (const args of [["dead", "q"], ["dead"], ["requeue", "--all", "q", "--take-over"]])
      assertUsage(
        await cli(...args, "--limit", "0", "--store", dir),
        args[0]!,
        /Expected `--limit` to be a positive integer, got "0"$/m,
      );
    // After "--" nothing is an option: "-1" stays a positional argument.
    assertUsage(
      await cli("dead", "--store", dir, "--", "q", "-1"),
      "dead",
      /Expected <queue>, got 2 argument/,
    );
    assert.deepEqual(await new FileStore(dir).list(""), { objects: [] }, "nothing written");
  });

  it("a cursor that is not one taquba jobs printed is named as --cursor, not as the API's option", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("q", "a");
    await queue.close();
    const before = await new FileStore(dir).list("");
    assertUsage(
      await cli("jobs", "q", "--status", "pending", "--cursor", "bogus", "--store", dir),
      "jobs",
      /^taquba jobs: Expected `--cursor` to be the value after "next: --cursor" of a previous `taquba jobs q --status pending`, got "bogus"$/m,
    );
    assert.deepEqual(await new FileStore(dir).list(""), before, "nothing written");
  });

  it("parse errors name the flag in the common style", async () => {
    const dir = await storeDir();
    assertUsage(
      await cli("dead", "q", "--bogus", "--store", dir),
      "dead",
      /Expected one of the options .*--limit <value>.*, got "--bogus"/,
    );
    assertUsage(
      await cli("dead", "q", "--store", dir, "--limit"),
      "dead",
      /Expected `--limit` to be followed by its value, got nothing$/m,
    );
    assertUsage(
      await cli("dead", "q", "--limit", "--json", "--store", dir),
      "dead",
      /Expected `--limit` to be followed by its value, got "--json" \(for a value that starts with "-", write --limit=<value>\)$/m,
    );
    assertUsage(
      await cli("dead", "q", "--json=yes", "--store", dir),
      "dead",
      /Expected `--json` to be given without a value, got "--json=yes"$/m,
    );
  });

  it("integer flags take plain safe integers only", async () => {
    const dir = await storeDir();
    assertUsage(
      await cli("dead", "q", "--limit", "99999999999999999999", "--store", dir),
      "dead",
      /Expected `--limit` to be an integer from 1 to 9007199254740991, got "99999999999999999999"$/m,
    );
    for (const value of ["1e3", "0x10", "", " 5", "2.0"])
      assertUsage(
        await cli("dead", "q", `--limit=${value}`, "--store", dir),
        "dead",
        /Expected `--limit` to be a positive integer/,
      );
    assertUsage(
      await cli("demo", "--jobs", "9007199254740992"),
      "demo",
      /Expected `--jobs` to be an integer from 1 to 9007199254740991, got "9007199254740992"$/m,
    );
  });

  it("a bad --store URL is named as --store, without its query values", async () => {
    assertUsage(
      await cli("stats", "--store", "s3://bucket/p?endpoint=not-a-url"),
      "stats",
      /^taquba stats: Expected `--store` to be a store URL, got "s3:\/\/bucket\/p\?endpoint=…": .*endpoint.*"not-a-url"/m,
    );
    assertUsage(
      await cli("queues", "--store", "ftp://host/x"),
      "queues",
      /Expected `--store` to be a store URL, got "ftp:\/\/host\/x": unknown scheme "ftp:"/,
    );
    const secret = await cli("stats", "--store", "s3://b/p?token=hunter2&endpoint=nope");
    assert.doesNotMatch(secret.stderr, /hunter2/);
  });

  it("a refusal the library words is one sentence: one `Expected`, not one inside another", async () => {
    const once = (out: { stderr: string }): void =>
      assert.equal(out.stderr.match(/Expected/g)?.length, 1, out.stderr);
    const empty = await cli("stats", "--store", "");
    assertUsage(
      empty,
      "stats",
      /^taquba stats: Expected `--store` to be a store URL \(a non-empty string\), got ""\. Supported forms: /,
    );
    once(empty);
    const unknown = await cli("stats", "--store", "ftp://host/x");
    assertUsage(
      unknown,
      "stats",
      /got "ftp:\/\/host\/x": unknown scheme "ftp:"\. Supported forms: /,
    );
    once(unknown);
    const dir = await storeDir();
    const long = "x".repeat(300);
    const longName = await cli("stats", "--store", `${pathToFileURL(dir).href}/${long}`);
    assertUsage(
      longName,
      "stats",
      /^taquba stats: Expected `--store` to be a store URL, got "file:.*": expected its `directory` to be a path whose names are at most 255 bytes each, got a name of 300 bytes: "x+…"$/m,
    );
    once(longName);
    once(await cli("stats", "--store", join(dir, long)));
    // A path the store refuses a key under (whichever of the open's first requests asks first):
    // wrapped once, the store's words on lower-case.
    const longPath = await cli("stats", "--store", dir, "--path", long);
    assertUsage(
      longPath,
      "stats",
      /^taquba stats: Expected `--path` to be a path file:.* takes in its object keys \(it refused one under it: expected `key` of \w+ to be short enough for a file name, got "x+\/[a-z-]+\/"\), got "x+…"$/m,
    );
    once(longPath);
  });

  it('a --store URL with a "." or ".." path segment is refused, not resolved to another prefix', async () => {
    for (const url of [
      "s3://bucket/a/../b?token=hunter2",
      "gs://bucket/%2e%2e",
      "file:///tmp/q/./x",
    ]) {
      const out = await cli("stats", "--store", url);
      assertUsage(
        out,
        "stats",
        /^taquba stats: Expected `--store` to be a store URL, got ".*": its path has a "\.\.?" segment, which the URL parser resolves away/,
      );
      assert.doesNotMatch(out.stderr, /hunter2/);
    }
  });

  it('a --store URL whose endpoint has a "." or ".." path segment is refused, naming `endpoint`', async () => {
    for (const url of [
      "s3://bucket/p?endpoint=http://127.0.0.1:9000/a/../b",
      "s3://bucket/p?endpoint=http%3A%2F%2Fh%2F%2e%2e%2Fb&region=x",
      "gs://bucket/p?endpoint=http://h/./b",
    ]) {
      const out = await cli("stats", "--store", url);
      assertUsage(
        out,
        "stats",
        /^taquba stats: Expected `--store` to be a store URL, got "[a-z0-9]+:\/\/bucket\/p\?[^"]*endpoint=…[^"]*": its `endpoint` has a "\.\.?" path segment/,
      );
    }
  });

  it("a --store directory with `=`, `@` or `;` in its path is shown as it is", async () => {
    const dir = join(await storeDir(), "tenant=a;b@c", "queue");
    const out = await cli("stats", "--store", dir);
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /^taquba stats: no taquba queue store at --path "taquba" in --store /);
    assert.ok(out.stderr.includes(` in --store ${JSON.stringify(dir)}`), out.stderr);
  });

  it("a malformed AZURE_STORAGE_CONNECTION_STRING is named, not printed, and not blamed on --path", async () => {
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = "AccountName=acct;AccountKey=S2VZU0VDUkVU";
    try {
      const out = await cli("stats", "--store", "az://jobs/prod");
      assertUsage(
        out,
        "stats",
        /^taquba stats: Expected `AZURE_STORAGE_CONNECTION_STRING` to be an Azure Storage connection string \(DefaultEndpointsProtocol=https;AccountName=\.\.\.;AccountKey=\.\.\.;EndpointSuffix=core\.windows\.net\), got /,
      );
      assert.doesNotMatch(out.stderr, /S2VZU0VDUkVU|--path|options\./);
    } finally {
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });
});
