// The conformance suite carries its own timeout (see conformance.ts), so a hang fails.
import { MemoryStore } from "../../src/store/memory.js";
import { runStoreConformance } from "./conformance.js";

runStoreConformance("MemoryStore", async () => ({ store: new MemoryStore() }));
