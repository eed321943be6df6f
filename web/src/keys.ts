// Physical keys: `KeyboardEvent.code` → USB HID usage, from the table the Rust side is tested
// against (protocol/tests/vectors/keymap.json), so both ends agree on every key.

import table from "../../protocol/tests/vectors/keymap.json";

const USAGES: Readonly<Record<string, number>> = table;

/** The HID usage of a `KeyboardEvent.code`, or null for codes the protocol has no key for. */
export function usageFromCode(code: string): number | null {
  return Object.prototype.hasOwnProperty.call(USAGES, code) ? USAGES[code]! : null;
}

/** Keys the local OS or browser would swallow, sent from toolbar buttons instead. */
export const SPECIAL_KEYS = {
  ctrlAltDel: ["ControlLeft", "AltLeft", "Delete"],
  meta: ["MetaLeft"],
  printScreen: ["PrintScreen"],
} as const;

/** The usages of a chord, pressed in order and released in reverse. */
export function chordUsages(codes: readonly string[]): number[] {
  return codes.map((c) => {
    const u = usageFromCode(c);
    if (u === null) throw new Error(`no HID usage for ${c}`);
    return u;
  });
}
