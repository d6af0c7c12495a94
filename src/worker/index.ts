/** The worker layer's public face: `runWorker`, `PermanentFailure` and their types. */
export { PermanentFailure } from "./permanent-failure.js";
export { runWorker } from "./run-worker.js";
export type { Handler, JobContext, WorkerOptions } from "./types.js";
