import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { startChildServer } from "./child-server.js";

/** A running s3rver (an S3-protocol server on the npm registry) for tests. */
export interface S3rverServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** A bucket that exists. */
  bucket: string;
  /** An access key s3rver knows (it does not verify SigV4 signatures). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

/**
 * Start s3rver on 127.0.0.1 with a free port, storing objects in a fresh temp
 * directory. It runs in its own Node process with the OpenSSL legacy provider:
 * s3rver encrypts list continuation tokens with DES, which OpenSSL 3 disables.
 */
export async function startS3rver(bucket = "taquba-test"): Promise<S3rverServer> {
  const packageJson = createRequire(import.meta.url).resolve("s3rver/package.json");
  const bin = join(dirname(packageJson), "bin", "s3rver.js");
  const server = await startChildServer({
    name: "s3rver",
    executable: process.execPath,
    args: [
      "--openssl-legacy-provider",
      bin,
      "--directory",
      "{dir}",
      "--address",
      "127.0.0.1",
      "--port",
      "0",
      "--silent",
      "--configure-bucket",
      bucket,
    ],
    readyPattern: /S3rver listening on 127\.0\.0\.1:(\d+)/,
  });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    bucket,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    stop: server.stop,
  };
}
