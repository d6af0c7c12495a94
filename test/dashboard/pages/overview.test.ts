import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dashboard } from "../../../src/dashboard/index.js";
import { QUEUES_PER_PAGE } from "../../../src/dashboard/pages/overview.js";
import { silentLogger } from "../../../src/logger.js";
import { Queue } from "../../../src/queue/queue.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { http, serve } from "../helpers.js";

/** The queue names of the overview's table, in order. */
function listed(body: string): string[] {
  const table = /<table id="queues">([\s\S]*?)<\/table>/.exec(body)?.[1] ?? "";
  return [...table.matchAll(/<tr><td><a href="[^"]*">([^<]*)<\/a>/g)].map((m) => m[1]!);
}

/** The href of the page's "next" link, unescaped, or undefined. */
function nextLink(body: string): string | undefined {
  return /<a href="([^"]*)" rel="next">/.exec(body)?.[1]?.replace(/&amp;/g, "&");
}

describe("dashboard overview", { timeout: 60_000 }, () => {
  it("lists many queues a page at a time, totals over all of them", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      flushIntervalMs: 0,
    });
    const count = 2 * QUEUES_PER_PAGE + 50;
    const names = Array.from({ length: count }, (_, i) => `q-${String(i).padStart(4, "0")}`);
    await queue.transaction((tx) => {
      for (const name of names) tx.enqueue(name, "x");
    });
    const served = await serve(dashboard(queue, { logger: silentLogger }));
    try {
      const seen: string[] = [];
      let path: string | undefined = "/";
      let pages = 0;
      while (path !== undefined) {
        const reply = await http(`${served.url}${path}`);
        assert.equal(reply.status, 200);
        assert.match(reply.body, new RegExp(`<h2>${count} queues</h2>`));
        assert.match(reply.body, new RegExp(`<span class="muted">pending</span><b>${count}</b>`));
        const rows = listed(reply.body);
        assert.ok(rows.length <= QUEUES_PER_PAGE, `${rows.length} rows on one page`);
        // Pages after the first link back to it.
        const firstLink = /<a href="([^"]*)" rel="first">/.exec(reply.body)?.[1];
        assert.equal(firstLink, pages === 0 ? undefined : "/");
        seen.push(...rows);
        path = nextLink(reply.body);
        pages++;
      }
      assert.equal(pages, 3);
      assert.deepEqual(seen, names);
    } finally {
      await served.close();
      await queue.close();
    }
  });

  it("refuses an overlong `after` with a 400", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      flushIntervalMs: 0,
    });
    const served = await serve(dashboard(queue, { logger: silentLogger }));
    try {
      const reply = await http(`${served.url}/?after=${"a".repeat(5_000)}`);
      assert.equal(reply.status, 400);
      assert.match(reply.body, /Expected `after` to be at most 1024 characters, got 5000/);
    } finally {
      await served.close();
      await queue.close();
    }
  });
});
