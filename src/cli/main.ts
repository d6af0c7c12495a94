#!/usr/bin/env node
// Commands are registered in ./run.js (one file per command); this file only starts the CLI.
import { ProcessIO } from "./io.js";
import { runCli } from "./run.js";

// Output piped into a reader that stopped (`taquba demo | head`): nobody reads what is left,
// so write no more of it and end quietly, as a shell tool would, instead of with a stack
// trace. Not at once: a command that holds the store as its writer closes it first (the demo
// winds down as on Ctrl-C), so a later run opens it without fencing anyone and resumes; the
// dashboard, which would serve on forever, stops as on Ctrl-C.
const io = new ProcessIO();
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  io.stdoutClosed();
});

// The same for stderr (`taquba enqueue … 2>&1 | head -1`): what the command says there is
// dropped, and it goes on to its end (a writing command closes the store it opened) and exits
// with its own status, instead of dying of the failed write halfway through its work.
process.stderr.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  io.stderrClosed();
});

process.exitCode = await runCli(process.argv.slice(2), io);
