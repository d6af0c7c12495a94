/**
 * Example: taquba's OpenTelemetry metrics scraped by Prometheus.
 *
 *   npm install taquba @opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus
 *
 * The PrometheusExporter is the metric reader of an OpenTelemetry MeterProvider; the queue
 * records into that provider (`telemetry.meterProvider`, or the global provider when the
 * application registered one). Here the exporter answers on the application's own HTTP
 * server at /metrics; `new PrometheusExporter({ port: 9464 })` would start its own instead.
 * An application imports from "taquba"; this file imports the source so the tests run it.
 *
 * Run it: npm run build:test && node build/examples/prometheus.js, then
 *   curl http://127.0.0.1:9464/metrics
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { MemoryStore, PermanentFailure, Queue, runWorker } from "../src/index.js";

export interface RunningExample {
  /** The scrape URL. */
  url: string;
  queue: Queue;
  /** Resolves once the example's jobs are all handled. */
  worked: Promise<void>;
  stop(): Promise<void>;
}

export async function startExample(port = 9464): Promise<RunningExample> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const queue = await Queue.open(new MemoryStore(), "example", {
    telemetry: { meterProvider, traces: false },
  });

  const server: Server = createServer((req, res) => {
    if (req.url === "/metrics") exporter.getMetricsRequestHandler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;

  // Some work to measure: ten emails, one of them to an address that cannot exist.
  for (let n = 0; n < 10; n++) await queue.enqueue("emails", `user${n}@example.com`);
  const shutdown = new AbortController();
  let handled = 0;
  const worked = runWorker(
    queue,
    "emails",
    async (job) => {
      handled += 1;
      if (handled === 10) shutdown.abort();
      if (Buffer.from(job.payload).toString() === "user7@example.com")
        throw new PermanentFailure("mailbox does not exist");
    },
    { signal: shutdown.signal, pollIntervalMs: 10 },
  );

  return {
    url: `http://127.0.0.1:${bound}/metrics`,
    queue,
    worked,
    async stop() {
      shutdown.abort();
      await worked;
      await queue.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await meterProvider.shutdown();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const example = await startExample();
  console.log(`metrics at ${example.url} (Ctrl-C to stop)`);
  process.once("SIGINT", () => void example.stop());
}
