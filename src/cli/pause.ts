/** `taquba pause` / `taquba resume`: stop or restart claims from a queue, as the store's writer. */
import { checkQueueName } from "../queue/validate.js";
import { defineCommand } from "./args.js";
import {
  checkKnownQueue,
  openWriter,
  positionals,
  WRITE_HELP,
  WRITE_OPTIONS,
} from "./store-args.js";
import { quoted, terminalJson } from "./terminal-text.js";

function pauseCommandOf(pause: boolean) {
  const name = pause ? "pause" : "resume";
  return defineCommand({
    name,
    summary: pause
      ? "pause claims from a queue, durably (opens the store as writer)"
      : "resume claims from a paused queue (opens the store as writer)",
    help: `Usage: taquba ${name} <queue> [options]

${
  pause
    ? `Pauses the queue: claims return nothing until it is resumed; enqueues still land.
The pause is durable. A queue that has never held a job is refused (a typo would
otherwise be recorded for good) unless --new-queue is given: then it is paused
before its first job arrives (\`taquba queues\` lists it, \`taquba stats\` marks
it paused).`
    : "Resumes a paused queue: claims hand out its jobs again. A queue the store has\nnever seen is refused."
}

Options:
${
  pause
    ? `  --new-queue            pause <queue> even though it has never held a job (it stays
                         paused when its first jobs arrive)
`
    : ""
}${WRITE_HELP}
`,
    options: pause ? { ...WRITE_OPTIONS, "new-queue": { type: "boolean" } } : WRITE_OPTIONS,
    async run(parsed, io) {
      const [queueName] = positionals(parsed.positionals, ["queue"]);
      checkQueueName(queueName, "<queue>");
      // Pausing a queue before its first job is legitimate (it stays paused when jobs arrive),
      // but a mistyped name would be recorded for good: only with --new-queue (not --create,
      // which creates a store: a mistyped --path would then go unnoticed as well).
      // Read-only first: a queue already as asked needs no writer (opening one would fence a
      // running writer for nothing).
      const checked =
        !pause || !("new-queue" in parsed.values) || parsed.values["new-queue"] !== true
          ? await checkKnownQueue(
              parsed.values,
              io,
              queueName!,
              pause ? " Pass --new-queue to pause a queue before its first job." : "",
              (snapshot) => snapshot.stats(queueName!).paused,
            )
          : undefined;
      const already = checked?.seen === pause;
      if (!already) {
        const queue = await openWriter(parsed.values, io, name, {}, checked);
        try {
          if (pause) await queue.pauseQueue(queueName!);
          else await queue.resumeQueue(queueName!);
        } finally {
          await queue.close();
        }
      }
      io.out(
        parsed.values.json
          ? `${terminalJson({ queue: queueName, paused: pause })}\n`
          : already
            ? `${quoted(queueName!)} was ${pause ? "paused already" : "not paused"}.\n`
            : `${pause ? "Paused" : "Resumed"} ${quoted(queueName!)}.\n`,
      );
      return 0;
    },
  });
}

export const pauseCommand = pauseCommandOf(true);
export const resumeCommand = pauseCommandOf(false);
