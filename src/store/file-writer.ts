/**
 * A {@link FileStore}'s writer thread, seen from the store: hands each put or
 * delete to the thread in one message and resolves with its reply. The
 * thread's program is in `file-writer-thread.ts`.
 *
 * The thread starts on the first write. It never holds the process open by
 * itself: it is unref'd whenever no write is pending (a pending write keeps the
 * process alive, as a pending thread-pool call would), and it is ended after
 * {@link IDLE_MS} without writes, so a store that is dropped holds no thread
 * for long. If the thread dies, the writes it had pending reject and the next
 * write starts a new one.
 */
import { Worker } from "node:worker_threads";
import type { ThreadError, WriteReply, WriteRequest } from "./file-writer-thread.js";
import { writerThread } from "./file-writer-thread.js";

/**
 * How long the thread stays up without writes. Starting one delays the first
 * write by a few tens of ms, so the idle time is far longer than the quiet
 * spells of a service with sporadic traffic; an idle thread costs only memory.
 */
const IDLE_MS = 300_000;

/**
 * The thread's source. A function's own text, run as an eval'd script, is the
 * same in the ESM and the CommonJS builds and needs no file path (see
 * `file-writer-thread.ts`). An eval'd thread is a CommonJS script with
 * `require`, since it is started without the process's `execArgv`; should it
 * still run as a module, `process.getBuiltinModule` (Node 20.16+) loads Node's
 * modules instead.
 */
const SOURCE = `"use strict";
(${writerThread.toString()})(
  typeof require === "function" ? require : (id) => process.getBuiltinModule(id),
);
`;

/** What a write needs to say; the id is added here. */
type Request = WriteRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, "id">
    : never
  : never;

interface Pending {
  resolve: (reply: WriteReply) => void;
  reject: (err: unknown) => void;
}

/** A write's outcome with its error rebuilt as a Node.js system error. */
export interface WriteResult {
  outcome: WriteReply["outcome"];
  changed: boolean;
  error?: Error;
}

export class FileWriter {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #idle: NodeJS.Timeout | undefined;

  /**
   * Hand one write to the thread. Resolves with what became of it; rejects if
   * the thread cannot be started or dies first, or when `signal` aborts (the
   * write is then abandoned: it may still take effect).
   */
  async write(request: Request, signal?: AbortSignal): Promise<WriteResult> {
    signal?.throwIfAborted();
    const worker = this.#thread();
    const id = this.#nextId++;
    const reply = await new Promise<WriteReply>((resolve, reject) => {
      const onAbort = () => {
        if (this.#pending.delete(id)) this.#settled();
        reject(signal?.reason);
      };
      this.#pending.set(id, {
        resolve: (reply) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(reply);
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (this.#pending.size === 1) {
        clearTimeout(this.#idle);
        worker.ref();
      }
      const message = { ...request, id } as WriteRequest;
      if (message.op === "put") {
        // The thread gets its own copy: the caller's buffer is never detached or shared.
        const body = new Uint8Array(message.body);
        message.body = body;
        worker.postMessage(message, [body.buffer]);
      } else {
        worker.postMessage(message);
      }
    });
    return reply.error === undefined
      ? { outcome: reply.outcome, changed: reply.changed }
      : { outcome: reply.outcome, changed: reply.changed, error: systemError(reply.error) };
  }

  /** The running thread, started if there is none. */
  #thread(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    // Without the process's execArgv: `--input-type=module` would make the source a module
    // (no `require`), and `--import`/`--require` hooks (loaders, instrumentation) have nothing
    // to do in a thread that only makes file system calls, and would slow its start.
    const worker = new Worker(SOURCE, {
      eval: true,
      execArgv: [],
      name: "taquba FileStore writer",
    });
    worker.unref();
    worker.on("message", (replies: WriteReply[]) => {
      for (const reply of replies) {
        const pending = this.#pending.get(reply.id);
        if (pending === undefined) continue; // abandoned after its deadline
        this.#pending.delete(reply.id);
        pending.resolve(reply);
      }
      this.#settled();
    });
    worker.on("error", (err) => this.#lost(worker, err));
    worker.on("messageerror", (err) => this.#lost(worker, err));
    worker.on("exit", (code) =>
      this.#lost(worker, new Error(`the FileStore writer thread exited with code ${code}`)),
    );
    this.#worker = worker;
    return worker;
  }

  /** After replies or an abandoned write: with nothing pending, let the process exit and the thread idle out. */
  #settled(): void {
    if (this.#pending.size > 0) return;
    const worker = this.#worker;
    if (worker === undefined) return;
    worker.unref();
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#worker !== worker || this.#pending.size > 0) return;
      this.#worker = undefined;
      void worker.terminate();
    }, IDLE_MS);
    this.#idle.unref();
  }

  /** The thread died: its pending writes fail (their outcome is unknown); the next write starts a new one. */
  #lost(worker: Worker, err: unknown): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    clearTimeout(this.#idle);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject } of pending) reject(err);
    void worker.terminate();
  }
}

/** The thread's error as the Node.js system error the same call would have thrown here. */
function systemError(error: ThreadError): Error {
  const { message, ...fields } = error;
  const rebuilt: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields))
    if (value !== undefined) rebuilt[name] = value;
  return Object.assign(new Error(message), rebuilt);
}
