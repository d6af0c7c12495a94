export { type Clock, ManualClock, systemClock } from "./clock.js";
export {
  ClaimLostError,
  ClosedError,
  CorruptionError,
  FencedError,
  InvalidArgumentError,
  JobNotFoundError,
  StorageError,
  TaqubaError,
  type TaqubaErrorCode,
  UnsupportedStoreError,
} from "./errors.js";
export { consoleLogger, type Logger, silentLogger } from "./logger.js";
export { FileStore, type FileStoreOptions } from "./store/file.js";
export { MemoryStore } from "./store/memory.js";
export type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "./store/types.js";
