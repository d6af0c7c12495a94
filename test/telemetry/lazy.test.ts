import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";

const FIXTURE = new URL("./fixtures/without-otel.js", import.meta.url);

describe("@opentelemetry/api is optional", { timeout: 60_000 }, () => {
  it("nothing tries to load it unless telemetry is asked for or a provider is registered; then the error says what to install and nothing is fenced", async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [FIXTURE.pathname], { timeout: 50_000 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
      ),
    );
    const result = JSON.parse(stdout) as {
      without: { attempts: string[]; completed: number; done: number; served: number[] };
      registeredElsewhere: { attempts: string[]; warnings: string[] };
      withTelemetry: string[];
      telemetryError: string;
      fenced: boolean;
    };
    // A whole life (open, events, enqueue, worker, dashboard pages over the queue and over a
    // reader, close, reader) without it...
    assert.deepEqual(result.without, {
      attempts: [],
      completed: 1,
      done: 1,
      served: [200, 200, 200, 200, 200, 200, 200, 200],
    });
    // With the option left out, only a registered provider makes it try, and then a missing
    // package is one warning, not an error.
    assert.deepEqual(result.registeredElsewhere.attempts, ["@opentelemetry/api"]);
    assert.equal(result.registeredElsewhere.warnings.length, 1);
    assert.match(
      result.registeredElsewhere.warnings[0]!,
      /^telemetry: an OpenTelemetry provider is registered but taquba cannot load "@opentelemetry\/api"/,
    );
    // ...while asking for telemetry does try (so the hook would have seen any attempt).
    assert.deepEqual(result.withTelemetry, ["@opentelemetry/api"]);
    assert.match(
      result.telemetryError,
      /^InvalidArgumentError: `options.telemetry` needs the optional package "@opentelemetry\/api", which is not installed: run `npm install @opentelemetry\/api`/,
    );
    // The package is loaded before the store is opened: a missing one fences no writer.
    assert.equal(result.fenced, false);
  });
});
