import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { cli, tempDirs } from "./capture.js";
import { startBuiltCli } from "./child.js";

const temp = tempDirs("taquba-cli-args-");
after(temp.removeAll);

const COMMANDS = [
  "demo",
  "stats",
  "queues",
  "dead",
  "jobs",
  "job",
  "schedules",
  "requeue",
  "remove",
  "pause",
  "resume",
  "enqueue",
  "inspect",
  "dashboard",
];

describe("the CLI's arguments, alike across commands", { timeout: 60_000 }, () => {
  it("every command lists -h, --help last among its options", async () => {
    for (const command of COMMANDS) {
      const help = await cli(command, "--help");
      assert.equal(help.code, 0, command);
      const options = help.stdout.split("\n").filter((line) => /^ {2}-/.test(line));
      assert.equal(options.at(-1), "  -h, --help             show this help", command);
    }
  });

  it("`taquba help <command>` prints that command's help, as `<command> --help` does", async () => {
    for (const command of COMMANDS) {
      const help = await cli("help", command);
      assert.equal(help.code, 0, command);
      assert.equal(help.stdout, (await cli(command, "--help")).stdout, command);
    }
    const unknown = await cli("help", "nope");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^taquba: unknown command "nope"/);
    const general = await cli("help", "help");
    assert.equal(general.code, 0);
    assert.equal(general.stdout, (await cli("help")).stdout);
  });

  it("`taquba help` followed by more than one word, or by a flag, is a usage error", async () => {
    for (const args of [
      ["help", "stats", "extra"],
      ["help", "help", "stats"],
      ["help", "--version"],
      ["help", "-h"],
      ["help", "stats", "--json"],
    ]) {
      const out = await cli(...args);
      assert.equal(out.code, 2, args.join(" "));
      assert.equal(out.stdout, "", args.join(" "));
      assert.match(out.stderr, /^taquba help: expected one command name/, args.join(" "));
    }
  });

  it("a missing or unknown --status gets one message, in jobs and remove --all", async () => {
    const dir = await temp.make();
    assert.equal((await cli("enqueue", "mail", "hi", "--create", "--store", dir)).code, 0);
    const jobs = "pending, scheduled, claimed, done, dead";
    const removable = "pending, scheduled, done, dead";
    for (const [args, statuses] of [
      [["jobs", "mail"], jobs],
      [["remove", "--all", "mail"], removable],
    ] as const) {
      const missing = await cli(...args, "--store", dir);
      assert.equal(missing.code, 2);
      assert.match(
        missing.stderr,
        new RegExp(`: Expected \`--status\` to be one of ${statuses}, got nothing\\n$`),
      );
      const unknown = await cli(...args, "--status", "finished", "--store", dir);
      assert.equal(unknown.code, 2);
      assert.match(
        unknown.stderr,
        new RegExp(`: Expected \`--status\` to be one of ${statuses}, got "finished"\\n$`),
      );
    }
  });

  it("dashboard --json prints its address as JSON", async () => {
    const dir = await temp.make();
    assert.equal((await cli("enqueue", "mail", "hi", "--create", "--store", dir)).code, 0);
    const server = await startBuiltCli(["dashboard", "--store", dir, "--port", "0", "--json"]);
    const stopped = server.stop();
    const line = JSON.parse(server.firstLine) as { url: string; readOnly: boolean };
    assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(line.readOnly, true);
    assert.equal((await stopped).code, 0);
  });
});
