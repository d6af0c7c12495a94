/**
 * Advice in the library's error messages that only code can follow (pass an
 * option), and what a CLI user can do instead: the CLI takes credentials from
 * the environment and has no option to skip the store probe. Also names the
 * `path` argument as the `--path` flag it comes from.
 */

import { AZURE_ACCOUNT_URL_OPTION } from "../store/azure.js";
import {
  GCS_CREDENTIALS_OPTION,
  GCS_INLINE_CREDENTIALS_OPTION,
  GCS_INLINE_KEY_OPTION,
  GCS_KEY_FILE_OPTION,
} from "../store/gcs.js";
import { AZURE_CONNECTION_OPTION, OPEN_STORE_CREDENTIALS_OPTION } from "../store/open-store.js";
import { optOutAdvice } from "../store/probe.js";
import { S3_CREDENTIALS_OPTION } from "../store/s3.js";

const REWRITES: ReadonlyArray<readonly [string, string]> = [
  [S3_CREDENTIALS_OPTION, ""],
  [GCS_CREDENTIALS_OPTION, ""],
  [GCS_KEY_FILE_OPTION, ""],
  [GCS_INLINE_CREDENTIALS_OPTION, ""],
  [GCS_INLINE_KEY_OPTION, ""],
  [AZURE_CONNECTION_OPTION, ""],
  [OPEN_STORE_CREDENTIALS_OPTION, ""],
  [AZURE_ACCOUNT_URL_OPTION, ""],
  // The CLI takes the connection string from the environment only.
  [
    "Expected `options.connectionString` of AzureBlobStore ",
    "Expected `AZURE_STORAGE_CONNECTION_STRING` ",
  ],
  // The queue's `path` argument is the CLI's `--path` flag.
  ["Expected `path` ", "Expected `--path` "],
  [optOutAdvice("options.log.allowUnsafeStore"), " (the CLI has no way to skip this check)"],
];

/**
 * The install advice of a missing optional SDK: Node looks for it from where taquba is, so
 * installed in the current folder it stays out of reach of a global or `npx`-fetched CLI
 * (npx finds it only when fetched beside taquba, with `-p`).
 */
const INSTALL_ADVICE = /run `npm install ([^`\s]+)`$/;

/** `message` with the library-only advice replaced by what a CLI user can do. */
export function forCliUser(message: string): string {
  let out = message;
  for (const [library, cli] of REWRITES) out = out.replace(library, cli);
  return out.replace(
    INSTALL_ADVICE,
    (_, name: string) =>
      `run \`npm install ${name}\` in the project that has taquba installed ` +
      `(\`npm install -g ${name}\` for a global taquba; ` +
      `\`npx -p taquba -p ${name} taquba …\` for one fetched by npx)`,
  );
}
