import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { dashboard } from "../../src/dashboard/index.js";
import { type Logger, silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { http, serve } from "./helpers.js";

/** Sends `target` as the request line's target as is (no client would), and gives the status line. */
function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("close", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("dashboard request handling", () => {
  it("answers a request target it cannot parse with a 400, not a failed promise", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      flushIntervalMs: 0,
    });
    const served = await serve(dashboard(queue, { logger: silentLogger }));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      for (const target of ["http://[bad/", "http://a:99999/queue?name=x"]) {
        const reply = await rawGet(served.port, target);
        assert.match(reply, /^HTTP\/1\.1 400 /, target);
        assert.match(reply, /Expected the request target to be a path/, target);
      }
      // An unhandled rejection is reported after the turn it happened in.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await served.close();
      await queue.close();
    }
  });

  it("answers 500 when the error it logs makes the logger throw, and leaves no failed promise", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      flushIntervalMs: 0,
    });
    const fail = (): never => {
      throw new Error("the log sink is gone");
    };
    const logger: Logger = { debug: fail, info: fail, warn: fail, error: fail };
    const served = await serve(
      dashboard(queue, {
        logger,
        authorize: () => {
          throw new Error("the session store is down");
        },
      }),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      const reply = await http(`${served.url}/`);
      assert.equal(reply.status, 500);
      assert.match(reply.body, /The dashboard failed to answer/);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await served.close();
      await queue.close();
    }
  });
});
