/**
 * The CLI dispatcher: the command table, usage text, and how errors map to
 * messages and exit codes (2: bad usage or input, 1: the command failed).
 */
import { InvalidArgumentError, TaqubaError } from "../errors.js";
import { dashboardCommand } from "./dashboard.js";
import { deadCommand } from "./dead.js";
import { demoCommand } from "./demo.js";
import { enqueueCommand } from "./enqueue.js";
import { inspectCommand } from "./inspect.js";
import { type CliIO, type Command, CommandFailure, UsageError } from "./io.js";
import { jobCommand } from "./job.js";
import { jobsCommand } from "./jobs.js";
import { forCliUser } from "./library-advice.js";
import { pauseCommand, resumeCommand } from "./pause.js";
import { queuesCommand } from "./queues.js";
import { removeCommand } from "./remove.js";
import { requeueCommand } from "./requeue.js";
import { schedulesCommand } from "./schedules.js";
import { statsCommand } from "./stats.js";
import { quoted } from "./terminal-text.js";
import { packageVersion } from "./version.js";

/** Every command, in help order. Add new commands here (one file per command). */
const COMMANDS: readonly Command[] = [
  demoCommand,
  statsCommand,
  queuesCommand,
  deadCommand,
  jobsCommand,
  jobCommand,
  schedulesCommand,
  requeueCommand,
  removeCommand,
  pauseCommand,
  resumeCommand,
  enqueueCommand,
  inspectCommand,
  dashboardCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: taquba <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun "taquba <command> --help" for a command's options, "taquba --version" for the version.\n`;
}

/** Run the CLI with `argv` (without the node and script paths); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  // `taquba help <command>` is `taquba <command> --help`; anything more (a second word, a flag)
  // is refused rather than read as something else.
  if (argv[0] === "help" && argv.length > 1) {
    const topic = argv[1]!;
    if (argv.length > 2 || topic.startsWith("-")) {
      io.err('taquba help: expected one command name, as in "taquba help stats"\n');
      return 2;
    }
    if (topic !== "help") return runCli([topic, "--help"], io);
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    io.out(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`taquba: unknown command ${quoted(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    // Bad input to the library (a queue name, a flag's value checked under the flag's name) is
    // bad usage too: the same message style, no error code in front.
    if (error instanceof UsageError || error instanceof InvalidArgumentError) {
      io.err(`taquba ${name}: ${forCliUser(error.message)}\n`);
      return 2;
    }
    if (error instanceof CommandFailure) {
      io.err(`taquba ${name}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof TaqubaError) {
      io.err(`taquba ${name}: ${error.code}: ${forCliUser(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}
