/**
 * The S3, Azure and GCS stores over their real SDKs, pointed at a local
 * endpoint (a fake server, or a port where nothing listens), with one try per
 * call and a 5 s limit, for tests of how each store reads what comes back.
 */
import { Storage } from "@google-cloud/storage";
import { AzureBlobStore } from "../../src/store/azure.js";
import { GcsStore } from "../../src/store/gcs.js";
import { S3Store } from "../../src/store/s3.js";
import type { ObjectStore } from "../../src/store/types.js";

/** An S3Store for bucket "jobs" at `endpoint` (path style, dummy credentials). */
export function s3StoreAt(endpoint: string): ObjectStore {
  return new S3Store({
    bucket: "jobs",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "id", secretAccessKey: "secret" },
    maxAttempts: 1,
    requestTimeoutMs: 5_000,
  });
}

/** An AzureBlobStore for container "jobs" of account "acc" at `endpoint`. */
export function azureStoreAt(endpoint: string): ObjectStore {
  return new AzureBlobStore({
    container: "jobs",
    connectionString: `DefaultEndpointsProtocol=http;AccountName=acc;AccountKey=a2V5;BlobEndpoint=${endpoint}/acc;`,
    maxTries: 1,
    requestTimeoutMs: 5_000,
  });
}

/** A GcsStore for bucket "jobs" at `endpoint`, its client's own retries off. */
export function gcsStoreAt(endpoint: string): ObjectStore {
  return new GcsStore({
    bucket: "jobs",
    client: new Storage({
      apiEndpoint: endpoint,
      projectId: "offline",
      retryOptions: { autoRetry: false, maxRetries: 0 },
    }),
    timeoutMs: 5_000,
  });
}
