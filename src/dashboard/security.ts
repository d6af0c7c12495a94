/**
 * The dashboard's protections: the per-dashboard action token (random, made
 * when the dashboard is created, carried by every form), the same-origin check
 * on state-changing requests, the response headers (a Content-Security-Policy
 * that allows no script at all), and reading a small form body.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Largest form body accepted (the forms carry an id, a queue name and the token). */
const MAX_BODY_BYTES = 8_192;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
});

/** A fresh action token. */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/** Whether `given` is the token, compared in constant time. */
export function tokenMatches(token: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Why a state-changing request is refused as cross-site, or null when it is
 * not: a browser's `Sec-Fetch-Site` must be same-origin (or none, typed by
 * the user), and an `Origin` must be this host.
 */
export function crossSiteReason(req: IncomingMessage): string | null {
  const site = header(req, "sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return `Sec-Fetch-Site is "${site}"`;
  const origin = header(req, "origin");
  if (origin !== undefined) {
    const host = header(req, "host");
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (host === undefined || originHost !== host) return `Origin ${origin} is not this host`;
  }
  return null;
}

/** Whether the request's Host is one of `allowed` (no list: any host). */
export function hostAllowed(req: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined) return true;
  const host = header(req, "host")?.toLowerCase();
  return host !== undefined && allowed.includes(host);
}

/** The URL-encoded form in the request body, or null when it is too large or not a form. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const type = header(req, "content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** Sends a complete response with the security headers. */
export function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "text/html; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}
