/** Loading an optional cloud SDK on first use, with an error that says what to install when it is missing. */
import { StorageError } from "../../errors.js";

/**
 * Import an optional peer dependency on first use, so `import "taquba"` never
 * loads a cloud SDK. When the package is not installed, the error (a permanent
 * `StorageError`: retrying cannot install it) names it and the command that fixes it.
 */
export async function loadOptionalSdk<T>(
  packageName: string,
  importer: () => Promise<T>,
  adapterName: string,
): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    if (isModuleNotFound(err)) {
      const missing = missingModuleOf(err);
      if (missing !== undefined && missing !== packageName)
        throw new StorageError(
          `${adapterName} could not load the package "${packageName}": "${missing}", which it ` +
            "needs, cannot be found (a broken or partial install): reinstall it " +
            `(\`npm install ${packageName}\`)`,
          { cause: err, permanent: true },
        );
      throw new StorageError(
        `${adapterName} needs the optional package "${packageName}", which is not installed: ` +
          `run \`npm install ${packageName}\``,
        { cause: err, permanent: true },
      );
    }
    throw err;
  }
}

/**
 * The specifier Node could not resolve, from its message ("Cannot find
 * package 'x' imported from …", "Cannot find module 'x'"): the SDK itself, or
 * a package or file inside it that a broken install lacks.
 */
function missingModuleOf(err: unknown): string | undefined {
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message !== "string") return undefined;
  return /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1];
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
