import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { type DashboardHandler, dashboard } from "../../src/dashboard/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { mustClaim } from "../queue/helpers.js";
import { recordingLogger, throwingLogger } from "../recording-logger.js";
import { watchUnhandledRejections } from "../unhandled-rejections.js";
import { formFields, http, type Served, serve } from "./helpers.js";

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

/**
 * Serves the dashboard `make` builds over a queue "app" in memory and runs
 * `body` against it; then asserts no promise was left rejected, and closes both.
 */
async function withDashboard(
  make: (queue: Queue) => DashboardHandler | Promise<DashboardHandler>,
  body: (served: Served, queue: Queue) => Promise<void>,
): Promise<void> {
  const queue = await Queue.open(new MemoryStore(), "app", {
    logger: silentLogger,
    flushIntervalMs: 0,
  });
  const unhandled = watchUnhandledRejections();
  try {
    const served = await serve(await make(queue));
    try {
      await body(served, queue);
      await unhandled.check();
    } finally {
      await served.close();
    }
  } finally {
    unhandled.stop();
    await queue.close();
  }
}

describe("dashboard request handling", () => {
  it("answers a request target it cannot parse with a 400, not a failed promise", async () => {
    await withDashboard(
      (queue) => dashboard(queue, { logger: silentLogger }),
      async (served) => {
        for (const target of ["http://[bad/", "http://a:99999/queue?name=x"]) {
          const reply = await rawGet(served.port, target);
          assert.match(reply, /^HTTP\/1\.1 400 /, target);
          assert.match(reply, /Expected the request target to be a path/, target);
        }
      },
    );
  });

  it("answers 500 when the error it logs makes the logger throw, and leaves no failed promise", async () => {
    const logger = throwingLogger();
    await withDashboard(
      (queue) =>
        dashboard(queue, {
          logger,
          authorize: () => {
            throw new Error("the session store is down");
          },
        }),
      async (served) => {
        const reply = await http(`${served.url}/`);
        assert.equal(reply.status, 500);
        assert.match(reply.body, /The dashboard failed to answer/);
      },
    );
  });

  it("answers 500 for a thrown value that cannot be made a string, and logs it", async () => {
    const logger = recordingLogger();
    await withDashboard(
      (queue) =>
        dashboard(queue, {
          logger,
          authorize: () => {
            throw Object.create(null);
          },
        }),
      async (served) => {
        const reply = await http(`${served.url}/`);
        assert.equal(reply.status, 500);
        assert.match(reply.body, /The dashboard failed to answer/);
        const logged = logger.messages("error");
        assert.equal(logged.length, 1);
        assert.match(logged[0]!, /^dashboard: GET \/ failed: \[object Object\]/);
      },
    );
  });

  it("reports a bulk action stopped by a thrown value that cannot be made a string", async () => {
    const logger = recordingLogger();
    const make = async (queue: Queue) => {
      await queue.enqueue("q", "x", { maxAttempts: 1 });
      await queue.deadLetter(await mustClaim(queue, "q"), "boom");
      queue.requeueDeadJobs = () => Promise.reject(Object.create(null));
      return dashboard(queue, { logger });
    };
    await withDashboard(make, async (served) => {
      const page = (await http(`${served.url}/queue?name=q&state=dead`)).body;
      const all = await http(`${served.url}/action`, { form: formFields(page, "requeue-all") });
      assert.equal(all.status, 303);
      let outcome = "";
      for (let i = 0; i < 50 && outcome === ""; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        const task = await http(`${served.url}${String(all.headers.location)}`);
        outcome = /<div id="task-outcome"[^>]*>([^<]*)<\/div>/.exec(task.body)?.[1] ?? "";
      }
      assert.match(outcome, /Stopped by an error/);
      const logged = logger.messages("error");
      assert.equal(logged.length, 1);
      assert.match(logged[0]!, /^dashboard: requeue-all of q failed: \[object Object\]/);
    });
  });

  it("names the query parameter and what it expects in a 400, not an API option", async () => {
    const make = async (queue: Queue) => {
      await queue.enqueue("q", "x");
      return dashboard(queue, { logger: silentLogger });
    };
    await withDashboard(make, async (served) => {
      const long = "x".repeat(2_000);
      for (const [target, expected] of [
        [
          "/queue?name=q&cursor=nonsense",
          /^Expected `cursor` to be the cursor of a .*got .*nonsense/,
        ],
        [
          "/queue?name=q&state=dead&cursor=pending:1.2",
          /^Expected `cursor` to be the cursor of a /,
        ],
        [
          `/queue?name=q&cursor=${long}`,
          /^Expected `cursor` to be at most 1024 characters, got 2000/,
        ],
        [`/queue?name=${"q".repeat(300)}`, /^Expected `name` to be a queue name of /],
        [`/?after=${long}`, /^Expected `after` to be at most 1024 characters, got 2000/],
      ] as const) {
        const reply = await http(`${served.url}${target}`);
        assert.equal(reply.status, 400, target);
        const message = /<p id="error">([^<]*)<\/p>/.exec(reply.body)?.[1] ?? "";
        assert.match(message, expected, target);
        assert.doesNotMatch(message, /options\./, target);
      }
    });
  });

  it("takes an empty query parameter as absent: `?cursor=` is the first page", async () => {
    await withDashboard(
      (queue) => dashboard(queue, { logger: silentLogger }),
      async (served, queue) => {
        const id = await queue.enqueue("q", "x");
        for (const target of ["/queue?name=q&cursor=", "/queue?name=q&state=&cursor="]) {
          const reply = await http(`${served.url}${target}`);
          assert.equal(reply.status, 200, `${target}: ${reply.body}`);
          assert.match(reply.body, new RegExp(`data-job="${id}"`), target);
          assert.match(reply.body, /class="on">pending \(1\)/, target);
        }
      },
    );
  });
});
