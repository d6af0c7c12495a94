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
 * The format characters (Unicode category Cf: the bidirectional marks,
 * embeddings, overrides and isolates, zero-width spaces, the soft hyphen, the
 * byte order mark, …) and LINE and PARAGRAPH SEPARATOR (U+2028, U+2029), in
 * each pattern below, but for ZERO WIDTH NON-JOINER and JOINER (U+200C,
 * U+200D) and the tag characters (U+E0020–U+E007F): scripts such as Persian
 * and emoji sequences (a family, a region's flag) are made of them, and they
 * only join or select what is shown around them.
 */

/** C0 controls, DEL and C1 controls (which some terminals act on as escape sequences), and the format characters. */
const CONTROL = /(?!\u200c|\u200d|[\u{e0020}-\u{e007f}])[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** What `JSON.stringify` leaves as it is but a terminal must not be given: DEL, C1 and the format characters. */
const NOT_ESCAPED_BY_JSON =
  /(?!\u200c|\u200d|[\u{e0020}-\u{e007f}])[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;

/** {@link NOT_ESCAPED_BY_JSON} without the state of a global pattern. */
const UNSAFE_FOR_TEXT = new RegExp(NOT_ESCAPED_BY_JSON.source, "u");

/** `character` as `\u` escapes, one per UTF-16 unit (a character above U+FFFF takes two). */
function escaped(character: string): string {
  let out = "";
  for (let i = 0; i < character.length; i++)
    out += `\\u${character.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

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
  return JSON.stringify(value, replacer, indent).replace(NOT_ESCAPED_BY_JSON, escaped);
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

/** Whether `text` holds a control or format character (what {@link shown} quotes for). */
export function holdsControlOrFormat(text: string): boolean {
  return CONTROL.test(text);
}

/** A control or format character, as {@link CONTROL} finds one (global, for replacing). */
const CONTROL_EACH = new RegExp(CONTROL.source, "gu");

/**
 * `word` in the shell's ANSI-C quotes (`$'…'`, as bash's `printf %q` writes
 * it), with every control and format character as an escape (`\x1b`,
 * `\u202e`): the terminal shows the escapes, and a shell that reads the
 * line reads the word itself.
 */
export function ansiCQuoted(word: string): string {
  const inner = word
    .replace(/[\\']/g, (c) => `\\${c}`)
    .replace(CONTROL_EACH, (c) => {
      const code = c.codePointAt(0)!;
      if (code < 0x80) return `\\x${code.toString(16).padStart(2, "0")}`;
      if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
      return `\\U${code.toString(16).padStart(8, "0")}`;
    });
  return `$'${inner}'`;
}

/**
 * Whether `text` holds DEL, a C1 control or a format character: what
 * `JSON.stringify` would leave as it is, and a terminal must not be given.
 */
export function holdsC1OrFormat(text: string): boolean {
  return UNSAFE_FOR_TEXT.test(text);
}
