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
