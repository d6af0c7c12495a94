import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundledNode22 } from "../nodes.js";
import { startChildServer } from "./child-server.js";

const ACCOUNT = "taquba";
const INSTALL_HINT =
  "install the test servers and the Node 22 they need with `npm run test:install`";

/** A running Azurite blob service for tests. */
export interface AzuriteServer {
  /** `http://127.0.0.1:<port>/taquba` */
  blobEndpoint: string;
  /** The account name (`taquba`). */
  accountName: string;
  /** A random key made for this server, so tests can check it never leaks. */
  accountKey: string;
  connectionString: string;
  stop(): Promise<void>;
}

/** The test-servers package folder (`test/servers`), found from build/test/servers or test/servers. */
function serversPackageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "test", "servers");
    if (existsSync(join(candidate, "package.json"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the test/servers package: ${INSTALL_HINT}`);
}

/** Azurite needs Node >= 22: the Node 22 of test/node22, or this Node if new enough. */
function nodeForAzurite(): string {
  const bundled = bundledNode22();
  if (bundled !== undefined) return bundled;
  if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
  throw new Error(
    `no Node >= 22 to run azurite (this is Node ${process.version}): ${INSTALL_HINT}`,
  );
}

/**
 * Start Azurite's blob service on 127.0.0.1 with a free port, in memory.
 * Throws with install instructions when the test servers are not installed:
 * tests that need Azurite fail rather than skip.
 */
export async function startAzurite(): Promise<AzuriteServer> {
  const packageDir = serversPackageDir();
  const main = join(packageDir, "node_modules", "azurite", "dist", "src", "blob", "main.js");
  if (!existsSync(main)) throw new Error(`azurite is not installed: ${INSTALL_HINT}`);
  const accountKey = randomBytes(32).toString("base64");
  const server = await startChildServer({
    name: "azurite",
    executable: nodeForAzurite(),
    args: [
      main,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      "0",
      "--inMemoryPersistence",
      "--extentMemoryLimit",
      "1024",
      "--skipApiVersionCheck",
      "--disableTelemetry",
    ],
    readyPattern: /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/,
    env: { AZURITE_ACCOUNTS: `${ACCOUNT}:${accountKey}` },
  });
  const blobEndpoint = `http://127.0.0.1:${server.port}/${ACCOUNT}`;
  return {
    blobEndpoint,
    accountName: ACCOUNT,
    accountKey,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${accountKey};` +
      `BlobEndpoint=${blobEndpoint};`,
    stop: server.stop,
  };
}
