/** How `FileStore` maps object keys to file and directory names (and back), one path segment at a time, and the shape of an object's path. */
import { isValidSegment } from "./key-rules.js";

/**
 * How {@link FileStore} maps object keys to file names, one path segment at a
 * time, so that keys cannot escape the store's directory and every legal key
 * round-trips.
 *
 * - Bytes outside a conservative portable set (and `%` itself) are written as
 *   `%XX` of their UTF-8 encoding, like URL encoding. Non-ASCII is encoded too,
 *   so filesystems that normalise Unicode names cannot alter a key.
 * - A leading `.` is encoded, so stored names never start with `.`; names that
 *   do (the `.tmp` folder, editor droppings) are not objects.
 * - A directory holding keys under `seg/` is named `<encoded seg>%2F` (the
 *   encoding of `seg/`), so key `a` (a file) and keys under `a/` (a
 *   directory) can coexist, as they can in a bucket.
 *
 * Keys that differ only in letter case collide on case-insensitive filesystems.
 */

// Printable ASCII minus characters some filesystems reserve: " % * / : < > ? \ |
const PLAIN_CHARS = "A-Za-z0-9 !#$&'()+,\\-.;=@[\\]^_`{}~";
const PLAIN_SEGMENT = new RegExp(`^[${PLAIN_CHARS}]*$`);
const PLAIN_CHAR = new RegExp(`^[${PLAIN_CHARS}]$`);
const HEX = "0123456789ABCDEF";
const DOT = 0x2e;
/** Suffix marking a directory: the encoding of `/`. */
export const DIRECTORY_SUFFIX = "%2F";

/** File name of a key segment. */
export function encodeSegment(segment: string): string {
  if (PLAIN_SEGMENT.test(segment) && segment.charCodeAt(0) !== DOT) return segment;
  let out = "";
  const bytes = Buffer.from(segment, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte < 128 && PLAIN_CHAR.test(String.fromCharCode(byte)) && !(i === 0 && byte === DOT))
      out += String.fromCharCode(byte);
    else out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** File name of the directory holding keys under `segment + "/"`. */
export function encodeDirectory(segment: string): string {
  return encodeSegment(segment) + DIRECTORY_SUFFIX;
}

/**
 * The key piece a directory entry stands for — `seg` for an object file,
 * `seg/` for a directory — or `undefined` for names this store never writes
 * (temp folder, foreign or non-canonical files), which listings skip.
 */
export function decodeEntryName(name: string): string | undefined {
  if (name === "" || name.charCodeAt(0) === DOT) return undefined;
  // Fast path: a name without escapes is canonical exactly when every character is plain.
  if (!name.includes("%")) return PLAIN_SEGMENT.test(name) ? name : undefined;
  const isDirectory = name.endsWith(DIRECTORY_SUFFIX);
  const encoded = isDirectory ? name.slice(0, -DIRECTORY_SUFFIX.length) : name;
  const segment = encoded.includes("%") ? percentDecode(encoded) : encoded;
  if (segment === undefined || segment.includes("/") || !isValidSegment(segment)) return undefined;
  // Only the canonical spelling maps back to the same file; anything else is foreign.
  if (encodeSegment(segment) !== encoded) return undefined;
  return isDirectory ? `${segment}/` : segment;
}

function percentDecode(encoded: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const code = encoded.charCodeAt(i);
    if (code !== 0x25) {
      bytes.push(code);
      continue;
    }
    const hex = encoded.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
    bytes.push(Number.parseInt(hex, 16));
    i += 2;
  }
  // Invalid UTF-8 decodes to U+FFFD, which fails the caller's canonical-spelling check.
  return Buffer.from(bytes).toString("utf8");
}

/** Where a key's object lives: its file and the directory holding it. */
export interface ObjectPath {
  /** Directory holding the object file, relative to the root ("" for the root). */
  dir: string;
  /** Absolute path of that directory. */
  absoluteDir: string;
  /** Absolute path of the object file. */
  file: string;
}
