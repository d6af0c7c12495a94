/**
 * The CLI never tells its user to pass a library option: errors that advise
 * one (credentials, a connection string, the store probe's opt-out) say what
 * a CLI user can do instead.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { forCliUser } from "../../src/cli/library-advice.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { AZURE_ACCOUNT_URL_OPTION } from "../../src/store/azure.js";
import { loadOptionalSdk } from "../../src/store/cloud/load-sdk.js";
import { type GcsClient, GcsStore } from "../../src/store/gcs.js";
import { MemoryStore } from "../../src/store/memory.js";
import { S3Store } from "../../src/store/s3.js";
import type { ObjectStore, PutOptions } from "../../src/store/types.js";
import { cli } from "./capture.js";

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a rejection");
}

const noCredentials = (): never => {
  throw Object.assign(new Error("Could not load credentials from any providers"), {
    name: "CredentialsProviderError",
  });
};

/** A store that drops `ifNoneMatch`, so the probe refuses it. */
function ignoringConditions(): ObjectStore {
  const inner = new MemoryStore();
  return {
    get: (key) => inner.get(key),
    put: (key, body, _options?: PutOptions) => inner.put(key, body),
    delete: (key) => inner.delete(key),
    list: (prefix, options) => inner.list(prefix, options),
    describe: () => "lax://",
  };
}

describe("CLI wording of library advice", { timeout: 60_000 }, () => {
  it("no-credentials errors keep the environment variables and drop the store options", async () => {
    const s3 = await messageOf(
      new S3Store({ bucket: "b", client: { send: noCredentials } as never }).get("k"),
    );
    assert.match(s3, /pass `credentials`/);
    assert.match(
      forCliUser(s3),
      /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE\), or run with an instance role$/,
    );

    const noGoogleCredentials = (): never => {
      throw new Error("Could not load the default credentials. Browse to https://cloud.google.com");
    };
    const gcsClient: GcsClient = {
      bucket: () => ({ file: noGoogleCredentials, getFiles: noGoogleCredentials }),
    };
    const gcs = await messageOf(new GcsStore({ bucket: "b", client: gcsClient }).get("k"));
    assert.match(gcs, /pass `keyFilename` or `credentials`/);
    assert.match(
      forCliUser(gcs),
      /set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run where Application Default Credentials apply$/,
    );
    for (const message of [forCliUser(s3), forCliUser(gcs)]) assert.doesNotMatch(message, /pass/);
  });

  it("a missing SDK is to be installed where taquba is, also for a global or npx-fetched CLI", async () => {
    const notFound = Object.assign(new Error("Cannot find package '@aws-sdk/client-s3'"), {
      code: "ERR_MODULE_NOT_FOUND",
    });
    const message = await messageOf(
      loadOptionalSdk("@aws-sdk/client-s3", () => Promise.reject(notFound), "S3Store"),
    );
    assert.match(message, /run `npm install @aws-sdk\/client-s3`$/);
    // Installed in the current folder it stays out of reach of a taquba installed elsewhere.
    assert.match(
      forCliUser(message),
      /run `npm install @aws-sdk\/client-s3` in the project that has taquba installed \(`npm install -g @aws-sdk\/client-s3` for a global taquba; `npx -p taquba -p @aws-sdk\/client-s3 taquba …` for one fetched by npx\)$/,
    );
  });

  it("the store probe's refusal does not offer an option the CLI does not have", async () => {
    const message = await messageOf(
      Queue.open(ignoringConditions(), "q", { logger: silentLogger }),
    );
    assert.match(message, /allowUnsafeStore/);
    const cliMessage = forCliUser(message);
    assert.doesNotMatch(cliMessage, /allowUnsafeStore|options/);
    assert.match(
      cliMessage,
      /Use a store that supports conditional writes \(the CLI has no way to skip this check\)\.$/,
    );
  });

  it("a store URL with credentials in it, and an unknown Azure account, get no code-only advice", async () => {
    const out = await cli("stats", "--store", "s3://AKIAX:sekrit@bkt/x");
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /with credentials from the environment/);
    assert.doesNotMatch(out.stderr, /openStore|sekrit/);
    const azureHint = `check the account name in the connection string${AZURE_ACCOUNT_URL_OPTION}, and`;
    assert.equal(forCliUser(azureHint), "check the account name in the connection string, and");
  });

  it("a path the store refuses is named as the `--path` flag", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-cli-path-"));
    try {
      const out = await cli("enqueue", "q", "p", "--create", "--store", dir, "--path", "a//b");
      assert.notEqual(out.code, 0, out.stderr);
      assert.match(
        out.stderr,
        /Expected `--path` to be a path file:\/\/.* takes in its object keys/,
      );
      assert.match(out.stderr, /empty path segment/);
      assert.doesNotMatch(out.stderr, /`path`/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("az:// without a connection string names the environment variable only", async () => {
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    try {
      const out = await cli("stats", "--store", "az://jobs/q");
      assert.equal(out.code, 2, out.stderr);
      assert.match(
        out.stderr,
        /needs a connection string: set AZURE_STORAGE_CONNECTION_STRING\. Supported forms/,
      );
      assert.doesNotMatch(out.stderr, /pass|\{ azure/);
    } finally {
      if (saved !== undefined) process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });
});
