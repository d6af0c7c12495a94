/**
 * Loading `@opentelemetry/api`, the optional peer dependency, on first use:
 * only a queue opened with `telemetry`, or without the option while the
 * application has registered an OpenTelemetry provider, imports it. When it
 * is not installed the error says what to install.
 */
import { InvalidArgumentError } from "../../errors.js";

/** The OpenTelemetry API module. */
export type OtelApi = typeof import("@opentelemetry/api");

export const OTEL_API_PACKAGE = "@opentelemetry/api";

export async function loadOtelApi(arg: string): Promise<OtelApi> {
  try {
    return await import("@opentelemetry/api");
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND")
      throw new InvalidArgumentError(
        `\`${arg}\` needs the optional package "${OTEL_API_PACKAGE}", which is not installed: run \`npm install ${OTEL_API_PACKAGE}\` (and set up an OpenTelemetry SDK), or open the queue without \`${arg}\``,
        { cause: error },
      );
    throw error;
  }
}
