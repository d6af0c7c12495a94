/** The TypeScript modules under a folder, for the tests that read `src/` as text. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import ts from "typescript";

/** Every `.ts` file under `dir`, at any depth, sorted by path. */
export async function modules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await modules(path)));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

/** `expression` without the parentheses, `as`, `satisfies`, `!` and `<T>` around it. */
export function bare(expression: ts.Expression): ts.Expression {
  let e = expression;
  while (
    ts.isParenthesizedExpression(e) ||
    ts.isAsExpression(e) ||
    ts.isSatisfiesExpression(e) ||
    ts.isNonNullExpression(e) ||
    ts.isTypeAssertionExpression(e)
  )
    e = e.expression;
  return e;
}
