import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dashboard } from "../../../src/dashboard/index.js";
import { silentLogger } from "../../../src/logger.js";
import { Queue } from "../../../src/queue/queue.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { mustClaim } from "../../queue/helpers.js";
import { formFields, http, serve } from "../helpers.js";

describe("dashboard job page", () => {
  it("returns from a removal or cancel on a job's own page to its queue, not to a page now gone", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      flushIntervalMs: 0,
    });
    const dead = await queue.enqueue("q", "dead", { maxAttempts: 1 });
    await queue.deadLetter(await mustClaim(queue, "q"), "boom");
    const pending = await queue.enqueue("q", "pending");
    const served = await serve(dashboard(queue, { logger: silentLogger }));
    try {
      for (const [id, action, state] of [
        [dead, "remove", "dead"],
        [pending, "cancel", "pending"],
      ] as const) {
        const page = (await http(`${served.url}/job?id=${id}`)).body;
        const done = await http(`${served.url}/action`, { form: formFields(page, action) });
        assert.equal(done.status, 303, done.body);
        const location = new URL(String(done.headers.location), served.url);
        assert.equal(location.pathname, "/queue", action);
        assert.equal(location.searchParams.get("name"), "q", action);
        assert.equal(location.searchParams.get("state"), state, action);
        const back = await http(location.href);
        assert.equal(back.status, 200, action);
        assert.match(back.body, new RegExp(`<div class="notice" role="status">Job ${id} was`));
        assert.equal(await queue.getJob(id), null);
      }
    } finally {
      await served.close();
      await queue.close();
    }
  });
});
