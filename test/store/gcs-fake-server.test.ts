// GcsStore with the real client library against a small fake of the GCS JSON API on a local
// HTTP server: listing pages, media downloads, multipart uploads with `ifGenerationMatch=0`,
// deletes and metadata reads. No GCS emulator installable here honours `ifGenerationMatch`, so
// this is what runs the conformance suite over the client library's request paths the store
// uses (`Bucket.request` to list, `File.createReadStream` to read), with answers shaped like
// the service's: `kind`, `items` left out when empty, `x-goog-generation` and `x-goog-hash`.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CRC32C, Storage } from "@google-cloud/storage";
import { GcsStore } from "../../src/store/gcs.js";
import { runStoreConformance } from "./conformance.js";

interface FakeObject {
  body: Buffer;
  generation: number;
}

const BUCKET = "jobs";

/** The object resource GCS answers with. */
function resource(name: string, object: FakeObject): Record<string, unknown> {
  const crc = new CRC32C();
  crc.update(object.body);
  return {
    kind: "storage#object",
    bucket: BUCKET,
    name,
    generation: String(object.generation),
    metageneration: "1",
    size: String(object.body.length),
    etag: `CG${object.generation}=`,
    contentType: "application/octet-stream",
    md5Hash: createHash("md5").update(object.body).digest("base64"),
    crc32c: crc.toString(),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, reason: string, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ reason, message }] } });
}

/** The metadata and media parts of a `multipart/related` upload. */
function parseMultipart(
  req: IncomingMessage,
  body: Buffer,
): { meta: { name?: string }; media: Buffer } {
  const boundary = /boundary="?([^";]+)"?/.exec(req.headers["content-type"] ?? "")?.[1];
  if (boundary === undefined) throw new Error("no multipart boundary");
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    parts.push(body.subarray(start, next));
    at = next;
  }
  const content = (part: Buffer): Buffer => {
    const headerEnd = part.indexOf("\r\n\r\n");
    // The part runs from after its headers to the CRLF before the next delimiter.
    return part.subarray(headerEnd + 4, part.length - 2);
  };
  const [meta, media] = parts;
  if (meta === undefined || media === undefined) throw new Error("expected two parts");
  return { meta: JSON.parse(content(meta).toString()) as { name?: string }, media: content(media) };
}

/** A fake GCS JSON API holding one bucket in memory. */
function fakeGcs(): { handle: (req: IncomingMessage, res: ServerResponse) => void } {
  const objects = new Map<string, FakeObject>();
  let generation = 1_700_000_000_000_000;
  const byteOrder = (a: string, b: string): number =>
    Buffer.compare(Buffer.from(a), Buffer.from(b));

  const list = (url: URL, res: ServerResponse): void => {
    const prefix = url.searchParams.get("prefix") ?? "";
    const startOffset = url.searchParams.get("startOffset");
    const pageToken = url.searchParams.get("pageToken");
    const maxResults = Number(url.searchParams.get("maxResults") ?? "1000");
    const names = [...objects.keys()]
      .filter((name) => name.startsWith(prefix))
      .filter((name) => startOffset === null || byteOrder(name, startOffset) >= 0)
      .filter((name) => pageToken === null || byteOrder(name, pageToken) > 0)
      .sort(byteOrder);
    const page = names.slice(0, maxResults);
    const last = page.at(-1);
    sendJson(res, 200, {
      kind: "storage#objects",
      // GCS leaves `items` out of an empty page.
      ...(page.length === 0
        ? {}
        : { items: page.map((name) => resource(name, objects.get(name) as FakeObject)) }),
      ...(names.length > page.length && last !== undefined ? { nextPageToken: last } : {}),
    });
  };

  const upload = (req: IncomingMessage, url: URL, body: Buffer, res: ServerResponse): void => {
    const { meta, media } = parseMultipart(req, body);
    const name = url.searchParams.get("name") ?? meta.name;
    if (name === undefined) {
      sendError(res, 400, "required", "Required object name");
      return;
    }
    const match = url.searchParams.get("ifGenerationMatch");
    const existing = objects.get(name);
    if (match !== null && String(existing?.generation ?? 0) !== match) {
      const message = "At least one of the pre-conditions you specified did not hold.";
      sendError(res, 412, "conditionNotMet", message);
      return;
    }
    const object = { body: Buffer.from(media), generation: ++generation };
    objects.set(name, object);
    sendJson(res, 200, resource(name, object));
  };

  const onObject = (req: IncomingMessage, url: URL, name: string, res: ServerResponse): void => {
    const object = objects.get(name);
    if (object === undefined) {
      sendError(res, 404, "notFound", `No such object: ${BUCKET}/${name}`);
      return;
    }
    if (req.method === "DELETE") {
      objects.delete(name);
      res.writeHead(204);
      res.end();
      return;
    }
    if (url.searchParams.get("alt") !== "media") {
      sendJson(res, 200, resource(name, object));
      return;
    }
    const meta = resource(name, object);
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(object.body.length),
      "x-goog-generation": String(object.generation),
      "x-goog-metageneration": "1",
      "x-goog-stored-content-length": String(object.body.length),
      "x-goog-stored-content-encoding": "identity",
      "x-goog-hash": `crc32c=${meta.crc32c as string},md5=${meta.md5Hash as string}`,
      etag: meta.etag as string,
    });
    res.end(object.body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        const url = new URL(req.url ?? "/", "http://fake");
        const path = url.pathname;
        const object = /\/b\/([^/]+)\/o\/(.+)$/.exec(path);
        if (/\/upload\/storage\/v1\/b\/[^/]+\/o$/.test(path) && req.method === "POST")
          upload(req, url, Buffer.concat(chunks), res);
        else if (/\/b\/[^/]+\/o$/.test(path) && req.method === "GET") list(url, res);
        else if (object !== null && object[2] !== undefined)
          onObject(req, url, decodeURIComponent(object[2]), res);
        else sendError(res, 400, "invalid", `unexpected ${req.method} ${path}`);
      } catch (err) {
        sendError(res, 500, "backendError", String(err));
      }
    });
  };
  return { handle };
}

runStoreConformance("GcsStore (client library) on a fake GCS JSON API", async () => {
  const fake = fakeGcs();
  const server = createServer(fake.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    store: new GcsStore({
      bucket: BUCKET,
      prefix: "suite",
      client: new Storage({ apiEndpoint: endpoint, projectId: "offline" }),
    }),
    cleanup: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
});
