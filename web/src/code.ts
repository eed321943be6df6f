// Share codes as people type them: "123 456 7890", "123-456-7890" or ten digits in a row.

/** The ten digits of a share code, or null if the text is not one. */
export function parseShareCode(text: string): string | null {
  const compact = text.replace(/[\s-]/g, "");
  return /^[0-9]{10}$/.test(compact) ? compact : null;
}

/** Groups digits as they are read out: `123 456 7890`. */
export function groupShareCode(digits: string): string {
  const d = digits.replace(/\D/g, "").slice(0, 10);
  return [d.slice(0, 3), d.slice(3, 6), d.slice(6)].filter((p) => p).join(" ");
}

/** A code field's text and caret. */
export interface Typed {
  value: string;
  caret: number;
}

/**
 * Regroups a share-code field after an edit, keeping the caret after the same digit: `before`
 * is the text before the edit, `now` and `caret` after it. Text with separators other than
 * spaces is the user's own and is left alone; deleting a space deletes the digit before it.
 */
export function regroupTyped(before: string, now: string, caret: number): Typed {
  if (/[^0-9 ]/.test(now)) return { value: now, caret };
  let digits = now.replace(/\D/g, "");
  let kept = now.slice(0, caret).replace(/\D/g, "").length;
  if (digits === before.replace(/\D/g, "") && now.length < before.length && kept > 0) {
    digits = digits.slice(0, kept - 1) + digits.slice(kept);
    kept -= 1;
  }
  const value = groupShareCode(digits);
  kept = Math.min(kept, digits.length);
  let at = 0;
  for (let seen = 0; seen < kept; at++) if (/[0-9]/.test(value[at] ?? "")) seen++;
  return { value, caret: at };
}
