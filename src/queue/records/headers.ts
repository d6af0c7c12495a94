/** Job headers as stored in log records and checkpoints. */
import type { ByteReader, ByteWriter } from "../binary.js";
import type { Headers } from "../state.js";

/** Header map as count + key/value strings (shared with the checkpoint format). */
export function writeHeaders(w: ByteWriter, headers: Headers): void {
  const keys = Object.keys(headers);
  w.varint(keys.length);
  for (const key of keys) {
    w.string(key);
    w.string(headers[key]!);
  }
}

export function readHeaders(r: ByteReader): Headers {
  const count = r.varint();
  const headers: Record<string, string> = Object.create(null);
  for (let i = 0; i < count; i++) {
    const key = r.string();
    headers[key] = r.string();
  }
  return headers;
}
