// Serving a dashboard handler on a free loopback port, and plain HTTP requests against it
// (node:http, so tests can set any header, Host and Origin included).
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DashboardHandler } from "../../src/dashboard/index.js";

export interface Served {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `handler` (under `mount`, a path prefix the server strips like a framework would, when given). */
export async function serve(handler: DashboardHandler, mount?: string): Promise<Served> {
  const server: Server = createServer((req, res) => {
    if (mount !== undefined) {
      const url = req.url ?? "/";
      if (!url.startsWith(mount)) {
        res.writeHead(404).end();
        return;
      }
      Object.assign(req, { originalUrl: url, url: url.slice(mount.length) || "/" });
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request; `form` is sent URL-encoded. */
export function http(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    form?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const body =
    options.form === undefined ? undefined : new URLSearchParams(options.form).toString();
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) {
    headers["content-type"] ??= "application/x-www-form-urlencoded";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? (body === undefined ? "GET" : "POST"), headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The hidden inputs of the first form whose button has `data-action="<action>"` and, if given, `name=value`. */
export function formFields(
  page: string,
  action: string,
  match?: [string, string],
): Record<string, string> {
  for (const form of page.matchAll(
    /<form class="inline" method="post" action="([^"]*)">([\s\S]*?)<\/form>/g,
  )) {
    const inner = form[2]!;
    if (!inner.includes(`data-action="${action}"`)) continue;
    const fields: Record<string, string> = {};
    for (const input of inner.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
      fields[unescapeHtml(input[1]!)] = unescapeHtml(input[2]!);
    if (match !== undefined && fields[match[0]] !== match[1]) continue;
    return fields;
  }
  assert.fail(
    `no ${action} form${match === undefined ? "" : ` for ${match.join("=")}`} on the page`,
  );
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}
