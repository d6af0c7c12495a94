import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  listAll,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
} from "../../src/store/types.js";

/** A store under test and how to dispose of it. */
export interface StoreUnderTest {
  store: ObjectStore;
  cleanup?: () => Promise<void>;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
/** Escapes `text` for a RegExp. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);
/** Asserts `call` rejects with an InvalidArgumentError whose message is `Expected \`arg\`` + `rest`. */
async function refuses(call: Promise<unknown>, arg: string, rest: RegExp): Promise<void> {
  await assert.rejects(call, (error) => {
    assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error}`);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, /^Expected `[^`]+`( of .+?)? to be .+, got /);
    assert.ok(error.message.startsWith(`Expected \`${arg}\``), error.message);
    assert.match(error.message.slice(`Expected \`${arg}\``.length), rest);
    return true;
  });
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Keys with characters that need care in URLs, paths or sorting; all must round-trip. */
export const UNUSUAL_KEY_SEGMENTS = [
  "with space",
  "100%",
  "%2F",
  "%41",
  "hash#tag",
  "c:d",
  "a+b=c",
  "semi;colon,comma",
  "quote'and\"double",
  "q?x=1&y=2",
  "star*",
  "<angle>|pipe",
  "~tilde",
  ".leading-dot",
  "..double",
  "trailing.",
  "UPPER",
  "ümlaut",
  "日本語",
  "emoji😀",
  "\uff01fullwidth",
  "tab\tin",
];

/**
 * Register the object-store conformance suite for one adapter. Every case
 * works under its own random key prefix, so the store may be shared and
 * non-empty (real buckets).
 */
export function runStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`${name} conformance`, { timeout: 120_000 }, () => {
    let subject: StoreUnderTest;
    let store: ObjectStore;
    const runId = randomUUID().slice(0, 8);
    let caseNumber = 0;
    /** A prefix no other case (or run) uses. */
    const freshPrefix = (): string => `conformance-${runId}/${++caseNumber}/`;

    before(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    after(async () => {
      await subject?.cleanup?.();
    });

    it("put then get returns the body; head and etags agree", async () => {
      const key = `${freshPrefix()}object`;
      await store.put(key, bytes("hello"));
      const got = await store.get(key);
      assert.ok(got !== null);
      assert.equal(text(got.body), "hello");
      assert.ok(got.body instanceof Uint8Array);
      if (got.etag !== undefined) assert.ok(got.etag.length > 0, "etag must not be empty");
      if (store.head !== undefined) {
        const info = await store.head(key);
        assert.equal(info?.key, key);
        assert.equal(info?.size, 5);
        if (got.etag !== undefined) assert.equal(info?.etag, got.etag);
      }
      await store.put(key, bytes("world"));
      const again = await store.get(key);
      if (got.etag !== undefined) assert.notEqual(again?.etag, got.etag, "etag must change");
    });

    it("stores a copy: mutating the caller's buffer afterwards changes nothing", async () => {
      const key = `${freshPrefix()}copy`;
      const body = bytes("original");
      await store.put(key, body);
      body.fill(0);
      assert.equal(text((await store.get(key))?.body), "original");
    });

    it("put without a condition overwrites", async () => {
      const key = `${freshPrefix()}object`;
      await store.put(key, bytes("first"));
      await store.put(key, bytes("second, longer"));
      assert.equal(text((await store.get(key))?.body), "second, longer");
      await store.put(key, bytes("3"));
      assert.equal(text((await store.get(key))?.body), "3");
    });

    it("create-if-absent fails on an existing key and keeps the first body", async () => {
      const key = `${freshPrefix()}object`;
      await store.put(key, bytes("first"), { ifNoneMatch: "*" });
      await assert.rejects(store.put(key, bytes("second"), { ifNoneMatch: "*" }), (err) => {
        assert.ok(err instanceof ObjectExistsError, `expected ObjectExistsError, got ${err}`);
        assert.equal(err.key, key);
        return true;
      });
      assert.equal(text((await store.get(key))?.body), "first");
      // An overwritten key still exists; a deleted one can be created again.
      await store.put(key, bytes("overwritten"));
      await assert.rejects(store.put(key, bytes("x"), { ifNoneMatch: "*" }), ObjectExistsError);
      await store.delete(key);
      await store.put(key, bytes("recreated"), { ifNoneMatch: "*" });
      assert.equal(text((await store.get(key))?.body), "recreated");
    });

    it("create race: of 16 concurrent creates exactly one wins and its body is stored", async () => {
      const key = `${freshPrefix()}contended`;
      const bodies = Array.from({ length: 16 }, (_, i) =>
        bytes(`writer ${i} ${"x".repeat(i * 97)}`),
      );
      const results = await Promise.allSettled(
        bodies.map((body) => store.put(key, body, { ifNoneMatch: "*" })),
      );
      const winners = results.flatMap((result, i) => (result.status === "fulfilled" ? [i] : []));
      assert.equal(winners.length, 1, `exactly one create must win, got ${winners.length}`);
      for (const result of results)
        if (result.status === "rejected")
          assert.ok(result.reason instanceof ObjectExistsError, `loser got ${result.reason}`);
      assert.deepEqual((await store.get(key))?.body, bodies[winners[0]!]);
    });

    it("delete removes an object and is idempotent", async () => {
      const prefix = freshPrefix();
      await store.put(`${prefix}gone`, bytes("x"));
      await store.put(`${prefix}kept`, bytes("y"));
      await store.delete(`${prefix}gone`);
      assert.equal(await store.get(`${prefix}gone`), null);
      if (store.head) assert.equal(await store.head(`${prefix}gone`), null);
      await store.delete(`${prefix}gone`);
      await store.delete(`${prefix}never-existed`);
      await store.delete(`${prefix}no/such/folder`);
      assert.deepEqual(
        (await listAll(store, prefix)).map((o) => o.key),
        [`${prefix}kept`],
      );
    });

    it("missing keys read as null and list as empty", async () => {
      const prefix = freshPrefix();
      assert.equal(await store.get(`${prefix}missing`), null);
      assert.equal(await store.get(`${prefix}missing/deeper`), null);
      if (store.head) assert.equal(await store.head(`${prefix}missing`), null);
      const page = await store.list(prefix);
      assert.deepEqual(page.objects, []);
      assert.equal(page.nextStartAfter, undefined);
    });

    it("lists in byte-wise order with sizes, including keys that are also folders", async () => {
      const prefix = freshPrefix();
      const suffixes = [
        "a",
        "a/b",
        "a/b/c",
        "a-b",
        "a0",
        "a.b",
        "A",
        "B/x",
        "z",
        "~",
        "é",
        "\uff01",
        "😀",
        "x/😀",
        "x/\uff01",
        ...UNUSUAL_KEY_SEGMENTS.map((segment) => `u/${segment}`),
      ];
      const keys = suffixes.map((suffix) => prefix + suffix);
      // Write in a scrambled order so the store cannot rely on insertion order.
      const scrambled = [...keys].sort(
        (a, b) => ((a.length * 7919) % 13) - ((b.length * 7919) % 13),
      );
      await Promise.all(scrambled.map((key, i) => store.put(key, bytes("x".repeat(i)))));
      const listed = await listAll(store, prefix);
      assert.deepEqual(
        listed.map((o) => o.key),
        [...keys].sort(byteOrder),
      );
      for (const object of listed)
        assert.equal(object.size, scrambled.indexOf(object.key), `size of ${object.key}`);
    });

    it("lists by plain string prefix, not only at folder boundaries", async () => {
      const prefix = freshPrefix();
      for (const suffix of ["p/a", "p/ab", "p/abc", "p/abd/x", "p/abd/y/z", "p/ac", "pq", "p/a/b"])
        await store.put(prefix + suffix, bytes(suffix));
      const keysUnder = async (sub: string): Promise<string[]> =>
        (await listAll(store, prefix + sub)).map((o) => o.key.slice(prefix.length));
      assert.deepEqual(await keysUnder("p/ab"), ["p/ab", "p/abc", "p/abd/x", "p/abd/y/z"]);
      assert.deepEqual(await keysUnder("p/abd/"), ["p/abd/x", "p/abd/y/z"]);
      assert.deepEqual(await keysUnder("p/abd/y"), ["p/abd/y/z"]);
      assert.deepEqual(await keysUnder("p"), [
        "p/a",
        "p/a/b",
        "p/ab",
        "p/abc",
        "p/abd/x",
        "p/abd/y/z",
        "p/ac",
        "pq",
      ]);
      assert.deepEqual(await keysUnder("p/a/"), ["p/a/b"]);
      assert.deepEqual(await keysUnder("p/abcd"), []);
      assert.deepEqual(await keysUnder("nothing"), []);
    });

    it("paginates with limit and startAfter without duplicates or gaps", async () => {
      const prefix = freshPrefix();
      const keys: string[] = [];
      for (let i = 0; i < 23; i++)
        keys.push(`${prefix}${i % 3 === 0 ? `d${i}/` : ""}k${String(i).padStart(2, "0")}`);
      await Promise.all(keys.map((key) => store.put(key, bytes(key))));
      const expected = [...keys].sort(byteOrder);

      const collect = async (limit: number, startAfter?: string): Promise<string[]> => {
        const seen: string[] = [];
        let cursor = startAfter;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.list(prefix, {
            limit,
            ...(cursor === undefined ? {} : { startAfter: cursor }),
          });
          assert.ok(page.objects.length <= limit, `page of ${page.objects.length} > ${limit}`);
          seen.push(...page.objects.map((o: ObjectInfo) => o.key));
          if (page.nextStartAfter === undefined) return seen;
          cursor = page.nextStartAfter;
        }
        assert.fail("pagination did not terminate");
      };

      for (const limit of [1, 4, 7, 23, 1000]) assert.deepEqual(await collect(limit), expected);
      // Resume after an existing key, after a non-existent one, before the prefix, after the end.
      assert.deepEqual(await collect(5, expected[9]), expected.slice(10));
      const between = `${expected[3]}~`;
      assert.deepEqual(
        await collect(3, between),
        expected.filter((key) => byteOrder(key, between) > 0),
      );
      assert.deepEqual(await collect(6, prefix.slice(0, -1)), expected);
      assert.deepEqual(await collect(6, `${prefix}\u{10ffff}`), []);
      // startAfter inside a folder resumes inside it.
      const insideFolder = `${prefix}d0/`;
      assert.deepEqual(
        await collect(2, insideFolder),
        expected.filter((key) => byteOrder(key, insideFolder) > 0),
      );
    });

    it("paginates in byte order where UTF-16 order differs (astral vs U+E000..U+FFFF)", async () => {
      const prefix = freshPrefix();
      // "！" (U+FF01) comes before "😀" (U+1F600) in UTF-8 bytes, after it in UTF-16 units.
      const suffixes = ["😀a", "😀b", "😀c", "！a", "！b", "！c", "a", "\ue000"];
      await Promise.all(suffixes.map((suffix) => store.put(prefix + suffix, bytes(suffix))));
      const expected = suffixes.map((suffix) => prefix + suffix).sort(byteOrder);
      for (const limit of [1, 2, 4]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 20 && (pages === 0 || cursor !== undefined); pages++) {
          const page = await store.list(prefix, {
            limit,
            ...(cursor === undefined ? {} : { startAfter: cursor }),
          });
          seen.push(...page.objects.map((o) => o.key));
          cursor = page.nextStartAfter;
        }
        assert.deepEqual(seen, expected, `limit ${limit}`);
      }
    });

    it("round-trips a large (8 MiB) object", async () => {
      const key = `${freshPrefix()}large`;
      const body = new Uint8Array(randomBytes(8 * 1024 * 1024));
      await store.put(key, body);
      const got = await store.get(key);
      assert.equal(got?.body.byteLength, body.byteLength);
      assert.ok(Buffer.from(got!.body).equals(Buffer.from(body)), "large body differs");
      assert.equal((await listAll(store, key))[0]?.size, body.byteLength);
    });

    it("stores zero-byte objects", async () => {
      const prefix = freshPrefix();
      await store.put(`${prefix}empty`, new Uint8Array(0));
      await store.put(`${prefix}empty-created`, new Uint8Array(0), { ifNoneMatch: "*" });
      const got = await store.get(`${prefix}empty`);
      assert.ok(got !== null, "an empty object exists");
      assert.equal(got.body.byteLength, 0);
      if (store.head) assert.equal((await store.head(`${prefix}empty`))?.size, 0);
      await assert.rejects(
        store.put(`${prefix}empty-created`, new Uint8Array(0), { ifNoneMatch: "*" }),
        ObjectExistsError,
      );
      assert.deepEqual(
        (await listAll(store, prefix)).map((o) => [o.key, o.size]),
        [
          [`${prefix}empty`, 0],
          [`${prefix}empty-created`, 0],
        ],
      );
    });

    it("refuses bad arguments with the same InvalidArgumentError as every store, storing nothing", async () => {
      const prefix = freshPrefix();
      const bad = (value: unknown) => value as never;
      for (const call of [
        () => store.get(""),
        () => store.put("", bytes("x")),
        () => store.delete(""),
        ...(store.head === undefined ? [] : [() => store.head!("")]),
      ])
        await refuses(call(), "key", /^ to be a non-empty string, got ""$/);
      await refuses(store.get(bad(5)), "key", /^ to be a non-empty string, got 5$/);
      const key = `${prefix}body`;
      const quoted = JSON.stringify(key);
      await refuses(
        store.put(key, bad("text")),
        "body",
        new RegExp(`^ of put ${literal(quoted)} to be a Uint8Array, got "text"$`),
      );
      await refuses(
        store.put(key, bad([1, 2])),
        "body",
        /^ of put .+ to be a Uint8Array, got an array$/,
      );
      const detached = new Uint8Array(4);
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      await refuses(
        store.put(key, detached, { ifNoneMatch: "*" }),
        "body",
        /^ of put .+ to be a Uint8Array with an attached buffer, got one whose buffer was transferred or detached$/,
      );
      assert.equal(await store.get(key), null, "a refused put stores nothing");
      await refuses(store.list(bad(5)), "prefix", /^ of list to be a string, got 5$/);
      await refuses(
        store.list(bad(undefined)),
        "prefix",
        /^ of list to be a string, got undefined$/,
      );
      for (const [limit, got] of [
        [0, "0"],
        [-1, "-1"],
        [0.5, "0.5"],
        [Number.NaN, "NaN"],
        ["5", '"5"'],
      ] as const)
        await refuses(
          store.list(prefix, { limit: bad(limit) }),
          "options.limit",
          new RegExp(`^ of list to be a number ≥ 1, got ${literal(got)}$`),
        );
      await refuses(
        store.list(prefix, { startAfter: bad(5) }),
        "options.startAfter",
        /^ of list to be a string, got 5$/,
      );
      // Fractions are rounded down; past the store's page size, a page is the store's size.
      await store.put(`${prefix}a`, bytes("a"));
      await store.put(`${prefix}b`, bytes("b"));
      assert.equal((await store.list(prefix, { limit: 1.5 })).objects.length, 1);
      assert.equal(
        (await store.list(prefix, { limit: Number.POSITIVE_INFINITY })).objects.length,
        2,
      );
    });

    it("round-trips keys with spaces, unicode, %, #, :, +, = and other unusual characters", async () => {
      const prefix = freshPrefix();
      for (const segment of UNUSUAL_KEY_SEGMENTS) {
        const key = `${prefix}${segment}/${segment}`;
        await store.put(key, bytes(segment));
        assert.equal(text((await store.get(key))?.body), segment, `get ${key}`);
        if (store.head) assert.equal((await store.head(key))?.size, bytes(segment).byteLength);
        assert.deepEqual(
          (await listAll(store, `${prefix}${segment}/`)).map((o) => o.key),
          [key],
          `list ${key}`,
        );
        await assert.rejects(
          store.put(key, bytes("again"), { ifNoneMatch: "*" }),
          ObjectExistsError,
        );
        await store.delete(key);
        assert.equal(await store.get(key), null, `deleted ${key}`);
      }
    });
  });
}
