/**
 * Notices an action leaves for the page it redirects to, kept in memory
 * under a random id (so a link cannot put words in the dashboard's mouth).
 * Each is shown once; the oldest fall off.
 */
import { randomBytes } from "node:crypto";

const MAX_NOTICES = 200;

/** A fresh random id. */
export function newTokenId(): string {
  return randomBytes(9).toString("base64url");
}

export class NoticeBoard {
  readonly #notices = new Map<string, string>();

  /** Keep `text`; returns the id to put in the redirect. */
  put(text: string): string {
    const id = newTokenId();
    this.#notices.set(id, text);
    if (this.#notices.size > MAX_NOTICES) this.#notices.delete(this.#notices.keys().next().value!);
    return id;
  }

  /** The notice `id` (once), or undefined. */
  take(id: string): string | undefined {
    const text = this.#notices.get(id);
    this.#notices.delete(id);
    return text;
  }
}
