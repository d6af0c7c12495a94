import { MemoryStore } from "../../src/store/memory.js";
import { runStoreConformance } from "./conformance.js";

runStoreConformance("MemoryStore", async () => ({ store: new MemoryStore() }));
