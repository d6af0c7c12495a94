import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  CHECKPOINT_HEADER_BYTES,
  CRC_PIECE_BYTES,
  decodeCheckpoint,
  decodeCheckpointInSlices,
  decodeWalBatch,
  encodeCheckpoint,
  encodeWalBatch,
  sealCheckpoint,
  verifyWalBatch,
} from "../../src/log/codec.js";
import { decodeManifest, encodeManifest } from "../../src/log/manifest.js";
import { WalTail } from "../../src/log/tail.js";
import { SliceBudget } from "../../src/util/slices.js";

const token = new Uint8Array(16).fill(7);

/** An empty array whose buffer was touched has no backing store: zlib sees a NULL pointer. */
function emptyWithoutBackingStore(): Uint8Array {
  const empty = new Uint8Array(0);
  new DataView(empty.buffer);
  return empty;
}

describe("log formats", { timeout: 60_000 }, () => {
  it("WAL batches round-trip any records", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.nat(),
        (records, id) => {
          const body = encodeWalBatch(
            id,
            { epoch: 3, acknowledgedThrough: id - 1 },
            token,
            records,
          );
          assert.deepEqual(decodeWalBatch("k", id, body), records);
        },
      ),
    );
  });

  it("a WAL tail's cursor walks the records of many batches in order, skipping empty batches", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), { maxLength: 8 }),
        (batches) => {
          const verified = batches.map((records, id) =>
            verifyWalBatch(
              "k",
              id,
              encodeWalBatch(id, { epoch: 1, acknowledgedThrough: id - 1 }, token, records),
            ),
          );
          const tail = new WalTail(verified);
          const all = batches.flat();
          assert.equal(tail.count, all.length);
          assert.equal(
            tail.bytes,
            verified.reduce((sum, b) => sum + b.body.byteLength, 0),
          );
          const cursor = tail.cursor();
          const seen: Uint8Array[] = [];
          while (cursor.next()) {
            assert.equal(cursor.index, seen.length);
            seen.push(cursor.body.slice(cursor.start, cursor.end));
          }
          assert.equal(cursor.next(), false, "stays at the end");
          assert.deepEqual(seen, all);
          assert.deepEqual(tail.toArray(), all);
        },
      ),
    );
  });

  it("checkpoints round-trip any snapshot, including empty ones", () => {
    for (const snapshot of [
      new Uint8Array(0),
      emptyWithoutBackingStore(),
      new Uint8Array([1, 2]),
    ]) {
      const body = encodeCheckpoint(9, snapshot);
      assert.deepEqual(decodeCheckpoint("k", 9, body), Uint8Array.from(snapshot));
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (snapshot) => {
        assert.deepEqual(decodeCheckpoint("k", 3, encodeCheckpoint(3, snapshot)), snapshot);
      }),
    );
  });

  it("a large checkpoint is sealed and verified in slices, equal to the one-shot encoding", async () => {
    const snapshot = new Uint8Array(2 * CRC_PIECE_BYTES + 123);
    for (let i = 0; i < snapshot.length; i += 4093) snapshot[i] = i & 0xff;
    const body = new Uint8Array(CHECKPOINT_HEADER_BYTES + snapshot.length);
    body.set(snapshot, CHECKPOINT_HEADER_BYTES);
    let turns = 0;
    const between = async () => {
      turns++;
    };
    // A budget with no time: one piece of the checksum per slice.
    const none = new SliceBudget(0);
    const sealed = await sealCheckpoint(7, body, none, between);
    assert.ok(turns >= 2, `${turns} turns while checksumming`);
    assert.deepEqual(sealed, encodeCheckpoint(7, snapshot));
    turns = 0;
    assert.deepEqual(await decodeCheckpointInSlices("k", 7, sealed, none, between), snapshot);
    assert.ok(turns >= 2, `${turns} turns while verifying`);
    sealed[CHECKPOINT_HEADER_BYTES + CRC_PIECE_BYTES + 5]! ^= 0x10;
    await assert.rejects(decodeCheckpointInSlices("k", 7, sealed, none, between), {
      code: "CORRUPTION",
      message: /checksum/,
    });
  });

  it("a checkpoint's checksum yields when its slice's time is spent, not after a fixed number of bytes", async () => {
    const snapshot = new Uint8Array(1024 * 1024 + 123);
    for (let i = 0; i < snapshot.length; i += 4093) snapshot[i] = i & 0xff;
    const seal = async (budget: SliceBudget) => {
      const body = new Uint8Array(CHECKPOINT_HEADER_BYTES + snapshot.length);
      body.set(snapshot, CHECKPOINT_HEADER_BYTES);
      let turns = 0;
      const sealed = await sealCheckpoint(7, body, budget, async () => {
        turns++;
      });
      assert.deepEqual(sealed, encodeCheckpoint(7, snapshot));
      return turns;
    };
    // A slice clock that moves 1 ms at every reading: a 3 ms slice ends every few pieces.
    let t = 0;
    const slow = () => ++t;
    const turns = await seal(new SliceBudget(3, slow));
    assert.ok(turns >= 4, `1 MiB checksummed in ${turns + 1} slices`);
    // A clock that stands still: never spent, one slice however large.
    assert.equal(await seal(new SliceBudget(3, () => 0)), 0);
  });

  it("any single flipped bit is detected", () => {
    const bodies = [
      {
        body: encodeWalBatch(5, { epoch: 3, acknowledgedThrough: 4 }, token, [
          new Uint8Array([1, 2, 3]),
          new Uint8Array(0),
        ]),
        wal: true,
      },
      { body: encodeCheckpoint(5, new Uint8Array([9, 8, 7])), wal: false },
    ];
    for (const { body, wal } of bodies) {
      for (let bit = 0; bit < body.length * 8; bit++) {
        const damaged = Uint8Array.from(body);
        damaged[bit >> 3] = damaged[bit >> 3]! ^ (1 << (bit & 7));
        const decode = () =>
          wal ? decodeWalBatch("k", 5, damaged) : decodeCheckpoint("k", 5, damaged);
        assert.throws(decode, { code: "CORRUPTION", objectKey: "k" }, `bit ${bit}`);
      }
    }
  });

  it("manifests round-trip and reject damage", () => {
    const manifest = {
      epoch: 3,
      checkpoint: "00000000000000000004-01ARZ3NDEKTSV4RRFFQ69G5FAV",
      replayAfter: 4,
      writer: "ab",
      createdAt: 5,
      walWindow: 4,
      closed: false,
    };
    const body = encodeManifest(manifest);
    assert.deepEqual(decodeManifest("m", body), manifest);
    const damaged = Uint8Array.from(body);
    damaged[10] = damaged[10]! ^ 1;
    assert.throws(() => decodeManifest("m", damaged), { code: "CORRUPTION", objectKey: "m" });
    // A checkpoint that does not match replayAfter is inconsistent.
    const wrong = encodeManifest({ ...manifest, replayAfter: 5 });
    assert.throws(() => decodeManifest("m", wrong), { code: "CORRUPTION" });
  });
});
