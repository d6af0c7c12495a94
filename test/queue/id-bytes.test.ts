/**
 * The binary form of job ids: `writeIdBytesIfUlid` agrees with a plain
 * bit-by-bit parse on canonical ids and refuses every other string (a char
 * outside the alphabet at any place, lower case, a code of 128 or more, a
 * first digit over 7, another length), and canonical ids compare as strings
 * the way their bytes do (what a transaction's check relies on).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DIGITS } from "../../src/queue/id-parse.js";
import { isUlid, readIdBytes, writeIdBytes, writeIdBytesIfUlid } from "../../src/queue/ids.js";
import { seededRandom } from "../../src/util/random.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The 16 bytes of canonical id `id`, a bit at a time; null when it is not one. */
function reference(id: string): Uint8Array | null {
  if (id.length !== 26) return null;
  const digits = Array.from(id, (c) => ALPHABET.indexOf(c));
  if (digits.some((d) => d < 0) || digits[0]! > 7) return null;
  const bits = digits.map((d, i) => d.toString(2).padStart(i === 0 ? 3 : 5, "0")).join("");
  const out = new Uint8Array(16);
  for (let k = 0; k < 16; k++) out[k] = Number.parseInt(bits.slice(8 * k, 8 * k + 8), 2);
  return out;
}

function randomId(r: () => number): string {
  let id = ALPHABET[Math.floor(r() * 8)]!;
  for (let i = 1; i < 26; i++) id += ALPHABET[Math.floor(r() * 32)]!;
  return id;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return 0;
}

describe("job ids as bytes", () => {
  it("parses canonical ids as a bit-by-bit parse does, at any offset", () => {
    const r = seededRandom(12);
    const ids = ["00000000000000000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"];
    for (let n = 0; n < 2_000; n++) ids.push(randomId(r));
    const out = new Uint8Array(40);
    for (const id of ids) {
      const at = Math.floor(r() * 24);
      assert.ok(writeIdBytesIfUlid(id, out, at), id);
      assert.deepEqual(out.subarray(at, at + 16), reference(id), id);
      const plain = new Uint8Array(16);
      writeIdBytes(id, plain, 0);
      assert.deepEqual(plain, reference(id), id);
      assert.equal(readIdBytes(plain, 0), id);
    }
  });

  it("refuses a string that is no canonical id, whichever char is wrong", () => {
    const r = seededRandom(13);
    const bad = [
      "I",
      "L",
      "O",
      "U",
      "a",
      "z",
      "-",
      "~",
      " ",
      "\u0080",
      "\u00b0",
      "\u00e9",
      "\u0130",
      "\uffff",
    ];
    const out = new Uint8Array(16);
    for (let n = 0; n < 500; n++) {
      const id = randomId(r);
      const at = Math.floor(r() * 26);
      const wrong = `${id.slice(0, at)}${bad[n % bad.length]}${id.slice(at + 1)}`;
      assert.equal(reference(wrong), null);
      assert.equal(writeIdBytesIfUlid(wrong, out, 0), false, JSON.stringify(wrong));
    }
    for (const first of "89ABCDEFGHJKMNPQRSTVWXYZ")
      assert.equal(writeIdBytesIfUlid(`${first}${randomId(r).slice(1)}`, out, 0), false, first);
    for (const id of ["", "0", randomId(r).slice(1), `${randomId(r)}0`])
      assert.equal(writeIdBytesIfUlid(id, out, 0), false, id);
  });

  it("orders canonical ids as strings the way it orders their bytes", () => {
    const r = seededRandom(14);
    const a = new Uint8Array(16);
    const b = new Uint8Array(16);
    for (let n = 0; n < 2_000; n++) {
      const x = randomId(r);
      // Often equal up to some place, as the ids of one writer are.
      const cut = Math.floor(r() * 27);
      const y = `${x.slice(0, cut)}${randomId(r).slice(cut)}`.slice(0, 26);
      const ys = cut === 0 ? y : `${x.slice(0, cut)}${y.slice(cut)}`;
      writeIdBytes(x, a, 0);
      writeIdBytes(ys, b, 0);
      assert.equal(x > ys, compareBytes(a, b) > 0, `${x} ${ys}`);
      assert.equal(x === ys, compareBytes(a, b) === 0);
    }
  });
});

describe("the digit table", () => {
  it("cannot be written, so no code can make a non-digit parse as one", () => {
    const table = DIGITS as number[];
    assert.throws(() => {
      table["a".charCodeAt(0)] = 10;
    }, TypeError);
    assert.equal(isUlid("01arz3ndektsv4rrffq69g5fav"), false);
    assert.equal(DIGITS["a".charCodeAt(0)], -1);
  });
});
