/**
 * Orders keys by their UTF-8 bytes, as S3 and the other stores list them,
 * without encoding: UTF-8 byte order equals Unicode code point order, which
 * differs from JavaScript's UTF-16 `<` only where a surrogate pair (a code
 * point above U+FFFF) meets a unit in U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (code points above U+FFFF) after every other UTF-16 unit. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
