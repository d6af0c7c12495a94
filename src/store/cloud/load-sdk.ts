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
      throw new StorageError(
        `${adapterName} needs the optional package "${packageName}", which is not installed: ` +
          `run \`npm install ${packageName}\``,
        { cause: err, permanent: true },
      );
    }
    throw err;
  }
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
