import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startExample } from "../../examples/prometheus.js";

describe("the Prometheus example", { timeout: 60_000 }, () => {
  it("serves the queue's metrics in Prometheus text format", async () => {
    const example = await startExample(0);
    try {
      await example.worked;
      await example.queue.flush();
      const response = await fetch(example.url);
      assert.equal(response.status, 200);
      const text = await response.text();
      const sample = (name: string, labels: string): number => {
        const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}`));
        assert.ok(line !== undefined, `no ${name}{${labels}...} in:\n${text}`);
        return Number(line.slice(line.lastIndexOf(" ") + 1));
      };
      assert.equal(sample("taquba_jobs_enqueued_total", 'queue="emails",path="example"'), 10);
      assert.equal(sample("taquba_jobs_claimed_total", 'queue="emails",path="example"'), 10);
      assert.equal(sample("taquba_jobs_completed_total", 'queue="emails",path="example"'), 9);
      assert.equal(sample("taquba_jobs_dead_lettered_total", 'queue="emails",path="example"'), 1);
      assert.equal(sample("taquba_job_wait_count", 'queue="emails",path="example"'), 10);
      assert.equal(
        sample("taquba_job_duration_count", 'queue="emails",path="example",outcome="completed"'),
        9,
      );
      assert.equal(sample("taquba_queue_depth", 'queue="emails",path="example",state="dead"'), 1);
      assert.equal(
        sample("taquba_queue_depth", 'queue="emails",path="example",state="pending"'),
        0,
      );
      const puts = example.queue.storeRequests().counts.put;
      assert.equal(
        sample("taquba_store_requests_total", 'queue="*",path="example",kind="put"'),
        puts,
      );
      assert.ok(
        sample("taquba_store_request_cost_total", 'queue="*",path="example",kind="put"') > 0,
      );
    } finally {
      await example.stop();
    }
  });
});
