// Language choice and lookup. The language comes from the user's explicit choice (kept in
// localStorage), else the browser's preferred languages, else English.

import { de, en, fr, nl, type Key, type Strings } from "./strings";

/** The languages the app speaks, with their own names for the switcher. */
export const LANGUAGES = {
  en: { name: "English", strings: en as Strings },
  fr: { name: "Français", strings: fr },
  de: { name: "Deutsch", strings: de },
  nl: { name: "Nederlands", strings: nl },
} as const;

/** A supported language tag. */
export type Lang = keyof typeof LANGUAGES;

const STORAGE_KEY = "tether.lang";

/** The first supported language among `preferred` (BCP 47 tags, best first), else English. */
export function pickLanguage(preferred: readonly string[]): Lang {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0]!;
    if (base in LANGUAGES) return base as Lang;
  }
  return "en";
}

/** Fills `{name}` placeholders. Unknown placeholders stay visible rather than vanish. */
export function format(template: string, params: Readonly<Record<string, string | number>> = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in params ? String(params[name]) : m,
  );
}

let current: Lang = "en";
const listeners = new Set<() => void>();

/** The active language. */
export function language(): Lang {
  return current;
}

/** Picks the start-up language from storage or the browser. */
export function initLanguage(): void {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled; the browser's languages still apply.
  }
  current = stored && stored in LANGUAGES ? (stored as Lang) : pickLanguage(navigator.languages ?? []);
  document.documentElement.lang = current;
}

/** Switches language, remembers the choice, and tells listeners to re-render. */
export function setLanguage(lang: Lang): void {
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered, still applied.
  }
  for (const f of listeners) f();
}

/** Calls `f` after every language change; returns the unsubscribe function. */
export function onLanguageChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** The string `key` in the active language, with placeholders filled. */
export function t(key: Key, params?: Readonly<Record<string, string | number>>): string {
  return format(LANGUAGES[current].strings[key], params);
}

/** Whether `key` names a string (for codes that arrive from the network). */
export function hasKey(key: string): key is Key {
  return key in en;
}
