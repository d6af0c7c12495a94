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

/** Splits a `Host` header into its lower-case name (IPv6 without brackets) and port ("" when none). */
export function splitHost(host: string): { name: string; port: string } {
  const value = host.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) return { name: value, port: "" };
    const rest = value.slice(end + 1);
    return { name: value.slice(1, end), port: rest.startsWith(":") ? rest.slice(1) : "" };
  }
  const colon = value.lastIndexOf(":");
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon < 0 || value.indexOf(":") !== colon) return { name: value, port: "" };
  return { name: value.slice(0, colon), port: value.slice(colon + 1) };
}

/** Whether `name` (as {@link splitHost} gives it) is this machine's loopback. */
function isLoopbackName(name: string): boolean {
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const v4 = name.startsWith("::ffff:") ? name.slice(7) : name;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** An address as `splitHost` names it: IPv4-mapped IPv6 as plain IPv4, lower case. */
function addressName(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".") ? lower.slice(7) : lower;
}

/**
 * Whether the request's `Host` may be answered. With `allowed` (entries as
 * `name` for any port or `name:port`, IPv6 in brackets; `"*"` for any host):
 * only those. Without: a loopback name (`localhost`, `*.localhost`,
 * `127.x.x.x`, `[::1]`) or the address the request arrived on, as an IP
 * literal. A DNS-rebinding page reaches the dashboard under the attacker's
 * own host name, which neither list holds.
 */
export function hostAllowed(req: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const host = header(req, "host");
  if (host === undefined || host === "") return false;
  const { name, port } = splitHost(host);
  if (allowed !== undefined) {
    for (const entry of allowed) {
      if (entry === "*") return true;
      const want = splitHost(entry);
      if (want.name === name && (want.port === "" || want.port === port)) return true;
    }
    return false;
  }
  if (isLoopbackName(name)) return true;
  const local = addressName(req.socket?.localAddress);
  return local !== undefined && local === addressName(name);
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
