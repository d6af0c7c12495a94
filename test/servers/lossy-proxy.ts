/**
 * A TCP proxy in front of an HTTP server that can lose the answer to a chosen
 * request: the request reaches the server and takes effect, then the proxy
 * cuts the client's connection instead of passing the answer on. That is the
 * "ambiguous write" a client sees when a network path fails after the server
 * has committed.
 */
import { connect, createServer, type Socket } from "node:net";

/** Which request to lose the answer of: its method, and a pattern its head must match. */
export interface DropRule {
  method: string;
  /** Matched against the request line and headers (lower-cased header names as sent). */
  head: RegExp;
}

export interface LossyProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Lose the answer to the next request matching `rule` (once). */
  dropNextAnswer(rule: DropRule): void;
  /** Heads of the requests whose answers were lost so far (request line only). */
  dropped(): string[];
  close(): Promise<void>;
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/;

export async function startLossyProxy(upstreamPort: number): Promise<LossyProxy> {
  let armed: DropRule | undefined;
  const droppedHeads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: "127.0.0.1", port: upstreamPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    // Requests on one connection are sequential (no pipelining): the next bytes
    // from the server after a marked request are its answer.
    let loseAnswer = false;
    client.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1", 0, Math.min(chunk.length, 8192));
      const line = REQUEST_LINE.exec(text);
      if (line !== null && armed !== undefined && line[1] === armed.method) {
        const headEnd = text.indexOf("\r\n\r\n");
        const head = headEnd < 0 ? text : text.slice(0, headEnd);
        if (armed.head.test(head)) {
          armed = undefined;
          loseAnswer = true;
          droppedHeads.push(`${line[1]} ${line[2]}`);
        }
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (loseAnswer) {
        // The server has answered, so the request took effect: cut the client off.
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    dropNextAnswer: (rule) => {
      armed = rule;
    },
    dropped: () => [...droppedHeads],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
