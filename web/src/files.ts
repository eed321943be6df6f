// Sending files to the other computer on the session's `files` channel: one at a time from a
// queue, in 64 KiB pieces paced by the channel's buffered amount (so a large file never sits in
// memory), hashed on the way, each answered by the agent once it checked size and SHA-256.
// The Files panel shows them beside the files coming the other way (file-receiver.ts).

import { field, h, replace } from "./dom";
import type { Arrival, FileReceiver } from "./file-receiver";
import { downloaded } from "./file-receiver";
import { t } from "./i18n";
import type { RemoteFiles } from "./remote-files";
import { Sha256 } from "./sha256";

/** The largest piece of a file in one message, as the protocol allows. */
export const CHUNK = 64 * 1024;
/** Stop queueing pieces above this much unsent… */
const HIGH_WATER = 4 * 1024 * 1024;
/** …and go on once below this. */
const LOW_WATER = 1024 * 1024;

/** What files may pass in a session. */
export interface FileRules {
  allowed: boolean;
  /** The largest file in bytes; null for no limit. */
  maxSize: number | null;
  /** The supporter may browse the other computer's disk. */
  browse: boolean;
}

/** A file's way to the other computer. */
export interface Transfer {
  id: number;
  name: string;
  size: number;
  sent: number;
  state: "queued" | "sending" | "checking" | "saved" | "failed" | "cancelled";
  /** The name it was saved under. */
  savedAs?: string;
  /** Where it was resumed, when the agent had the start from an earlier attempt. */
  resumedAt?: number;
  /** Why it failed: the agent's code, or `closed`. */
  error?: string;
  startedAt?: number;
}

/** The agent's answers to files sent from here (and this side's own stand-ins). */
type FileAnswer =
  | { type: "file_accept"; id: number; offset: number }
  | { type: "file_saved"; id: number; name: string }
  | { type: "file_error"; id: number; code: string; message: string }
  | { type: "file_cancel"; id: number };

/** A size for people: `512 B`, `12.3 kB`, `4.1 MB`. */
export function sizeText(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let u = 0;
  while (v >= 999.95 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** Most bytes handed to the hashing worker and not yet hashed. */
const HASH_AHEAD = 8 * 1024 * 1024;

/**
 * SHA-256 of a file's pieces, in a worker when the browser can start one (the page's main
 * thread then only reads and sends), else here.
 */
export class PieceHasher {
  private readonly worker: Worker | null;
  private readonly inline = new Sha256();
  private ahead = 0;
  private waiting: (() => void) | null = null;
  private digest: ((hex: string) => void) | null = null;

  constructor() {
    let worker: Worker | null = null;
    try {
      worker = new Worker("/hash-worker.js");
    } catch {
      worker = null;
    }
    this.worker = worker;
    worker?.addEventListener("message", (ev: MessageEvent<{ got?: number; hex?: string }>) => {
      if (ev.data.got !== undefined) {
        this.ahead -= ev.data.got;
        if (this.ahead <= HASH_AHEAD / 2) this.waiting?.();
      } else if (ev.data.hex !== undefined) {
        this.digest?.(ev.data.hex);
      }
    });
  }

  /** Hashes `piece`; waits while the worker is far behind, so pieces never pile up. */
  async update(piece: Uint8Array): Promise<void> {
    if (!this.worker) {
      this.inline.update(piece);
      return;
    }
    this.worker.postMessage(piece.slice());
    this.ahead += piece.length;
    if (this.ahead > HASH_AHEAD) {
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = null;
    }
  }

  /** The digest of every piece, in lowercase hex; the worker is then ready for another file. */
  async hex(): Promise<string> {
    if (!this.worker) return this.inline.hex();
    const hex = new Promise<string>((resolve) => (this.digest = resolve));
    this.worker.postMessage("done");
    const done = await hex;
    this.digest = null;
    return done;
  }

  /** Stops the worker; anyone waiting on it goes on (with an empty digest). */
  close(): void {
    this.worker?.terminate();
    this.waiting?.();
    this.digest?.("");
  }
}

/** Sends queued files one after another on `channel`; `changed` is told of every progress. */
export class FileSender {
  readonly transfers: Transfer[] = [];
  private readonly files = new Map<number, File>();
  private nextId = 1;
  private running = false;
  private answer: ((a: FileAnswer) => void) | null = null;
  private cancelled = new Set<number>();

  constructor(
    private readonly channel: RTCDataChannel,
    /** The largest file the organisation allows; null for no limit. */
    readonly maxSize: number | null,
    private readonly changed: () => void,
  ) {
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string") return;
      let m: FileAnswer;
      try {
        m = JSON.parse(ev.data) as FileAnswer;
      } catch {
        return;
      }
      // The agent's own transfers (`file`, `file_end`, `file_cancel`) are the receiver's.
      if (m.type === "file_accept" || m.type === "file_saved" || m.type === "file_error") this.answer?.(m);
    });
    // Files chosen while the connection was still being set up go once it is.
    channel.addEventListener("open", () => void this.pump());
    channel.addEventListener("close", () => {
      for (const x of this.transfers) if (x.state === "queued" || x.state === "sending" || x.state === "checking") this.end(x, "failed", "closed");
      this.answer?.({ type: "file_cancel", id: -1 });
    });
  }

  /** Adds files to the queue. */
  queue(files: Iterable<File>): void {
    for (const f of files) {
      const id = this.nextId++;
      // Over the organisation's limit: refused here, before a byte goes.
      if (this.maxSize !== null && f.size > this.maxSize) {
        this.transfers.push({ id, name: f.name, size: f.size, sent: 0, state: "failed", error: "too_large" });
        continue;
      }
      this.files.set(id, f);
      this.transfers.push({ id, name: f.name, size: f.size, sent: 0, state: "queued" });
    }
    this.changed();
    void this.pump();
  }

  /** Stops a queued or running transfer; the agent deletes what it received. */
  cancel(id: number): void {
    const x = this.transfers.find((y) => y.id === id);
    if (!x || !["queued", "sending", "checking"].includes(x.state)) return;
    if (x.state !== "queued" && this.channel.readyState === "open") {
      this.channel.send(JSON.stringify({ type: "file_cancel", id }));
    }
    this.cancelled.add(id);
    this.end(x, "cancelled");
    this.answer?.({ type: "file_cancel", id });
  }

  private end(x: Transfer, state: Transfer["state"], error?: string): void {
    x.state = state;
    if (error !== undefined) x.error = error;
    this.files.delete(x.id);
    this.changed();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let x = this.next(); x; x = this.next()) await this.send(x);
    } finally {
      this.running = false;
    }
  }

  private next(): Transfer | undefined {
    return this.channel.readyState === "open" ? this.transfers.find((x) => x.state === "queued") : undefined;
  }

  private async send(x: Transfer): Promise<void> {
    const file = this.files.get(x.id);
    if (!file) return;
    const ch = this.channel;
    x.state = "sending";
    x.startedAt = performance.now();
    this.changed();
    // The agent's answers to this transfer, in order.
    const answers: FileAnswer[] = [];
    let wake: (() => void) | null = null;
    this.answer = (a) => {
      if (a.id === x.id || a.id === -1) {
        answers.push(a);
        wake?.();
      }
    };
    const next = async (): Promise<FileAnswer> => {
      while (answers.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      return answers.shift() as FileAnswer;
    };
    const stopped = (): boolean => this.cancelled.has(x.id) || ch.readyState !== "open" || answers.length > 0;
    ch.send(JSON.stringify({ type: "file", id: x.id, name: x.name, size: x.size }));
    // The agent says from where: the start, or where an earlier attempt stopped.
    const accept = await next();
    if (accept.type !== "file_accept") return this.finish(x, accept);
    const offset = accept.offset;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > x.size) {
      ch.send(JSON.stringify({ type: "file_cancel", id: x.id }));
      this.end(x, "failed", "other");
      return;
    }
    const hash = new PieceHasher();
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    let lastShown = 0;
    try {
      // What the agent already has is hashed, not sent: the digest is the whole file's.
      if (offset > 0) {
        x.resumedAt = offset;
        x.sent = offset;
        const prefix = file.slice(0, offset).stream().getReader();
        try {
          for (let r = await prefix.read(); !r.done; r = await prefix.read()) await hash.update(r.value);
        } finally {
          prefix.releaseLock();
        }
      }
      reader = file.slice(offset).stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (let at = 0; at < value.length; at += CHUNK) {
          if (stopped()) break;
          if (ch.bufferedAmount > HIGH_WATER) {
            await new Promise<void>((resolve) => {
              const go = (): void => {
                ch.removeEventListener("bufferedamountlow", go);
                ch.removeEventListener("close", go);
                resolve();
              };
              ch.addEventListener("bufferedamountlow", go);
              ch.addEventListener("close", go);
            });
            if (stopped()) break;
          }
          const piece = value.subarray(at, Math.min(at + CHUNK, value.length));
          await hash.update(piece);
          ch.send(piece as Uint8Array<ArrayBuffer>);
          x.sent += piece.length;
          // Progress at most ten times a second: the panel is redrawn for each.
          const now = performance.now();
          if (now - lastShown > 100) {
            lastShown = now;
            this.changed();
          }
        }
        if (stopped()) break;
      }
    } catch {
      this.end(x, "failed", "read");
      if (ch.readyState === "open") ch.send(JSON.stringify({ type: "file_cancel", id: x.id }));
      hash.close();
      return;
    } finally {
      reader?.releaseLock();
    }
    if (this.cancelled.has(x.id) || ch.readyState !== "open") {
      hash.close();
      return;
    }
    // Refused on the way (a full disk, say): that is the answer.
    if (answers.length > 0) {
      hash.close();
      return this.finish(x, await next());
    }
    const sha256 = await hash.hex();
    hash.close();
    if (this.cancelled.has(x.id) || ch.readyState !== "open") return;
    ch.send(JSON.stringify({ type: "file_end", id: x.id, sha256 }));
    x.state = "checking";
    this.changed();
    this.finish(x, await next());
  }

  /** Ends transfer `x` as the agent's answer `a` says. */
  private finish(x: Transfer, a: FileAnswer): void {
    this.answer = null;
    if (x.state !== "checking" && x.state !== "sending") return;
    if (a.type === "file_saved") {
      x.savedAs = a.name;
      this.end(x, "saved");
    } else if (a.type === "file_error") {
      this.end(x, "failed", a.code);
    } else {
      this.end(x, a.id === -1 ? "failed" : "cancelled", a.id === -1 ? "closed" : undefined);
    }
  }
}

/** The Files panel: choose or drop files and watch each one go (control sessions), and the files the other computer sends. */
export class FilesPanel {
  readonly root: HTMLElement;

  constructor(
    private readonly host: string,
    /** None in a view-only session: nothing goes to the other computer. */
    readonly sender: FileSender | null,
    readonly receiver: FileReceiver,
    private readonly closed: () => void,
    /** The other computer's disk, where the session lets the supporter browse it. */
    readonly browser: RemoteFiles | null = null,
  ) {
    this.root = h("section", { class: "files card", hidden: true, "aria-labelledby": "files-title" });
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  /** Whether there is anything to show: a way to send, or a file that came. */
  get useful(): boolean {
    return this.sender !== null || this.browser !== null || this.receiver.arrivals.length > 0;
  }

  toggle(open = !this.open): void {
    // Opening it shows the other computer's folder as it is now.
    if (open && !this.open) this.browser?.refresh();
    this.root.hidden = !open;
    if (open) this.render();
  }

  /** Redraws (after progress, or a language change). */
  render(): void {
    if (!this.open) return;
    const sender = this.sender;
    let sending: HTMLElement[] = [];
    if (sender) {
      const pick = h("input", { type: "file", multiple: true });
      pick.addEventListener("change", () => {
        if (pick.files) sender.queue(Array.from(pick.files));
      });
      const rows = sender.transfers.map((x) => this.sentRow(sender, x));
      const limit = sender.maxSize === null ? "" : ` ${t("files.limit", { max: sizeText(sender.maxSize) })}`;
      sending = [
        h("p", { class: "hint" }, t("files.hint", { host: this.host }) + limit),
        field(t("files.choose"), pick),
        ...(rows.length ? [h("ul", { class: "transfers" }, ...rows)] : []),
      ];
    }
    const arrivals = this.receiver.arrivals;
    const receiving = arrivals.length
      ? [
          h("h3", {}, t("files.from", { host: this.host })),
          h("ul", { class: "transfers", "aria-label": t("files.from", { host: this.host }) }, ...arrivals.map((x) => this.arrivalRow(x))),
        ]
      : [];
    const close = h("button", { type: "button" }, t("files.close"));
    close.addEventListener("click", () => {
      this.toggle(false);
      this.closed();
    });
    const browsing = this.browser ? [this.browser.root] : [];
    // The file asked for is listed below once it comes: the "asked for" line goes.
    this.browser?.settle(arrivals.map((a) => a.name));
    this.browser?.render();
    replace(this.root, h("h2", { id: "files-title" }, t("files.title")), ...sending, ...browsing, ...receiving, close);
  }

  private sentRow(sender: FileSender, x: Transfer): HTMLElement {
    const cancel =
      x.state === "queued" || x.state === "sending" || x.state === "checking"
        ? h("button", { type: "button", class: "small" }, t("files.cancel"))
        : null;
    cancel?.addEventListener("click", () => sender.cancel(x.id));
    return row(x.name, x.size, x.sent, x.state, this.status(x, sender.maxSize), x.state === "failed", cancel);
  }

  private arrivalRow(x: Arrival): HTMLElement {
    let action: HTMLElement | null = null;
    if (x.state === "receiving" || x.state === "checking") {
      action = h("button", { type: "button", class: "small" }, t("files.cancel"));
      action.addEventListener("click", () => this.receiver.cancel(x.id));
    } else if (x.state === "saved" && x.url) {
      action = h("a", { href: x.url, download: x.name, class: "button small" }, t("files.save"));
      // The link itself starts the download; afterwards the row says so.
      action.addEventListener("click", () => {
        downloaded(x);
        setTimeout(() => this.render(), 0);
      });
    }
    const status = ((): string => {
      switch (x.state) {
        case "receiving": {
          const secs = Math.max(0.001, (performance.now() - x.startedAt) / 1000);
          return t("files.receiving", { done: sizeText(x.received), speed: sizeText(Math.round(x.received / secs)) });
        }
        case "checking":
          return t("files.verifying");
        case "saved":
          return t("files.received");
        case "downloaded":
          return t("files.downloaded");
        case "cancelled":
          return t("files.cancelled");
        case "failed":
          return t("files.notReceived", { reason: arrivalFailure(x.error, this.receiver.maxSize) });
      }
    })();
    return row(x.name, x.size, x.received, x.state, status, x.state === "failed", action);
  }

  private status(x: Transfer, maxSize: number | null): string {
    switch (x.state) {
      case "queued":
        return t("files.queued");
      case "sending": {
        const secs = Math.max(0.001, (performance.now() - (x.startedAt ?? performance.now())) / 1000);
        const speed = sizeText(Math.round((x.sent - (x.resumedAt ?? 0)) / secs));
        const sending = t("files.sending", { done: sizeText(x.sent), speed });
        return x.resumedAt ? `${sending} · ${t("files.resumed", { at: sizeText(x.resumedAt) })}` : sending;
      }
      case "checking":
        return t("files.checking");
      case "saved": {
        const saved = t("files.saved", { name: x.savedAs ?? x.name });
        return x.resumedAt ? `${saved} · ${t("files.resumed", { at: sizeText(x.resumedAt) })}` : saved;
      }
      case "cancelled":
        return t("files.cancelled");
      case "failed":
        return t("files.failed", { reason: failureReason(x.error, maxSize) });
    }
  }
}

/** One file's line in the panel. */
function row(name: string, size: number, done: number, state: string, status: string, alert: boolean, action: HTMLElement | null): HTMLElement {
  return h(
    "li",
    { "data-state": state },
    h("span", { class: "name" }, name),
    " ",
    h("span", { class: "size" }, sizeText(size)),
    h("progress", { max: Math.max(1, size), value: done, "aria-label": name }),
    h("span", { class: "status", role: alert ? "alert" : null }, status),
    action,
  );
}

/** Why a file from the other computer was not received, in words. */
function arrivalFailure(code: string | undefined, maxSize: number | null): string {
  switch (code) {
    case "size":
    case "hash":
      return t("files.err.damaged");
    case "closed":
      return t("files.err.closed");
    case "stopped":
      return t("files.err.stopped");
    case "not_allowed":
      return t("files.err.rules");
    case "too_large":
      return maxSize === null ? t("files.err.rules") : t("files.err.tooLarge", { max: sizeText(maxSize) });
    case "unsaved":
      return t("files.err.unsaved");
    default:
      return t("files.err.broken");
  }
}

/** Why a file did not arrive, in words. */
function failureReason(code: string | undefined, maxSize: number | null): string {
  switch (code) {
    case "too_large":
      return maxSize === null ? t("files.err.other") : t("files.err.tooLarge", { max: sizeText(maxSize) });
    case "bad_name":
      return t("files.err.badName");
    case "not_allowed":
      return t("files.err.notAllowed");
    case "disk_full":
      return t("files.err.diskFull");
    case "size_mismatch":
    case "hash_mismatch":
      return t("files.err.damaged");
    case "closed":
      return t("files.err.closed");
    case "read":
      return t("files.err.read");
    default:
      return t("files.err.other");
  }
}
