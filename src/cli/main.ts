#!/usr/bin/env node
// Commands are registered in ./run.js (one file per command); this file only starts the CLI.
import { processIO } from "./io.js";
import { runCli } from "./run.js";

// Output piped into a reader that stopped (`taquba demo | head`): nobody reads what is left,
// so stop quietly, as a shell tool would, instead of with a stack trace. What was written to
// the store is durable; a later run resumes it.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

process.exitCode = await runCli(process.argv.slice(2), processIO);
