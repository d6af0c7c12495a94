/** Defaults the CLI commands share: data directory, store path, demo queue name. */
/** Local directory used by the CLI when no store is given. */
export const DEFAULT_DATA_DIR = "./taquba-data";
/** Queue-store path (prefix) inside the store used by the CLI. */
export const DEFAULT_STORE_PATH = "taquba";
/** Queue name used by the demo. */
export const DEMO_QUEUE = "demo";
