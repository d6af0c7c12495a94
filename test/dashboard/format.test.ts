import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_PRETTY_JSON_BYTES, preview } from "../../src/dashboard/format.js";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** `head` followed by `size` bytes that are not UTF-8 (a lone continuation byte repeated). */
function textThenGarbage(head: string, size: number): Uint8Array {
  const start = utf8(head);
  const bytes = new Uint8Array(start.length + size).fill(0x80);
  bytes.set(start);
  return bytes;
}

describe("dashboard previews", () => {
  it("show short text, JSON pretty-printed on a job page, and an empty payload", () => {
    assert.deepEqual(preview(utf8("hello"), 160, false), {
      kind: "text",
      text: "hello",
      bytes: 5,
      truncated: false,
    });
    const json = preview(utf8('{"a":[1,2]}'), 65_536, true);
    assert.equal(json.kind, "json");
    assert.equal(json.text, '{\n  "a": [\n    1,\n    2\n  ]\n}');
    assert.equal(preview(new Uint8Array(0), 160, false).kind, "empty");
  });

  it("show bytes that are not UTF-8, or hold control characters, as a hex dump", () => {
    const p = preview(new Uint8Array([0xff, 0x00, 0x41]), 160, false);
    assert.equal(p.kind, "binary");
    assert.equal(p.text, "000000  ff 00 41");
    assert.equal(preview(utf8("a\u0000b"), 160, false).kind, "binary");
  });

  it("look only at the part of a large payload they show (a page of large payloads stays cheap)", () => {
    // Text up front, bytes that are not UTF-8 far past what a preview shows:
    // the preview is the text, cut, because the rest is never decoded.
    const list = preview(textThenGarbage("x".repeat(1_000), 4 * 1024 * 1024), 160, false);
    assert.equal(list.kind, "text");
    assert.equal(list.text, `${"x".repeat(160)}…`);
    assert.equal(list.truncated, true);
    assert.equal(list.bytes, 1_000 + 4 * 1024 * 1024);
    const full = preview(textThenGarbage("y".repeat(300_000), 1024 * 1024), 65_536, true);
    assert.equal(full.kind, "text");
    assert.equal(full.text, `${"y".repeat(65_536)}…`);
    assert.equal(full.truncated, true);
  });

  it("do not turn text into binary where the cut falls inside a multi-byte character", () => {
    for (let shift = 0; shift < 4; shift++) {
      const text = `${"a".repeat(shift)}${"é€😀".repeat(400)}`;
      const p = preview(utf8(text), 160, false);
      assert.equal(p.kind, "text", `shift ${shift}`);
      assert.equal(p.truncated, true);
      assert.ok(text.startsWith(p.text.slice(0, -1)), `shift ${shift}: a prefix of the text`);
      assert.ok(p.text.length >= 150 && p.text.length <= 161, `shift ${shift}: ${p.text.length}`);
    }
  });

  it("pretty-print JSON only up to MAX_PRETTY_JSON_BYTES; larger JSON is shown as its text, cut", () => {
    const small = JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => i) });
    assert.equal(preview(utf8(small), 65_536, true).kind, "json");
    const large = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => ({ i })) });
    assert.ok(large.length > MAX_PRETTY_JSON_BYTES);
    const p = preview(utf8(large), 65_536, true);
    assert.equal(p.kind, "text");
    assert.equal(p.text, `${large.slice(0, 65_536)}…`);
    assert.equal(p.truncated, true);
  });
});
