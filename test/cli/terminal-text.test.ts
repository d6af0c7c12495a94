import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ansiCQuoted,
  holdsC1OrFormat,
  holdsControlOrFormat,
  quoted,
  shown,
  terminalJson,
} from "../../src/cli/terminal-text.js";

/** The bidirectional and invisible format characters, each of which must never reach the terminal raw. */
const FORMAT = [
  0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067,
  0x2068, 0x2069, 0x200b, 0x2060, 0x2064, 0xfeff, 0x00ad,
].map((c) => String.fromCharCode(c));

const RAW = /[\u00ad\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;

describe("terminal text", () => {
  it("quotes a name holding a bidirectional or invisible format character, escaping it", () => {
    for (const c of FORMAT) {
      const name = `invoice${c}fdp.exe`;
      const shownName = shown(name);
      assert.doesNotMatch(shownName, RAW, JSON.stringify(shownName));
      const hex = c.charCodeAt(0).toString(16).padStart(4, "0");
      assert.equal(shownName, `"invoice\\u${hex}fdp.exe"`);
      assert.equal(JSON.parse(shownName), name, "the quoted form reads back as the name");
      assert.ok(holdsC1OrFormat(name));
    }
    // A format character above U+FFFF is escaped as its two UTF-16 units.
    assert.equal(shown("a\u{1d173}b"), '"a\\ud834\\udd73b"');
    // Text without them is shown as it is: right-to-left letters, and the joiners and tag
    // characters that Persian words and emoji sequences (a family, a region's flag) are made of.
    const persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645";
    const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
    const england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
    for (const plain of ["emails", "שלום", "مرحبا", persian, family, england]) {
      assert.equal(shown(plain), plain);
      assert.equal(holdsC1OrFormat(plain), false);
    }
    assert.equal(quoted("a\u202eb"), '"a\\u202eb"');
  });

  it("escapes them inside --json strings, which read back exactly", () => {
    const value = { name: `q${FORMAT.join("")}`, headers: { "k\u2066": "v\u2029" } };
    const text = terminalJson(value, undefined, 2);
    assert.doesNotMatch(text, RAW);
    assert.deepEqual(JSON.parse(text), value);
  });

  it("ANSI-C quotes a shell word with escapes for its control and format characters, a C1 one by code point", () => {
    assert.equal(holdsControlOrFormat("plain word"), false);
    assert.equal(holdsControlOrFormat("a\u202eb"), true);
    assert.equal(
      ansiCQuoted("it's\\\x1b[2J\u0085\u202e\u{e0001}\u200d"),
      "$'it\\'s\\\\\\x1b[2J\\u0085\\u202e\\U000e0001\u200d'",
    );
  });
});
