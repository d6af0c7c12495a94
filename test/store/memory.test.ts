// The conformance suite carries its own timeout (see conformance.ts), so a hang fails.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore } from "../../src/store/memory.js";
import { runStoreConformance } from "./conformance.js";

runStoreConformance("MemoryStore", async () => ({ store: new MemoryStore() }));

describe("MemoryStore copies of large bodies", () => {
  it("a put and a get of a few megabytes give the event loop a turn and keep every byte", async () => {
    const store = new MemoryStore();
    const body = new Uint8Array(2 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const turned = (): { ran: boolean } => {
      const flag = { ran: false };
      setImmediate(() => {
        flag.ran = true;
      });
      return flag;
    };
    const beforePut = turned();
    await store.put("big", body);
    assert.ok(beforePut.ran, "the put let a turn of the event loop run");
    body[0] = 0xff; // the stored copy is not the caller's buffer
    const beforeGet = turned();
    const got = await store.get("big");
    assert.ok(beforeGet.ran, "the get let a turn of the event loop run");
    assert.equal(got?.body.length, body.length);
    body[0] = 0;
    assert.ok(Buffer.from(got!.body).equals(Buffer.from(body)));
  });
});
