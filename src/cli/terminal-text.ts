/**
 * Text read from a store, made safe to print on a terminal. Queue and
 * schedule names, header names and values, errors and payloads are the
 * application's data, and may hold control characters: printed as they are,
 * an escape sequence would act on the operator's terminal (clear it, retitle
 * it, recolour what follows) and a carriage return or newline could forge a
 * line of output. So such text is shown quoted, with every control character
 * escaped. JSON output escapes them too, inside its strings: `JSON.parse`
 * gives back the exact strings.
 */

/** C0 controls, DEL and C1 controls (which some terminals act on as escape sequences). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const NOT_ESCAPED_BY_JSON = /[\u007f-\u009f]/g;

/**
 * `JSON.stringify(value, replacer, indent)` with DEL and the C1 controls
 * (which JSON leaves as they are) escaped too. They can only stand inside a
 * string of the JSON text, where `\u` escapes mean the same characters.
 */
export function terminalJson(
  value: unknown,
  replacer?: (this: Record<string, unknown>, key: string, value: unknown) => unknown,
  indent?: number,
): string {
  return JSON.stringify(value, replacer, indent).replace(
    NOT_ESCAPED_BY_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `text` as a JSON string literal, with every control character escaped ({@link terminalJson}). */
export function quoted(text: string): string {
  return terminalJson(text);
}

/**
 * `text` as it is when it holds no control character, else {@link quoted}.
 * Text starting with `"` is quoted too: a name printed as is then never looks
 * like the quoted form of another (`"q\u001b"` is only ever `q` and ESC).
 */
export function shown(text: string): string {
  return CONTROL.test(text) || text.startsWith('"') ? quoted(text) : text;
}

/** Whether `text` holds DEL or a C1 control. */
export function holdsC1(text: string): boolean {
  return /[\u007f-\u009f]/.test(text);
}
