/**
 * Text read from a store, made safe to print on a terminal. Queue and
 * schedule names, header names and values, errors and payloads are the
 * application's data, and may hold control characters: printed as they are,
 * an escape sequence would act on the operator's terminal (clear it, retitle
 * it, recolour what follows) and a carriage return or newline could forge a
 * line of output. Bidirectional and invisible format characters reorder or
 * hide what the terminal shows around them (a name could show as another, or
 * a line's columns swap). So such text is shown quoted, with every control
 * and format character escaped. JSON output escapes them too, inside its
 * strings: `JSON.parse` gives back the exact strings.
 */

/*
 * The bidirectional and invisible format characters, in each pattern below:
 * ARABIC LETTER MARK (U+061C), LEFT-TO-RIGHT and RIGHT-TO-LEFT MARK (U+200E,
 * U+200F), LINE and PARAGRAPH SEPARATOR (U+2028, U+2029), the embeddings and
 * overrides (U+202A–U+202E) and the isolates (U+2066–U+2069).
 */

/** C0 controls, DEL and C1 controls (which some terminals act on as escape sequences), and the format characters. */
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** What `JSON.stringify` leaves as it is but a terminal must not be given: DEL, C1 and the format characters. */
const NOT_ESCAPED_BY_JSON =
  /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** {@link NOT_ESCAPED_BY_JSON} without the state of a global pattern. */
const UNSAFE_FOR_TEXT = new RegExp(NOT_ESCAPED_BY_JSON.source);

/**
 * `JSON.stringify(value, replacer, indent)` with DEL, the C1 controls and the
 * format characters (which JSON leaves as they are) escaped too. They can
 * only stand inside a string of the JSON text, where `\u` escapes mean the
 * same characters.
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

/** `text` as a JSON string literal, with every control and format character escaped ({@link terminalJson}). */
export function quoted(text: string): string {
  return terminalJson(text);
}

/**
 * `text` as it is when it holds no control or format character, else {@link quoted}.
 * Text starting with `"` is quoted too: a name printed as is then never looks
 * like the quoted form of another (`"q\u001b"` is only ever `q` and ESC).
 */
export function shown(text: string): string {
  return CONTROL.test(text) || text.startsWith('"') ? quoted(text) : text;
}

/**
 * Whether `text` holds DEL, a C1 control or a format character: what
 * `JSON.stringify` would leave as it is, and a terminal must not be given.
 */
export function holdsC1OrFormat(text: string): boolean {
  return UNSAFE_FOR_TEXT.test(text);
}
