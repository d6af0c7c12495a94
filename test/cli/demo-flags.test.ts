import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { DEFAULT_STORE_PATH } from "../../src/cli/defaults.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-demo-flags-");
after(temp.removeAll);

describe("taquba demo flags", { timeout: 60_000 }, () => {
  it("a --schedule-ms past the end of the Date range is refused by the flag's name, and no store is created", async () => {
    const dir = await temp.make();
    const ms = String(Number.MAX_SAFE_INTEGER);
    const out = await cli("demo", "--dir", dir, "--jobs", "20", "--schedule-ms", ms);
    assert.equal(out.code, 2, out.stderr);
    assert.match(
      out.stderr,
      /^taquba demo: Expected `--schedule-ms` to be an integer from 0 to \d+, got "9007199254740991"\n$/,
    );
    assert.equal(out.stdout, "");
    const reader = await QueueReader.open(new FileStore(dir), DEFAULT_STORE_PATH);
    assert.equal(reader.inspection.manifest, null, "no queue store was created");
  });
});
