/**
 * How the dashboard shows values: payload and result previews (text when it
 * is printable UTF-8, pretty JSON when it parses, else a hex dump), times,
 * ages, byte sizes and money. Output is plain text; pages escape it.
 */

import { TextDecoder } from "node:util";

/**
 * Largest payload pretty-printed as JSON: parsing and re-serialising is linear
 * in the payload, so a larger one is shown as its raw text, cut, like any text.
 */
export const MAX_PRETTY_JSON_BYTES = 65_536;

/** A payload (or result) for display: its kind, and text cut to `maxChars`. */
export interface Preview {
  kind: "text" | "json" | "binary" | "empty";
  text: string;
  bytes: number;
  truncated: boolean;
}

function printable(text: string): boolean {
  // Control characters other than tab, newline and carriage return make it binary.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) return false;
  }
  return true;
}

function hexDump(bytes: Uint8Array, max: number): string {
  const shown = bytes.subarray(0, max);
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += 16) {
    const row = shown.subarray(i, i + 16);
    lines.push(
      `${i.toString(16).padStart(6, "0")}  ${[...row].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`,
    );
  }
  return lines.join("\n");
}

/**
 * The text of the first `bytes` of a payload, or `null` when they are not
 * UTF-8. A character cut at the end of the prefix is left out, not an error.
 */
function decodePrefix(bytes: Uint8Array, whole: boolean): string | null {
  try {
    // A new decoder each time: streaming keeps a cut character's bytes between calls.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: !whole });
  } catch {
    return null;
  }
}

/**
 * `bytes` for display; `pretty` formats JSON over several lines (up to
 * {@link MAX_PRETTY_JSON_BYTES}). Only as much of `bytes` as the preview
 * shows is decoded and looked at, so its cost does not grow with the
 * payload: a page of large payloads renders without stalling the queue.
 */
export function preview(bytes: Uint8Array, maxChars: number, pretty: boolean): Preview {
  if (bytes.length === 0) return { kind: "empty", text: "", bytes: 0, truncated: false };
  const json = pretty && bytes.length <= MAX_PRETTY_JSON_BYTES;
  // A UTF-8 character is at most 4 bytes: this prefix holds more than maxChars characters.
  const whole = json || bytes.length <= maxChars * 4 + 4;
  let text = decodePrefix(whole ? bytes : bytes.subarray(0, maxChars * 4 + 4), whole);
  if (text !== null && !whole) text = text.slice(0, maxChars + 1);
  if (text === null || !printable(text)) {
    const max = Math.max(16, Math.floor(maxChars / 3));
    return {
      kind: "binary",
      text: hexDump(bytes, max),
      bytes: bytes.length,
      truncated: bytes.length > max,
    };
  }
  let kind: Preview["kind"] = "text";
  const trimmed = text.trimStart();
  if (json && (trimmed.startsWith("{") || trimmed.startsWith("["))) {
    try {
      const value: unknown = JSON.parse(text);
      kind = "json";
      text = JSON.stringify(value, null, 2);
    } catch {
      // not JSON: shown as text
    }
  }
  const truncated = !whole || text.length > maxChars;
  return {
    kind,
    text: truncated ? `${text.slice(0, maxChars)}…` : text,
    bytes: bytes.length,
    truncated,
  };
}

/** A wall time as `2026-12-02 05:31:01 UTC`. */
export function time(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return "—";
  return `${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC`;
}

/** A duration as `850 ms`, `12.5 s`, `3 min 4 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`;
}

/** `at` relative to `now`: "3 min 4 s ago" or "in 12.5 s". */
export function relative(at: number | undefined | null, now: number): string {
  if (at === undefined || at === null) return "—";
  return at <= now ? `${duration(now - at)} ago` : `in ${duration(at - now)}`;
}

/** A byte count as `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A price: `$0.0123` (four significant decimals below a cent). */
export function money(amount: number): string {
  if (amount === 0) return "$0";
  if (amount < 0.01) return `$${amount.toPrecision(3)}`;
  return `$${amount.toFixed(4)}`;
}

/** Any JSON value (progress) as compact text. */
export function json(value: unknown, maxChars: number): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

/**
 * A flow parent's children not ended yet (`JobRecord.waitingChildren`), as
 * "1 child" or "3 children": such a job is scheduled with no run time, so the
 * pages say what it waits for instead.
 */
export function childCount(n: number): string {
  return n === 1 ? "1 child" : `${n} children`;
}
