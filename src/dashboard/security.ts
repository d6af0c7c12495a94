/**
 * The dashboard's protections: the action tokens (a fresh one for every page
 * rendered, carried by its forms, signed with a key only this dashboard holds,
 * valid for a while), the same-origin check on state-changing requests, the response headers (a Content-Security-Policy
 * that allows no script at all), and reading a small form body.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
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

/** What a token a form brought back is. */
export type TokenCheck = "valid" | "expired" | "invalid";

/**
 * Action tokens: each page gets its own, `<issued>.<nonce>.<mac>` where the
 * MAC (HMAC-SHA256 under a random key made with the dashboard) covers the
 * issue time and nonce. Nothing is stored per page; a token is accepted
 * until `ttlMs` after it was issued (monotonic time), by this dashboard only.
 */
export class ActionTokens {
  readonly #key = randomBytes(32);
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(now: () => number, ttlMs: number) {
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  /** A new token for one page. */
  issue(): string {
    const body = `${Math.floor(this.#now()).toString(36)}.${randomBytes(12).toString("base64url")}`;
    return `${body}.${this.#mac(body)}`;
  }

  check(token: string | undefined): TokenCheck {
    if (token === undefined || token.length > 200) return "invalid";
    const cut = token.lastIndexOf(".");
    if (cut < 0) return "invalid";
    const body = token.slice(0, cut);
    const expected = Buffer.from(this.#mac(body));
    const given = Buffer.from(token.slice(cut + 1));
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "invalid";
    const issued = Number.parseInt(body.slice(0, body.indexOf(".")), 36);
    const age = this.#now() - issued;
    // A token from the future cannot be made without the key; refuse it anyway.
    return age >= 0 && age <= this.#ttlMs ? "valid" : "expired";
  }

  #mac(body: string): string {
    return createHmac("sha256", this.#key).update(body).digest("base64url");
  }
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
