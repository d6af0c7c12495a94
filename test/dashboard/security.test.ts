import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { hostAllowed, splitHost } from "../../src/dashboard/security.js";

/** A request as `hostAllowed` reads it: its Host header and the address it arrived on. */
function req(host: string | undefined, localAddress = "127.0.0.1"): IncomingMessage {
  return {
    headers: host === undefined ? {} : { host },
    socket: { localAddress },
  } as unknown as IncomingMessage;
}

describe("dashboard host check", () => {
  it("splits host headers into name and port, IPv6 in brackets", () => {
    assert.deepEqual(splitHost("LocalHost:3000"), { name: "localhost", port: "3000" });
    assert.deepEqual(splitHost("[::1]:8080"), { name: "::1", port: "8080" });
    assert.deepEqual(splitHost("[::1]"), { name: "::1", port: "" });
    assert.deepEqual(splitHost("example.com"), { name: "example.com", port: "" });
  });

  it("answers loopback names and the address the request came to by default, nothing else", () => {
    for (const host of [
      "localhost:3000",
      "LOCALHOST",
      "app.localhost:3000",
      "127.0.0.1:3000",
      "127.1.2.3",
      "[::1]:3000",
    ])
      assert.equal(hostAllowed(req(host), undefined), true, host);
    for (const host of [
      "evil.example:3000",
      "localhost.evil.example",
      "127.0.0.1.evil.example",
      "10.0.0.5:3000",
      "",
    ])
      assert.equal(hostAllowed(req(host), undefined), false, host);
    assert.equal(hostAllowed(req(undefined), undefined), false, "no Host header");
    // Bound to a LAN address: its IP literal is fine, a name resolving to it is not.
    assert.equal(hostAllowed(req("10.0.0.5:3000", "10.0.0.5"), undefined), true);
    assert.equal(hostAllowed(req("10.0.0.5:3000", "::ffff:10.0.0.5"), undefined), true);
    assert.equal(hostAllowed(req("[fe80::1]:3000", "fe80::1"), undefined), true);
    assert.equal(hostAllowed(req("rebound.evil.example:3000", "10.0.0.5"), undefined), false);
  });

  it("answers exactly the configured hosts, with or without a port, or any with *", () => {
    const allowed = ["ops.example.com", "[::1]:3000", "queues.example:8443"];
    assert.equal(hostAllowed(req("ops.example.com:443"), allowed), true);
    assert.equal(hostAllowed(req("OPS.example.com"), allowed), true);
    assert.equal(hostAllowed(req("[::1]:3000"), allowed), true);
    assert.equal(hostAllowed(req("[::1]:3001"), allowed), false);
    assert.equal(hostAllowed(req("queues.example:8443"), allowed), true);
    assert.equal(hostAllowed(req("queues.example"), allowed), false);
    assert.equal(
      hostAllowed(req("localhost:3000"), allowed),
      false,
      "the list replaces the default",
    );
    assert.equal(hostAllowed(req("anything.example"), ["*"]), true);
  });
});
