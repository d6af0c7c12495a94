/**
 * Bulk actions in progress (requeue or remove every dead job of a queue):
 * each runs on after its POST is answered, counting the jobs done as the
 * queue reports them, so its page can show progress and then the outcome.
 * Kept in memory under a random id; the oldest finished ones fall off.
 */
import { newTokenId } from "./notices.js";

const MAX_TASKS = 100;

/** A bulk action as its page shows it. */
export interface BulkTask {
  readonly id: string;
  /** What it does, e.g. "Requeue the dead jobs of emails". */
  readonly label: string;
  /** The queue it works on. */
  readonly queue: string;
  /** How many jobs it was expected to touch when it started (the queue may change meanwhile). */
  readonly total: number;
  /** Jobs done so far. */
  done: number;
  state: "running" | "done" | "failed";
  /** The result notice once it ended (or why it failed). */
  outcome: string | undefined;
}

export class TaskBoard {
  readonly #tasks = new Map<string, BulkTask>();

  /**
   * Starts `run`, which reports progress through its argument and resolves
   * with the outcome notice; a failure is kept as the outcome and handed to `failed`.
   */
  start(
    label: string,
    queue: string,
    total: number,
    run: (progress: (done: number) => void) => Promise<string>,
    failed: (error: unknown) => string,
  ): BulkTask {
    const task: BulkTask = {
      id: newTokenId(),
      label,
      queue,
      total,
      done: 0,
      state: "running",
      outcome: undefined,
    };
    this.#tasks.set(task.id, task);
    this.#trim();
    const progress = (done: number): void => {
      task.done = done;
    };
    void run(progress).then(
      (outcome) => {
        task.state = "done";
        task.outcome = outcome;
      },
      (error: unknown) => {
        task.state = "failed";
        task.outcome = failed(error);
      },
    );
    return task;
  }

  get(id: string): BulkTask | undefined {
    return this.#tasks.get(id);
  }

  #trim(): void {
    if (this.#tasks.size <= MAX_TASKS) return;
    for (const [id, task] of this.#tasks) {
      if (task.state !== "running") {
        this.#tasks.delete(id);
        return;
      }
    }
  }
}
