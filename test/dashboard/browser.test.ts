// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core.
// Loads every page, checks nothing outside the dashboard is requested and no script runs,
// requeues a dead job by clicking its button and sees it pending, removes another by
// clicking its button and sees it gone, and takes screenshots.
// TAQUBA_UPDATE_SCREENSHOTS=1 writes them to docs/images/ for the README.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { ManualClock } from "../../src/clock.js";
import { dashboard } from "../../src/dashboard/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { repoRoot } from "../nodes.js";
import { ensureChromiumInstalled } from "../servers/chromium.js";
import { http, type Served, serve } from "./helpers.js";

const availability = await ensureChromiumInstalled((line) =>
  process.stderr.write(`# chromium: ${line}\n`),
);
const skip = "reason" in availability && availability.skip ? availability.reason : false;
const UPDATE = process.env.TAQUBA_UPDATE_SCREENSHOTS === "1";

/**
 * A queue store that looks like a small service's: a few queues, jobs in every state, the
 * work spread over ten minutes of a manual clock so the charts have a history. `served` is
 * asked for a page after every step, which is when the dashboard samples queue depths.
 */
async function demoQueue(): Promise<{ queue: Queue; dead: string[]; served: Served }> {
  const clock = new ManualClock(Date.now() - 3_600_000);
  const queue = await Queue.open(new MemoryStore(), "app", {
    clock,
    logger: silentLogger,
    flushIntervalMs: 0,
    defaultQueueConfig: { retryBackoffBaseMs: 0, keepDoneJobsMs: 3_600_000 },
  });
  const served = await serve(dashboard(queue));
  const dead: string[] = [];
  let user = 0;
  for (let minute = 0; minute < 20; minute++) {
    const emails = Array.from({ length: 4 + ((minute * 7) % 9) }, () =>
      JSON.stringify({ to: `user${user++}@example.com`, template: "welcome" }),
    );
    await queue.enqueueBatch("emails", emails);
    await queue.enqueue(
      "thumbnails",
      JSON.stringify({ image: `uploads/${1000 + minute}.png`, width: 320 }),
    );
    for (let i = 0; i < 3 + (minute % 4); i++) {
      const claim = await queue.claim("emails");
      if (claim === null) break;
      if (minute % 4 === 1 && i === 0) {
        await queue.deadLetter(claim, `SMTP 550: mailbox unavailable`);
        dead.push(claim.id);
      } else if (i === 2) await queue.nack(claim, "SMTP 421: try again later");
      else await queue.ack(claim);
    }
    await http(`${served.url}/`);
    clock.advance(180_000);
  }
  await queue.enqueue("reports", JSON.stringify({ month: "2026-11" }), {
    runAt: clock.now() + 3_600_000,
  });
  await queue.schedule("nightly-report", {
    cron: "0 3 * * *",
    queue: "reports",
    payload: JSON.stringify({ kind: "nightly" }),
  });
  await queue.schedule("cache-warmup", { everyMs: 900_000, queue: "thumbnails", payload: "{}" });
  const running = await queue.claim("thumbnails");
  assert.ok(running);
  await queue.flush();
  return { queue, dead, served };
}

describe("dashboard in Chromium", { timeout: 180_000, skip }, () => {
  let browser: Browser;
  let queue: Queue;
  let dead: string[];
  let served: Served;
  let shots: string;
  const outside: string[] = [];
  const problems: string[] = [];

  before(async () => {
    if ("reason" in availability) assert.fail(availability.reason);
    ({ queue, dead, served } = await demoQueue());
    shots = await mkdtemp(join(tmpdir(), "taquba-dashboard-shots-"));
    browser = await chromium.launch({
      executablePath: availability.executable,
      headless: true,
      // Root in a container: Chromium's sandbox needs user namespaces it may not have.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  });

  after(async () => {
    await browser?.close();
    await served?.close();
    await queue?.close();
    if (shots !== undefined) await rm(shots, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    page.on("request", (request) => {
      if (!request.url().startsWith(served.url)) outside.push(request.url());
    });
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`${path}: console error: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`${path}: page error: ${error.message}`));
    const response = await page.goto(`${served.url}${path}`);
    assert.equal(response?.status(), 200, path);
    return page;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    const png = await page.screenshot({ fullPage: true });
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from("PNG")], `${name} is a PNG`);
    assert.ok(png.length > 10_000, `${name} shows something (${png.length} bytes)`);
    await writeFile(join(shots, `${name}.png`), png);
    if (UPDATE) {
      const dir = join(repoRoot(), "docs", "images");
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${name}.png`), png);
    }
  }

  it("loads every page, with nothing fetched from elsewhere and no script errors", async () => {
    const home = await open("/");
    assert.equal(await home.locator("h1").textContent(), "Queues");
    assert.equal(await home.locator("#queues tbody tr").count(), 3);
    assert.ok((await home.locator("figure.chart svg rect.c-done").count()) > 0);
    await screenshot(home, "dashboard-queues");
    await home.close();

    for (const state of ["pending", "scheduled", "claimed", "done", "dead"]) {
      const page = await open(`/queue?name=emails&state=${state}`);
      assert.equal(await page.locator("h1").textContent(), "emails");
      assert.equal(
        await page.locator(".tabs a.on").textContent(),
        `${state} (${(await queue.stats("emails"))[state as "dead"]})`,
      );
      await page.close();
    }

    const job = await open(`/job?id=${dead[0]}`);
    assert.match((await job.locator("h1").textContent()) ?? "", /dead$/);
    assert.match(
      (await job.locator("pre").first().textContent()) ?? "",
      /"to": "user\d+@example.com"/,
    );
    await job.close();

    const schedules = await open("/schedules");
    assert.equal(await schedules.locator("#schedules tbody tr").count(), 2);
    assert.match(
      (await schedules.locator('tr[data-schedule="nightly-report"] td.next').textContent()) ?? "",
      /03:00:00 UTC \(in /,
    );
    await schedules.close();

    const health = await open("/health");
    assert.equal(await health.locator("#epoch b").textContent(), "1");
    assert.match((await health.locator("#cost b").textContent()) ?? "", /^\$/);
    await health.close();

    assert.deepEqual(outside, [], "every request stays on the dashboard");
    assert.deepEqual(problems, []);
  });

  it("requeues a dead job by clicking its button, and the job is pending", async () => {
    const [id] = dead;
    const page = await open("/queue?name=emails&state=dead");
    const row = page.locator(`tr[data-job="${id}"]`);
    assert.equal(await row.count(), 1);
    await screenshot(page, "dashboard-dead");
    await Promise.all([
      page.waitForURL(/notice=/),
      row.locator('button[data-action="requeue"]').click(),
    ]);
    assert.match(
      (await page.locator(".notice").textContent()) ?? "",
      new RegExp(`Job ${id} was requeued`),
    );
    assert.equal(await page.locator(`tr[data-job="${id}"]`).count(), 0, "gone from the dead list");
    assert.equal((await queue.getJob(id!))?.status, "pending");

    await page.goto(`${served.url}/job?id=${id}`);
    assert.equal(await page.locator("#job .badge").first().textContent(), "pending");
    await page.close();
    assert.deepEqual(problems, []);
  });

  it("removes a dead job by clicking its Remove button, and the job is gone", async () => {
    const id = dead[dead.length - 1]!;
    const page = await open("/queue?name=emails&state=dead");
    const before = await page.locator("tr[data-job]").count();
    const row = page.locator(`tr[data-job="${id}"]`);
    assert.equal(await row.count(), 1);
    await Promise.all([
      page.waitForURL(/notice=/),
      row.locator('button[data-action="remove"]').click(),
    ]);
    assert.equal(await page.locator(".notice").textContent(), `Job ${id} was removed.`);
    assert.equal(await page.locator(`tr[data-job="${id}"]`).count(), 0);
    assert.equal(await page.locator("tr[data-job]").count(), before - 1);
    assert.equal(await queue.getJob(id), null);
    await page.close();
    assert.equal((await http(`${served.url}/job?id=${id}`)).status, 404, "its page is gone");
    assert.deepEqual(problems, []);
  });

  it("requeues every dead job with one button: its page shows progress, then the outcome", async () => {
    const count = (await queue.stats("emails")).dead;
    assert.ok(count > 0);
    const page = await open("/queue?name=emails&state=dead");
    await Promise.all([
      page.waitForURL(/\/task\?id=/),
      page.locator('button[data-action="requeue-all"]').click(),
    ]);
    assert.equal(await page.locator("h1").textContent(), "Requeue the dead jobs of emails");
    // Running: a progress bar and a refresh; ended: the outcome (the page reloads itself until then).
    await page.locator("#task-outcome").waitFor({ timeout: 30_000 });
    assert.equal(
      await page.locator("#task-outcome").textContent(),
      `Requeued ${count} dead ${count === 1 ? "job" : "jobs"} of emails.`,
    );
    assert.equal(await page.locator('meta[http-equiv="refresh"]').count(), 0);
    await Promise.all([page.waitForURL(/state=dead/), page.locator("#task-back").click()]);
    assert.equal(await page.locator("tr[data-job]").count(), 0, "no dead job left");
    assert.equal((await queue.stats("emails")).dead, 0);
    await page.close();
    assert.deepEqual(problems, []);
  });

  it("shows a flow parent waiting for its children on its page and in the scheduled list", async () => {
    const flow = await queue.enqueueFlow({
      queue: "reports",
      payload: JSON.stringify({ month: "2026-12" }),
      children: [
        { queue: "thumbnails", payload: "{}" },
        { queue: "thumbnails", payload: "{}" },
      ],
    });
    const page = await open(`/job?id=${flow.id}`);
    const fields = page.locator("#job");
    assert.equal(await fields.locator(".badge").first().textContent(), "scheduled");
    assert.match(
      (await fields.textContent()) ?? "",
      /Waits forits 2 children \(a flow parent runs once each has ended\)/,
    );
    assert.doesNotMatch((await fields.textContent()) ?? "", /Runs at/);
    await page.goto(`${served.url}/queue?name=reports&state=scheduled`);
    assert.equal(
      await page.locator(`tr[data-job="${flow.id}"] td`).nth(3).textContent(),
      "waits for 2 children",
    );
    await page.close();
    await queue.removeJob(flow.id);
    assert.deepEqual(problems, []);
  });
});
