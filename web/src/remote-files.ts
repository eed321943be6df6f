// Browsing the other computer's disk, where the session's rules allow it (an unattended machine
// whose policy says so): folder listings asked for on the `files` channel, and files fetched
// from them, which then arrive like any file the other computer sends (file-receiver.ts).

import { h, replace } from "./dom";
import { safeName } from "./file-receiver";
import { sizeText } from "./files";
import { hasKey, t } from "./i18n";

/** One item of a folder, as the agent lists it. */
export interface Entry {
  name: string;
  dir: boolean;
  size: number;
  modified_ms?: number;
}

/** The agent's answers to browsing. */
type BrowseAnswer =
  | { type: "listing"; id: number; path: string; parent?: string | null; entries: Entry[]; done: boolean; error?: string | null; code?: string | null }
  | { type: "fetch_error"; path: string; message: string; code?: string };

/** Why, in the supporter's language: the agent's code, or its English where the code says nothing. */
export function browseReason(code: string | null | undefined, english: string, count = 0): string {
  const key = `browse.err.${code ?? ""}`;
  return code && hasKey(key) ? t(key, { count }) : english;
}

/** Codes of a listing that stands although something is left out of it. */
const NOTES = new Set(["truncated", "unnamed"]);

/** A folder of the other computer on screen, and the way around it. */
export class RemoteFiles {
  readonly root: HTMLElement;
  private path = "";
  private parent: string | null = null;
  private entries: Entry[] = [];
  /** The request whose parts are coming in, and what came so far. */
  private asked = 0;
  private incoming: Entry[] = [];
  private loading = false;
  private error = "";
  private nextId = 1;
  /** What was last fetched, for the status line. */
  private fetched = "";
  /** Whether the next listing takes the focus (the person moved to another folder). */
  private focusAfter = false;
  /** The status line: one element for the panel's life, so assistive technology hears it change. */
  private readonly status: HTMLElement;

  constructor(
    private readonly host: string,
    private readonly channel: RTCDataChannel,
  ) {
    this.root = h("section", { class: "browse", "aria-labelledby": "browse-title" });
    this.status = h("p", { class: "hint", role: "status" });
    channel.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string") return;
      let m: BrowseAnswer;
      try {
        m = JSON.parse(ev.data) as BrowseAnswer;
      } catch {
        return;
      }
      if (m.type === "listing") this.listing(m);
      else if (m.type === "fetch_error") {
        this.error = t("browse.fetchFailed", { name: safeName(m.path), reason: browseReason(m.code, m.message) });
        this.fetched = "";
        this.render();
      }
    });
    // The first listing comes when the panel first opens, or now if the channel opens later.
    channel.addEventListener("open", () => this.path === "" && !this.loading && this.list(null), { once: true });
  }

  /** Asks for a folder (null: where browsing starts); `focus` moves the focus to it once listed. */
  list(path: string | null, focus = false): void {
    if (this.channel.readyState !== "open") return;
    this.focusAfter = focus;
    this.asked = this.nextId++;
    this.incoming = [];
    this.loading = true;
    this.error = "";
    this.channel.send(JSON.stringify(path === null ? { type: "list", id: this.asked } : { type: "list", id: this.asked, path }));
    this.render();
  }

  /** Forgets the file asked for once it is among `arrived` (the names of the files that came). */
  settle(arrived: string[]): void {
    if (this.fetched && arrived.includes(this.fetched)) this.fetched = "";
  }

  /** Lists the folder on screen again (or where browsing starts). */
  refresh(): void {
    this.list(this.path || null);
  }

  private listing(m: Extract<BrowseAnswer, { type: "listing" }>): void {
    if (m.id !== this.asked) return;
    this.incoming.push(...m.entries);
    if (!m.done) return;
    this.loading = false;
    // A listing that failed says so with a code other than a note's (older agents: an error
    // and nothing listed).
    const failed = m.code ? !NOTES.has(m.code) : !!m.error && this.incoming.length === 0;
    if (failed) {
      this.error = t("browse.listFailed", { reason: browseReason(m.code, m.error ?? "") });
    } else {
      this.path = m.path;
      this.parent = m.parent ?? null;
      this.entries = this.incoming;
      this.error = m.error ? t("browse.cut", { reason: browseReason(m.code, m.error, this.incoming.length) }) : "";
    }
    this.incoming = [];
    this.render();
    if (this.focusAfter) {
      // The button that moved here is gone: the new folder's first item takes the focus.
      this.focusAfter = false;
      this.root.querySelector<HTMLElement>(".browse-list button, .path button:not([disabled])")?.focus();
    }
  }

  private fetch(e: Entry): void {
    if (this.channel.readyState !== "open") return;
    this.channel.send(JSON.stringify({ type: "fetch", path: join(this.path, e.name) }));
    this.fetched = e.name;
    this.error = "";
    this.render();
  }

  render(): void {
    const up = h("button", { type: "button", class: "small", disabled: this.parent === null || this.loading }, t("browse.up"));
    up.addEventListener("click", () => this.parent !== null && this.list(this.parent, true));
    const refresh = h("button", { type: "button", class: "small", disabled: this.loading }, t("browse.refresh"));
    refresh.addEventListener("click", () => this.refresh());
    const items = this.entries.map((e) => {
      if (e.dir) {
        const open = h("button", { type: "button", class: "link", "aria-label": t("browse.open", { name: e.name }) }, `📁 ${e.name}`);
        open.addEventListener("click", () => this.list(join(this.path, e.name), true));
        return h("li", { class: "dir" }, open);
      }
      const get = h("button", { type: "button", class: "small", "aria-label": t("browse.get", { name: e.name }) }, t("browse.getShort"));
      get.addEventListener("click", () => this.fetch(e));
      return h("li", {}, h("span", { class: "name" }, e.name), h("span", { class: "size" }, sizeText(e.size)), get);
    });
    const status = this.loading
      ? t("browse.loading")
      : this.error || (this.fetched ? t("browse.fetching", { name: this.fetched }) : this.entries.length === 0 ? t("browse.empty") : "");
    if (this.status.textContent !== status) this.status.textContent = status;
    this.status.className = this.error ? "error" : "hint";
    replace(
      this.root,
      h("h3", { id: "browse-title" }, t("browse.title", { host: this.host })),
      h("p", { class: "path" }, h("code", {}, this.path || "…"), " ", up, " ", refresh),
      this.status,
      h("ul", { class: "browse-list", "aria-label": t("browse.title", { host: this.host }) }, ...items),
    );
  }
}

/** `name` inside folder `dir`, with the separator the other computer's paths use. */
export function join(dir: string, name: string): string {
  const sep = !dir.startsWith("/") && dir.includes("\\") ? "\\" : "/";
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}
