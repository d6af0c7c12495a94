/**
 * The default telemetry (`OpenOptions.telemetry` left out), as OpenTelemetry
 * asks of an instrumented library: record into the global providers the
 * application registered, and nothing (at no cost) when it registered none.
 *
 * A provider can only be registered through `@opentelemetry/api`, which keeps
 * its registrations on `globalThis` under a key shared by every copy of the
 * API of one major version. Reading that key first means that, with no SDK
 * set up, the API is not even imported: a queue opened without the package
 * installed tries nothing, and one opened without an SDK pays nothing.
 */
import type { Logger } from "../../logger.js";
import { loadOtelApi, OTEL_API_PACKAGE, type OtelApi } from "./load.js";
import type { ResolvedTelemetry } from "./options.js";

/**
 * Where `@opentelemetry/api` 1.x (the peer dependency's major) registers its
 * globals, by API name (`metrics`, `trace`, `context`, ...).
 */
const GLOBALS = Symbol.for("opentelemetry.js.api.1");

/** The instrumentation scope name of taquba's meters and tracers (as in `index.ts`). */
const SCOPE = "taquba";

/** Which global providers some copy of `@opentelemetry/api` registered, read without loading it. */
function registeredGlobals(): { metrics: boolean; trace: boolean } {
  const globals = (globalThis as { [GLOBALS]?: Record<string, unknown> })[GLOBALS];
  return { metrics: globals?.metrics != null, trace: globals?.trace != null };
}

/** Whether the global meter provider is a real one (not the API's no-op). */
function realMeterProvider(api: OtelApi): boolean {
  // The API answers with its no-op provider when none is registered; that
  // provider's meters are the one no-op meter `createNoopMeter` returns.
  return api.metrics.getMeterProvider().getMeter(SCOPE) !== api.createNoopMeter();
}

/** Whether the global tracer provider is a real one (not the API's no-op). */
function realTracerProvider(api: OtelApi): boolean {
  // The global provider is the API's proxy, whose delegate is the registered
  // provider or, with none, the no-op provider every empty proxy returns.
  const provider = api.trace.getTracerProvider() as { getDelegate?: () => unknown };
  if (typeof provider.getDelegate !== "function") return true;
  return provider.getDelegate() !== new api.ProxyTracerProvider().getDelegate();
}

/**
 * The telemetry to start for `options` (as resolved when the option was left
 * out): metrics when a real global meter provider is registered, traces when
 * a real global tracer provider is; `null` (nothing imported) when there is
 * neither. Never fails the open: an SDK registered through a copy of the API
 * taquba cannot load is reported once and left alone.
 */
export async function detectTelemetry(
  options: ResolvedTelemetry,
  logger: Logger,
): Promise<{ api: OtelApi; options: ResolvedTelemetry } | null> {
  const registered = registeredGlobals();
  if (!(options.metrics && registered.metrics) && !(options.traces && registered.trace))
    return null;
  let api: OtelApi;
  try {
    api = await loadOtelApi("options.telemetry");
  } catch (error) {
    logger.warn(
      `telemetry: an OpenTelemetry provider is registered but taquba cannot load "${OTEL_API_PACKAGE}" (${String(error)}); the queue records no metrics or traces: install it next to taquba, or set \`telemetry: false\``,
      { error },
    );
    return null;
  }
  const metrics = options.metrics && registered.metrics && realMeterProvider(api);
  const traces = options.traces && registered.trace && realTracerProvider(api);
  if (!metrics && !traces) return null;
  return { api, options: { ...options, metrics, traces } };
}
