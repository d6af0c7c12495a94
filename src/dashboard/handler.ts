/**
 * The dashboard's request handling: routing of pages and actions, mount-path
 * detection (plain `node:http`, or a framework that strips its mount path and
 * keeps `originalUrl`), authorization, the checks every action passes
 * (live queue, same origin, token), and the notices actions leave for the
 * page they return to.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { taqubaErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { checkListJobs } from "../queue/listing.js";
import type { JobStatus } from "../queue/types.js";
import { checkQueueName } from "../queue/validate.js";
import { messageOf } from "../util/message.js";
import { describeValue } from "../validate.js";
import type { History } from "./history.js";
import { html } from "./html.js";
import type { NoticeBoard } from "./notices.js";
import { healthPage } from "./pages/health.js";
import { jobPage } from "./pages/job.js";
import { type PageContext, page, STATES } from "./pages/layout.js";
import { overviewPage } from "./pages/overview.js";
import { queuePage } from "./pages/queue.js";
import { schedulesPage } from "./pages/schedules.js";
import { taskPage } from "./pages/task.js";
import { type ActionTokens, crossSiteReason, hostAllowed, readForm, send } from "./security.js";
import type { DashboardSource } from "./source.js";
import type { TaskBoard } from "./tasks.js";

/** Everything a request is handled with. */
export interface HandlerState {
  source: DashboardSource;
  history: History;
  /** Issues each page's action token and checks the tokens forms bring back. */
  tokens: ActionTokens;
  notices: NoticeBoard;
  /** Bulk actions running or recently ended. */
  tasks: TaskBoard;
  readOnly: boolean;
  basePath: string | undefined;
  allowedHosts: readonly string[] | undefined;
  authorize: ((req: IncomingMessage) => boolean | Promise<boolean>) | undefined;
  refreshSeconds: number;
  now: () => number;
  /** Sample depth now (live queues: before rendering, so the chart's last bucket is current). */
  sample: () => Promise<void>;
  logger: Logger;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const MAX_CURSOR_CHARS = 1_024;

/** The origin request paths are resolved against (only their path and query are used). */
const PAGE_ORIGIN = "http://dashboard.invalid";

/**
 * `target` resolved against {@link PAGE_ORIGIN}. A request line may carry any
 * target (`GET http://[bad/`), which no URL parse accepts: a 400, not a throw
 * the error page would meet again.
 */
function parseTarget(target: string): URL {
  try {
    return new URL(target, PAGE_ORIGIN);
  } catch {
    throw new HttpError(
      400,
      `Expected the request target to be a path, got ${JSON.stringify(target.slice(0, 200))}`,
    );
  }
}

/** The mount path and the path under it. */
function locate(
  req: IncomingMessage,
  basePath: string | undefined,
): { base: string; path: string; query: URLSearchParams } {
  const url = parseTarget(req.url ?? "/");
  let path = url.pathname;
  let base = "";
  if (basePath !== undefined) {
    base = basePath.replace(/\/+$/, "");
    if (base !== "" && (path === base || path.startsWith(`${base}/`)))
      path = path.slice(base.length) || "/";
  } else {
    const original = (req as { originalUrl?: unknown }).originalUrl;
    if (typeof original === "string") {
      const originalPath = parseTarget(original).pathname;
      if (originalPath !== path && originalPath.endsWith(path))
        base = originalPath.slice(0, -path.length);
      else if (path === "/" && !originalPath.endsWith("/")) base = originalPath;
    }
  }
  return { base, path, query: url.searchParams };
}

/** Query parameter `name`; an empty one (`?cursor=`, a form's blank field) is taken as absent. */
function one(query: URLSearchParams, name: string, required: true): string;
function one(query: URLSearchParams, name: string, required: false): string | undefined;
function one(query: URLSearchParams, name: string, required: boolean): string | undefined {
  const value = query.get(name) ?? "";
  if (value !== "") return value;
  if (required) throw new HttpError(400, `Expected \`${name}\` in the request`);
  return undefined;
}

/** Query parameter `name`'s `value`, unless it is longer than {@link MAX_CURSOR_CHARS} (a 400). */
function bounded(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.length > MAX_CURSOR_CHARS)
    throw new HttpError(
      400,
      `Expected \`${name}\` to be at most ${MAX_CURSOR_CHARS} characters, got ${value.length}`,
    );
  return value;
}

/**
 * The queue page's `cursor` for jobs in `state`, checked here: its 400 names
 * the query parameter, not the `listJobs` option it is passed on as.
 */
function checkCursor(cursor: string | undefined, state: JobStatus): string | undefined {
  if (bounded("cursor", cursor) === undefined) return undefined;
  try {
    checkListJobs(state, { cursor });
  } catch (error) {
    if (taqubaErrorCode(error) !== "INVALID_ARGUMENT") throw error;
    throw new HttpError(
      400,
      `Expected \`cursor\` to be the cursor of a "Next page" link of ${state} jobs, got ${describeValue(cursor)}: open the first page and follow its links`,
    );
  }
  return cursor;
}

export async function handle(
  state: HandlerState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { base, path, query } = locate(req, state.basePath);
  if (!hostAllowed(req, state.allowedHosts))
    throw new HttpError(
      403,
      `Host ${JSON.stringify(req.headers.host ?? "")} is not allowed: the dashboard answers loopback names and IP addresses unless its allowedHosts option lists more`,
    );
  if (state.authorize !== undefined && !(await state.authorize(req)))
    throw new HttpError(403, "Not authorized");
  const method = req.method ?? "GET";
  const writable = state.source.writable && !state.readOnly;
  if (path === "/action") {
    if (method !== "POST") throw new HttpError(405, "Actions are POST requests");
    return act(state, req, res, base, writable);
  }
  if (method !== "GET" && method !== "HEAD")
    throw new HttpError(405, `${method} is not allowed here`);
  await state.source.refresh();
  await state.sample();
  const noticeId = query.get("notice") ?? undefined;
  const self = `${base}${path}${query.toString() === "" ? "" : `?${query}`}`;
  const ctx: PageContext = {
    base,
    now: state.now(),
    writable,
    stopped: state.source.stopped,
    token: state.tokens.issue(),
    self: stripNotice(self),
    notice: noticeId === undefined ? undefined : state.notices.take(noticeId),
    refreshSeconds: state.refreshSeconds,
  };
  switch (path) {
    case "/":
    case "": {
      const after = bounded("after", one(query, "after", false));
      return send(res, 200, await overviewPage(ctx, state.source, state.history, after));
    }
    case "/queue": {
      // Checked here, so that a 400 names the query parameter.
      const name = checkQueueName(one(query, "name", true), "name");
      const stateName = (one(query, "state", false) ?? "pending") as JobStatus;
      if (!STATES.includes(stateName))
        throw new HttpError(
          400,
          `Expected \`state\` to be one of ${STATES.join(", ")}, got ${JSON.stringify(stateName)}`,
        );
      const cursor = checkCursor(one(query, "cursor", false), stateName);
      return send(
        res,
        200,
        await queuePage(ctx, state.source, state.history, name, stateName, cursor),
      );
    }
    case "/job": {
      const { status, body } = await jobPage(ctx, state.source, one(query, "id", true));
      return send(res, status, body);
    }
    case "/schedules":
      return send(res, 200, await schedulesPage(ctx, state.source));
    case "/health":
      return send(res, 200, healthPage(ctx, state.source));
    case "/task": {
      const task = state.tasks.get(one(query, "id", true));
      if (task === undefined)
        throw new HttpError(
          404,
          "No such bulk action: they are kept in memory while the dashboard runs, and the oldest are forgotten",
        );
      return send(res, 200, taskPage(ctx, task));
    }
    default:
      throw new HttpError(404, "No such page");
  }
}

function stripNotice(url: string): string {
  const [path, query] = url.split("?", 2) as [string, string | undefined];
  if (query === undefined) return path;
  const params = new URLSearchParams(query);
  params.delete("notice");
  const rest = params.toString();
  return rest === "" ? path : `${path}?${rest}`;
}

/**
 * Where an action returns to: a path of this dashboard, never another site.
 * Checked as resolved, since dot segments (`/.//host`, `/a/..//host`) turn
 * a path that looks local into one a browser reads as another host.
 */
function backTo(base: string, back: string | null): URL {
  const fallback = new URL(`${base}/`, PAGE_ORIGIN);
  if (back === null || !back.startsWith("/") || back.startsWith("//") || back.includes("\\"))
    return fallback;
  const url = new URL(back, PAGE_ORIGIN);
  const path = url.pathname;
  if (url.origin !== PAGE_ORIGIN || path.startsWith("//")) return fallback;
  if (base !== "" && path !== base && !path.startsWith(`${base}/`)) return fallback;
  return url;
}

async function act(
  state: HandlerState,
  req: IncomingMessage,
  res: ServerResponse,
  base: string,
  writable: boolean,
): Promise<void> {
  const queue = state.source.queue;
  if (!writable || queue === null) throw new HttpError(403, "This dashboard is read-only");
  const crossSite = crossSiteReason(req);
  if (crossSite !== null) throw new HttpError(403, `Cross-site request refused (${crossSite})`);
  const form = await readForm(req);
  if (form === null) throw new HttpError(400, "Expected a small URL-encoded form");
  const token = state.tokens.check(form.get("token") ?? undefined);
  if (token !== "valid")
    throw new HttpError(
      403,
      token === "expired"
        ? "The form's token has expired: reload the page and try again"
        : "The form's token is missing or was not issued by this dashboard: reload the page and try again",
    );
  const field = (name: string): string => {
    const value = form.get(name);
    if (value === null || value === "")
      throw new HttpError(400, `Expected \`${name}\` in the form`);
    return value;
  };
  let notice: string;
  const action = form.get("action");
  switch (action) {
    case "requeue": {
      const id = field("id");
      try {
        await queue.requeueDeadJob(id);
        notice = `Job ${id} was requeued: it is pending again.`;
      } catch (error) {
        // By code, not class: the queue may be of the package's other build.
        if (taqubaErrorCode(error) !== "JOB_NOT_FOUND") throw error;
        const removedChild = (error as { removedChild?: unknown }).removedChild;
        notice =
          typeof removedChild === "string"
            ? `Job ${id} stays dead: its flow lost child ${removedChild} to a removal, so it cannot run again. Remove its dead jobs, or enqueue the flow again.`
            : `Job ${id} is not dead (any more): nothing was requeued.`;
      }
      break;
    }
    case "requeue-all":
    case "remove-dead": {
      // Runs on after this answer; its page shows the progress, then the outcome.
      const name = field("queue");
      const total = (await queue.stats(name)).dead;
      const requeue = action === "requeue-all";
      const task = state.tasks.start(
        `${requeue ? "Requeue" : "Remove"} the dead jobs of ${name}`,
        name,
        total,
        async (onProgress) => {
          const count = requeue
            ? await queue.requeueDeadJobs(name, { onProgress })
            : await queue.removeJobs(name, "dead", { onProgress });
          return `${requeue ? "Requeued" : "Removed"} ${count} dead ${count === 1 ? "job" : "jobs"} of ${name}.`;
        },
        (error) => {
          if (taqubaErrorCode(error) === undefined)
            logError(state, `dashboard: ${action} of ${name} failed`, error);
          return `Stopped by an error: ${messageOf(error)} (jobs done before it stay done).`;
        },
      );
      res.writeHead(303, {
        location: `${base}/task?id=${encodeURIComponent(task.id)}`,
        "cache-control": "no-store",
      });
      res.end();
      return;
    }
    case "remove": {
      const id = field("id");
      notice = (await queue.removeJob(id))
        ? `Job ${id} was removed.`
        : `Job ${id} was not found, or is running (cancel it instead): nothing was removed.`;
      break;
    }
    case "cancel": {
      const id = field("id");
      const outcome = await queue.cancel(id);
      notice =
        outcome === "removed"
          ? `Job ${id} was cancelled and removed.`
          : outcome === "requested"
            ? `Job ${id} is running: its handler was asked to stop.`
            : `Job ${id} was not found waiting or running: nothing was cancelled.`;
      break;
    }
    case "pause":
    case "resume": {
      const name = field("queue");
      if (action === "pause") await queue.pauseQueue(name);
      else await queue.resumeQueue(name);
      notice = `Queue ${name} is ${action === "pause" ? "paused" : "running again"}.`;
      break;
    }
    default:
      throw new HttpError(400, `Unknown action ${JSON.stringify(action)}`);
  }
  const back = backTo(base, form.get("back"));
  back.searchParams.set("notice", state.notices.put(notice));
  res.writeHead(303, { location: `${back.pathname}${back.search}`, "cache-control": "no-store" });
  res.end();
}

/**
 * Reports an unexpected failure as `what` and the error's message. Neither a
 * logger that throws nor a thrown value that cannot be made a string is let
 * through: the error page would go unanswered, and the request's promise
 * would be left rejected, which ends a Node process by default.
 */
function logError(state: HandlerState, what: string, error: unknown): void {
  try {
    state.logger.error(`${what}: ${messageOf(error)}`, { error });
  } catch {
    // nowhere left to report it; the page still says the dashboard failed
  }
}

/** The error page for `error`; unexpected errors are logged. */
export function fail(
  state: HandlerState,
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
): void {
  let status = 500;
  let message = "The dashboard failed to answer; the error was logged.";
  // Taquba errors by code: the queue may be of the package's other build.
  const code = taqubaErrorCode(error);
  if (error instanceof HttpError) ({ status, message } = error);
  else if (code === "INVALID_ARGUMENT") {
    status = 400;
    message = (error as Error).message;
  } else if (code !== undefined) {
    status = 503;
    message = `${code}: ${(error as Error).message}`;
  } else logError(state, `dashboard: ${req.method} ${req.url} failed`, error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  let base = "";
  try {
    base = locate(req, state.basePath).base;
  } catch {
    // A target no URL parse accepts (the error shown): links go to the root.
  }
  const ctx: PageContext = {
    base,
    now: state.now(),
    // The header's badge says what the dashboard is; an error page has no forms to offer.
    writable: state.source.writable && !state.readOnly,
    stopped: state.source.stopped,
    token: "",
    self: `${base}/`,
    notice: undefined,
    refreshSeconds: 0,
  };
  send(
    res,
    status,
    page(
      ctx,
      `Error ${status}`,
      "queues",
      html`<h1>Error ${status}</h1><p id="error">${message}</p>`,
    ),
  );
}
