/**
 * `taquba dashboard`: serves the web dashboard of a queue store, read-only
 * (from a reader, re-opened at most every `--refresh-ms`), bound to
 * 127.0.0.1 unless told otherwise, until interrupted.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dashboard } from "../dashboard/index.js";
import { hostAllowed, send } from "../dashboard/security.js";
import { messageOf } from "../util/message.js";
import { badFlag, defineCommand, intFlag, positiveInt } from "./args.js";
import { listenForInterrupt } from "./interrupt.js";
import { CommandFailure } from "./io.js";
import {
  openReaderAt,
  positionals,
  resolveStore,
  STORE_HELP,
  STORE_OPTIONS,
} from "./store-args.js";
import { quoted, shown, terminalJson } from "./terminal-text.js";

const HELP = `Usage: taquba dashboard [options]

Serves a read-only web dashboard of the queue store: queues with counts and
throughput, jobs by state, dead jobs, store health. A running writer is not
disturbed. Stops on Ctrl-C. With --json, the line it prints once it serves is
{"url": "http://…/", "readOnly": true} (the port is there with --port 0). Bound
to every address (--host 0.0.0.0 or ::), the URL is a loopback one.

Options:
  --port <n>             port to listen on (default 3000; 0 picks a free one)
  --host <address>       address to bind (default 127.0.0.1: this machine only)
  --allowed-hosts <list> host names to answer besides loopback names and IP
                         addresses, comma-separated (name or name:port; a guard
                         against DNS rebinding)
  --refresh-ms <ms>      minimum time between two reads of the store (default 2000)
${STORE_HELP}
`;

/** The highest TCP port. */
const MAX_PORT = 65_535;

/** The loopback address shown for a server bound to an unspecified address, by that address. */
const UNSPECIFIED: ReadonlyMap<string, string> = new Map([
  ["0.0.0.0", "127.0.0.1"],
  ["::", "[::1]"],
]);

/** An address as a `Host` header names it (IPv6 in brackets). */
function shownHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export const dashboardCommand = defineCommand({
  name: "dashboard",
  summary: "serve a read-only web dashboard",
  help: HELP,
  options: {
    ...STORE_OPTIONS,
    port: { type: "string" },
    host: { type: "string" },
    "refresh-ms": { type: "string" },
    "allowed-hosts": { type: "string" },
  },
  async run({ values, positionals: args }, io) {
    positionals(args, []);
    const port = intFlag(values.port, "port", 0, 3_000);
    // Checked here, not by listen(), whose RangeError would end the command with a stack trace.
    if (port > MAX_PORT) throw badFlag("port", `an integer from 0 to ${MAX_PORT}`, values.port!);
    const host = values.host ?? "127.0.0.1";
    const refreshMs = positiveInt(values["refresh-ms"], "refresh-ms", 2_000);
    const resolved = await resolveStore(values);
    // A mistyped --store or --path is not an empty store: exit 1 as the other read commands do.
    const reader = await openReaderAt(resolved);
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
    } catch (error) {
      // A port in use or an address not on this machine is the user's to fix: one line, exit 1.
      throw new CommandFailure(
        `cannot serve on ${shown(shownHost(host))}:${port}: ${shown(messageOf(error))}`,
      );
    }
    const address = server.address() as AddressInfo;
    const bound = address.port;
    // Bound to every address (0.0.0.0, ::), the URL printed is a loopback one, which
    // opens on this machine and which the Host check answers: 0.0.0.0 and [::] name
    // no machine to connect to, and the Host check refuses them.
    const everywhere = UNSPECIFIED.get(address.address);
    const shownAddress = everywhere ?? shownHost(host);
    // Loopback names and IP literals always; names the user lists besides.
    const extra = (values["allowed-hosts"] ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h !== "");
    // The default reopen: each refresh reads only what the writer did since the last one.
    // With names listed, the Host is checked here, against them and the dashboard's own
    // default (loopback names, the address the request came to), which a list would replace.
    const handler = dashboard(reader, {
      refreshMs,
      ...(extra.length === 0 ? {} : { allowedHosts: ["*"] }),
    });
    server.on(
      "request",
      extra.length === 0
        ? handler
        : (req: IncomingMessage, res: ServerResponse) => {
            if (hostAllowed(req, undefined) || hostAllowed(req, extra)) return handler(req, res);
            send(
              res,
              403,
              `Host ${quoted(req.headers.host ?? "")} is not allowed: the dashboard answers loopback names, IP addresses and the names given to --allowed-hosts\n`,
              { "content-type": "text/plain; charset=utf-8" },
            );
          },
    );
    // Serving until interrupted is its job: stopping it then is its normal end (exit 0).
    // Listening before it says where it serves: a signal sent on that line is heard.
    const interrupt = listenForInterrupt(io.outputClosed);
    const url = `http://${shownAddress}:${bound}/`;
    io.out(
      values.json
        ? `${terminalJson({ url, readOnly: true })}\n`
        : `taquba dashboard (read-only) at ${url}${everywhere === undefined ? "" : ` (bound to ${shownHost(address.address)}:${bound}, every address of this machine)`} — Ctrl-C to stop\n`,
    );
    await new Promise((resolve) => interrupt.signal.addEventListener("abort", resolve));
    handler.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return 0;
  },
});
