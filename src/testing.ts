/**
 * Test and benchmark helpers: `import { FaultStore, ... } from "taquba/testing"`.
 * Wrappers compose: `new CountingStore(new LatencyStore(new MemoryStore(), { latencyMs: 20 }))`.
 * @packageDocumentation
 */
export { ManualClock } from "./clock.js";
export { MemoryStore } from "./store/memory.js";
export { CountingStore, type RequestCounts } from "./store/wrappers/counting.js";
export {
  type FaultRule,
  FaultStore,
  InjectedFaultError,
  type PauseHandle,
  type PauseMatch,
} from "./store/wrappers/fault.js";
export { type LatencyOptions, LatencyStore } from "./store/wrappers/latency.js";
export type { StoreOp } from "./store/wrappers/ops.js";
export { seededRandom } from "./util/random.js";
