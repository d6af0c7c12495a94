/**
 * `taquba/dashboard`: a web UI for a queue store, as a request handler for
 * `node:http` (and so Express, Fastify via middie, Hono's node adapter).
 * Over a live `Queue` it offers actions (requeue, cancel, remove); over a
 * `QueueReader` it is read-only. Pages are rendered on the server as plain
 * HTML with inline CSS and SVG: no script, no external resource, so it works
 * offline and under a strict Content-Security-Policy.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Clock, systemClock, withMonotonic } from "../clock.js";
import { consoleLogger, type Logger } from "../logger.js";
import type { Queue } from "../queue/queue.js";
import type { QueueReader } from "../queue/reader.js";
import { type RequestPrices, resolveRequestPrices } from "../store/request-prices.js";
import { unrefTimer } from "../util/timers.js";
import {
  checkBoolean,
  checkClock,
  checkFunction,
  checkInteger,
  checkLogger,
  checkOptionsObject,
  checkPositiveDuration,
  hasMethods,
  invalidArgument,
} from "../validate.js";
import { fail, type HandlerState, handle } from "./handler.js";
import { History } from "./history.js";
import { NoticeBoard } from "./notices.js";
import { ActionTokens } from "./security.js";
import { DashboardSource, isLiveQueue } from "./source.js";
import { TaskBoard } from "./tasks.js";

/** Options of {@link dashboard}. */
export interface DashboardOptions {
  /**
   * The path the dashboard is mounted at, e.g. `"/admin/queues"`. Without it,
   * a framework's `req.originalUrl` tells (Express), else the root.
   * @default detected, else ""
   * @example { basePath: "/admin/queues" }
   */
  basePath?: string;
  /**
   * Offer no actions even over a live `Queue`.
   * @default false
   * @example { readOnly: true }
   */
  readOnly?: boolean;
  /**
   * Called on every request before anything else; resolving `false` answers
   * 403. Put the host application's login check here.
   * @default every request is allowed
   * @example { authorize: (req) => req.headers.authorization === `Bearer ${token}` }
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * Opens a fresh `QueueReader` (reader sources): the dashboard shows a new
   * snapshot at most every `refreshMs`, on a request (no timer). The default,
   * the shown reader's own `reopen`, goes on from that snapshot: a refresh
   * lists the log's objects and reads only the WAL objects written since
   * (nothing more when nothing changed), not the checkpoint; see
   * `QueueReader.reopen` for when it reads the checkpoint again. A function
   * of your own that opens a new reader reads the checkpoint and the WAL
   * after it on every refresh, a real cost on a large store while a page
   * auto-refreshes. It gets the dashboard's
   * `logger`, for the reader's retry warnings. When it fails, the pages keep
   * showing the last snapshot (with its time), one warning is logged until a
   * refresh works again (then one info line), and it is tried again at most
   * every `refreshMs`. `null` shows the first snapshot as is, never re-reading.
   * @default the reader's own `reopen({ logger })` (the same store, path and options)
   * @example { reopen: null }
   */
  reopen?: ((options: { logger: Logger }) => Promise<QueueReader>) | null;
  /**
   * Minimum time between two snapshots of a reader source. Each costs store
   * reads: with the default `reopen`, listings of the log's objects, the
   * writer's heartbeat and the WAL objects written since the last snapshot.
   * @default 2_000
   * @example { refreshMs: 10_000 }
   */
  refreshMs?: number;
  /**
   * Width of a throughput bucket in the charts.
   * @default 60_000
   * @example { bucketMs: 10_000 }
   */
  bucketMs?: number;
  /**
   * Buckets shown in the charts (and kept in memory).
   * @default 60
   * @example { buckets: 120 }
   */
  buckets?: number;
  /**
   * Prices of store requests for the cost estimate.
   * @default S3 Standard list prices in US dollars
   * @example { requestPrices: { put: 0.0045 / 1_000, get: 0.00036 / 1_000 } }
   */
  requestPrices?: Partial<RequestPrices>;
  /**
   * The `Host` names the dashboard answers; others get 403 (a guard against
   * DNS rebinding, where another site's page reaches a dashboard on this
   * machine or network under that site's own host name). An entry is a name
   * (any port) or `name:port`, IPv6 addresses in brackets (`[::1]:3000`);
   * `"*"` answers any host (only behind a proxy that checks it). Set it to
   * the names users type when the dashboard is reached by a domain name,
   * e.g. `["queues.example.com"]`.
   * @default loopback names (`localhost`, `*.localhost`, `127.x.x.x`,
   * `[::1]`) and the IP address the request arrived on
   * @example
   * ```ts
   * app.use("/admin/queues", dashboard(queue, { allowedHosts: ["ops.example.com", "localhost"] }));
   * ```
   */
  allowedHosts?: string[];
  /**
   * Reload pages in the browser every this many seconds (0: never).
   * @default 0
   * @example { autoRefreshSeconds: 30 }
   */
  autoRefreshSeconds?: number;
  /**
   * How long a page's action token stays valid: a form older than this asks
   * for a reload instead of acting.
   * @default 3_600_000 (an hour)
   * @example { actionTokenTtlMs: 15 * 60_000 }
   */
  actionTokenTtlMs?: number;
  /**
   * Wall clock of the charts and ages (and, through its monotonic reading,
   * of the action tokens' lifetime).
   * @default the queue's clock, or the system clock for a reader
   * @example { clock: new ManualClock(Date.UTC(2030, 0, 1)) }
   */
  clock?: Clock;
  /**
   * Where unexpected failures are reported.
   * @default consoleLogger
   * @example { logger: silentLogger }
   */
  logger?: Logger;
}

/** The request handler {@link dashboard} returns. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Stops following the queue (event listeners, sampling timer). Idempotent. */
  close(): void;
}

function checkPath(value: unknown): string {
  if (
    typeof value !== "string" ||
    (value !== "" && (!value.startsWith("/") || value.includes("?")))
  )
    throw invalidArgument("options.basePath", 'a path starting with "/" (or "")', value);
  return value.replace(/\/+$/, "");
}

function checkHosts(value: unknown): string[] {
  if (!Array.isArray(value) || value.some((h) => typeof h !== "string" || h === ""))
    throw invalidArgument("options.allowedHosts", "an array of host names", value);
  return (value as string[]).map((h) => h.toLowerCase());
}

/**
 * Every option's name: a misspelt one (`readonly` for `readOnly`) would
 * otherwise be ignored, leaving actions on. Typed so the list cannot drift
 * from {@link DashboardOptions}.
 */
const OPTION_KEYS = Object.keys({
  basePath: true,
  readOnly: true,
  authorize: true,
  reopen: true,
  refreshMs: true,
  bucketMs: true,
  buckets: true,
  requestPrices: true,
  allowedHosts: true,
  autoRefreshSeconds: true,
  actionTokenTtlMs: true,
  clock: true,
  logger: true,
} satisfies Record<keyof DashboardOptions, true>);

/**
 * The shown reader's own `reopen`, when the source has one (a reader of an
 * older release has not): each refresh goes on from the snapshot shown.
 */
function readerReopen(
  source: object,
): ((options: { logger: Logger }, current: QueueReader) => Promise<QueueReader>) | undefined {
  if (typeof (source as { reopen?: unknown }).reopen !== "function") return undefined;
  return (options, current) =>
    (current as unknown as { reopen(o: { logger: Logger }): Promise<QueueReader> }).reopen(options);
}

/**
 * A request handler serving the dashboard of `source`: a live `Queue`
 * (actions allowed, protected by a same-origin check and a token each page
 * gets for its forms) or a read-only `QueueReader`. Call `close()` on it when done.
 */
export function dashboard(
  source: Queue | QueueReader,
  options: DashboardOptions = {},
): DashboardHandler {
  // By shape: a Queue of the other build (ESM vs CommonJS) is taken, and is live (see `isLiveQueue`).
  if (!hasMethods(source, ["listQueues", "stats", "getJob", "listJobs"]))
    throw invalidArgument("source", "a Queue or a QueueReader", source);
  checkOptionsObject(options, "options", OPTION_KEYS);
  const live = isLiveQueue(source);
  const clock =
    options.clock === undefined
      ? live
        ? source.clock
        : systemClock
      : checkClock(options.clock, "options.clock");
  const logger =
    options.logger === undefined ? consoleLogger : checkLogger(options.logger, "options.logger");
  const now = (): number => clock.now();
  const timed = withMonotonic(clock);
  const readOnly =
    options.readOnly === undefined ? false : checkBoolean(options.readOnly, "options.readOnly");
  const refreshMs =
    options.refreshMs === undefined
      ? 2_000
      : checkPositiveDuration(options.refreshMs, "options.refreshMs");
  const bucketMs =
    options.bucketMs === undefined
      ? 60_000
      : checkPositiveDuration(options.bucketMs, "options.bucketMs");
  const size = checkInteger(options.buckets ?? 60, "options.buckets", 2, 10_000);
  const tokenTtlMs =
    options.actionTokenTtlMs === undefined
      ? 3_600_000
      : checkPositiveDuration(options.actionTokenTtlMs, "options.actionTokenTtlMs");
  const refreshSeconds = checkInteger(
    options.autoRefreshSeconds ?? 0,
    "options.autoRefreshSeconds",
    0,
    86_400,
  );
  const authorize =
    options.authorize === undefined
      ? undefined
      : (checkFunction(
          options.authorize,
          "options.authorize",
          "a function (req) => boolean",
        ) as NonNullable<DashboardOptions["authorize"]>);
  const reopen =
    options.reopen === undefined
      ? live
        ? undefined
        : readerReopen(source)
      : options.reopen === null
        ? undefined
        : (checkFunction(
            options.reopen,
            "options.reopen",
            "a function () => Promise<QueueReader>, or null",
          ) as NonNullable<DashboardOptions["reopen"]>);
  const prices =
    options.requestPrices === undefined
      ? undefined
      : resolveRequestPrices(options.requestPrices, "options.requestPrices");
  const history = new History(bucketMs, size);
  const data = new DashboardSource(source, {
    reopen,
    refreshMs,
    logger,
    prices,
    now,
    beginRead: () => history.beginRead(),
    onSnapshot: (stats, read) => history.sample(stats, now(), true, read),
  });

  let close = (): void => {};
  let sample = async (): Promise<void> => {};
  if (live) {
    const queue = source;
    const enqueued = (e: { queue: string; at: number }): void =>
      history.count(e.queue, "enqueued", e.at);
    const completed = (e: { queue: string; at: number }): void =>
      history.count(e.queue, "completed", e.at);
    const failed = (e: { queue: string; at: number }): void =>
      history.count(e.queue, "failed", e.at);
    queue
      .on("enqueued", enqueued)
      .on("completed", completed)
      .on("retried", failed)
      .on("dead", failed);
    sample = async () => {
      if (queue.closed) return;
      const read = history.beginRead();
      history.sample(await data.allStats(), now(), false, read);
    };
    const timer = setInterval(() => void sample().catch(() => {}), bucketMs);
    unrefTimer(timer);
    close = () => {
      clearInterval(timer);
      queue
        .off("enqueued", enqueued)
        .off("completed", completed)
        .off("retried", failed)
        .off("dead", failed);
      close = () => {};
    };
  } else {
    // The first snapshot is the baseline of the done counters.
    const read = history.beginRead();
    void data.allStats().then(
      (stats) => history.sample(stats, now(), true, read),
      () => {},
    );
  }

  const state: HandlerState = {
    source: data,
    history,
    tokens: new ActionTokens(() => timed.monotonicNow(), tokenTtlMs),
    notices: new NoticeBoard(),
    tasks: new TaskBoard(),
    readOnly,
    basePath: options.basePath === undefined ? undefined : checkPath(options.basePath),
    allowedHosts: options.allowedHosts === undefined ? undefined : checkHosts(options.allowedHosts),
    authorize,
    refreshSeconds,
    now,
    sample,
    logger,
  };
  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    handle(state, req, res).catch((error: unknown) => fail(state, req, res, error));
  }) as DashboardHandler;
  handler.close = () => close();
  return handler;
}
