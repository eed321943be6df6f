// @ts-check
// What every desktop page shares: calling the app, the status stream, words, errors.
import { STRINGS } from "./strings.js";

/** @type {any} */
const TAURI = /** @type {any} */ (window).__TAURI__;

let table = STRINGS.en;

/**
 * The word for `key` in the app's language, with `{name}` placeholders filled in.
 * @param {string} key
 * @param {Record<string, string | number>} [vars]
 */
export function t(key, vars = {}) {
  const s = table[key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/**
 * Calls an app command.
 * @param {string} cmd
 * @param {Record<string, unknown>} [args]
 */
export function invoke(cmd, args) {
  return TAURI.core.invoke(cmd, args);
}

/** Loads the language and fills every `data-t` element. */
export async function start() {
  const info = await invoke("app_info");
  table = STRINGS[info.language] ?? STRINGS.en;
  document.documentElement.lang = info.language;
  for (const el of document.querySelectorAll("[data-t]")) {
    el.textContent = t(/** @type {HTMLElement} */ (el).dataset.t ?? "");
  }
}

/**
 * Calls `render` with the status now and on every change.
 * @param {(status: any) => void} render
 */
export async function subscribe(render) {
  const ch = new TAURI.core.Channel();
  ch.onmessage = render;
  await invoke("subscribe", { onStatus: ch });
}

/**
 * "1.5 MB" in the page's language (decimal units, as file managers show).
 * @param {number} bytes
 */
export function sizeText(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  const n = new Intl.NumberFormat(document.documentElement.lang || "en", { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
  return `${n} ${units[i]}`;
}

/**
 * The message for an error a command returned (`{kind, message}`).
 * @param {any} e
 */
export function errorText(e) {
  const kind = e && typeof e === "object" && "kind" in e ? e.kind : "unknown";
  const message = e && typeof e === "object" && "message" in e ? e.message : String(e);
  const key = `error.${kind}`;
  return t(key in STRINGS.en ? key : "error.unknown", { message });
}

/**
 * "Jane Doe (Acme IT)".
 * @param {{name: string, org?: string | null}} s
 */
export function who(s) {
  return s.org ? `${s.name} (${s.org})` : s.name;
}

/**
 * What a session looks like in a sentence.
 * @param {{name: string, org?: string | null, control: boolean, paused: boolean}} s
 */
export function sessionLine(s) {
  if (s.control && s.paused) return t("paused", { who: who(s) });
  return t(s.control ? "controlling" : "viewing", { who: who(s) });
}
