export { PermanentFailure } from "./permanent-failure.js";
export { runWorker } from "./run-worker.js";
export type { Handler, JobContext, WorkerOptions } from "./types.js";
