#!/usr/bin/env node
// Commands are registered in ./run.js (one file per command); this file only starts the CLI.
import { processIO } from "./io.js";
import { runCli } from "./run.js";

process.exitCode = await runCli(process.argv.slice(2), processIO);
