/**
 * Child process of the takeover benchmark: opens the queue and enqueues as fast
 * as it can (many enqueues in flight, so every WAL slot fills as soon as the
 * store allows) until a write fails, then prints "failed <code>" and exits.
 * Prints "opened" once writing, and "acked <n>" every 100 acknowledgements.
 * Usage: busy-writer <store url> <queue path> <enqueues in flight>
 * (credentials from the environment)
 */
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { openStore } from "../../src/store/open-store.js";

async function main(url: string, path: string, inFlight: number): Promise<void> {
  const queue = await Queue.open(await openStore(url), path, { logger: silentLogger });
  process.stdout.write("opened\n");
  let acked = 0;
  const produce = async (): Promise<void> => {
    for (;;) {
      await queue.enqueue("jobs", "busy");
      if (++acked % 100 === 0) process.stdout.write(`acked ${acked}\n`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, produce));
}

const [url, path = "q", inFlight = "64"] = process.argv.slice(2);
if (url !== undefined) {
  process.stdin.on("end", () => process.exit(2));
  process.stdin.resume();
  main(url, path, Number(inFlight)).catch((error: unknown) => {
    // Exit once the line is written: exiting at once drops it when the pipe is full.
    const line = `failed ${(error as { code?: string }).code ?? String(error)}\n`;
    process.stdout.write(line, () => process.exit(0));
  });
}
