import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ContainerClient } from "@azure/storage-blob";
import { type AzuriteServer, startAzurite } from "../servers/azurite.js";
import { type FencingTarget, runFencing } from "./lib/fencing.js";

/** Fast form; the soak runs many more handovers. */
const HANDOVERS = 5;

async function expectSafeHandovers(target: FencingTarget, handovers: number): Promise<void> {
  const report = await runFencing(target, handovers);
  assert.deepEqual(report.violations, []);
  assert.equal(report.handovers, handovers);
  assert.ok(report.acknowledged >= handovers * 20, `only ${report.acknowledged} acknowledged`);
}

describe("fencing: writer processes take over one store in turn", () => {
  let azurite: AzuriteServer | undefined;
  after(async () => {
    await azurite?.stop();
  });

  it(`FileStore, ${HANDOVERS} handovers: the older always ends FENCED, no acknowledged job lost`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-fence-"));
    try {
      await expectSafeHandovers({ url: dir }, HANDOVERS);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("AzureBlobStore on Azurite, 3 handovers: the same guarantees through the cloud adapter", async () => {
    azurite = await startAzurite();
    await new ContainerClient(azurite.connectionString, "fencing").create();
    await expectSafeHandovers(
      {
        url: "az://fencing/reliability",
        env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
      },
      3,
    );
  });
});
