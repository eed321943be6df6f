// Files the person at the other computer sends: received on the session's `files` channel, one
// at a time, gathered into Blobs a few MiB at a time (Chromium keeps large blobs on disk, so a
// big file does not sit in the page's memory), hashed in a worker on the way, and offered for
// saving only once size and SHA-256 match what the agent announced. Saving takes the
// supporter's click: nothing lands on their disk by itself (and browsers block a page's second
// download that no click asked for).

import type { FileRules } from "./files";
import { PieceHasher } from "./files";

/** A file on its way from the other computer. */
export interface Arrival {
  id: number;
  name: string;
  size: number;
  received: number;
  /** `saved`: checked and ready to save; `downloaded`: handed to the browser's downloads. */
  state: "receiving" | "checking" | "saved" | "downloaded" | "failed" | "cancelled";
  /** The checked file, to save. */
  url?: string;
  /** Why it failed: `size`, `hash`, `closed`, `stopped` (by the sender) or `protocol`. */
  error?: string;
  startedAt: number;
}

/** Messages the agent sends about its own transfers. */
type FileOffer =
  | { type: "file"; id: number; name: string; size: number }
  | { type: "file_end"; id: number; sha256: string }
  | { type: "file_cancel"; id: number };

/** Pieces kept as typed arrays before they are folded into a Blob. */
const FOLD_BYTES = 8 * 1024 * 1024;
/** The most bytes of received files held unsaved (and being received) before more are refused. */
export const UNSAVED_LIMIT = 2 * 1024 * 1024 * 1024;
/** Rows of received files kept in the panel. */
const MAX_ROWS = 100;
/** The longest name taken from the other side, in characters. */
const MAX_NAME = 255;

/** The file being received now. */
interface Open {
  x: Arrival;
  parts: Blob[];
  pending: Uint8Array<ArrayBuffer>[];
  pendingBytes: number;
  hash: PieceHasher;
}

/** A name the other side sent, made safe to offer as a download name. */
export function safeName(name: unknown): string {
  const s = typeof name === "string" ? name : "";
  // No folders, no control characters; the browser's download code sanitises the rest.
  const base = s.split(/[\\/]/).pop() ?? "";
  // Format characters too: a right-to-left override could make `gpj.exe` read as `exe.jpg`.
  const clean = Array.from(base.replace(/[\p{Cc}\p{Cf}]/gu, "")).slice(0, MAX_NAME).join("").trim();
  return clean === "" || clean === "." || clean === ".." ? "file" : clean;
}

/** Receives what the agent sends on `channel`; `changed` is told of progress, `begun` of each new file. */
export class FileReceiver {
  readonly arrivals: Arrival[] = [];
  private open: Open | null = null;
  /** Work on the channel's messages, in order: hashing may have to wait for the worker. */
  private queue: Promise<void> = Promise.resolve();
  private lastShown = 0;

  constructor(
    private readonly channel: RTCDataChannel,
    private readonly rules: FileRules,
    private readonly changed: () => void,
    private readonly begun: () => void,
  ) {
    channel.addEventListener("message", (ev: MessageEvent<string | ArrayBuffer>) => {
      const data = ev.data;
      this.queue = this.queue.then(() => this.handle(data)).catch(() => undefined);
    });
    channel.addEventListener("close", () => {
      this.queue = this.queue.then(() => {
        if (this.open) this.fail(this.open, "closed", false);
      });
    });
  }

  /** The largest file the organisation allows; null for no limit. */
  get maxSize(): number | null {
    return this.rules.maxSize;
  }

  /** Bytes held for files received and not yet saved, or on their way. */
  private unsaved(): number {
    return this.arrivals.filter((x) => x.state === "receiving" || x.state === "checking" || (x.state === "saved" && x.url)).reduce((n, x) => n + x.size, 0);
  }

  /** The checked files not saved yet, handed over (the session is ending): theirs to release. */
  takeUnsaved(): Arrival[] {
    const kept = this.arrivals.filter((x) => x.state === "saved" && x.url).map((x) => ({ ...x }));
    for (const x of this.arrivals) if (x.state === "saved") delete x.url;
    return kept;
  }

  /** Lets go of every file not saved (the session is over). */
  dispose(): void {
    if (this.open) this.drop(this.open, "failed", "closed");
    for (const x of this.arrivals) {
      if (x.url) URL.revokeObjectURL(x.url);
      delete x.url;
    }
  }

  /** Stops the file being received; the agent is told, and nothing is saved. */
  cancel(id: number): void {
    const o = this.open;
    if (!o || o.x.id !== id) return;
    this.reply({ type: "file_error", id, code: "cancelled", message: "the supporter cancelled it" });
    this.drop(o, "cancelled");
  }

  private async handle(data: string | ArrayBuffer): Promise<void> {
    if (typeof data !== "string") {
      await this.piece(new Uint8Array(data));
      return;
    }
    let m: FileOffer;
    try {
      m = JSON.parse(data) as FileOffer;
    } catch {
      return;
    }
    // Answers to files sent from here are the sender's business.
    if (m.type === "file") this.begin(m);
    else if (m.type === "file_end") await this.end(m);
    else if (m.type === "file_cancel" && this.open?.x.id === m.id) this.drop(this.open, "failed", "stopped");
  }

  private begin(m: { id: number; name: string; size: number }): void {
    if (this.open) this.fail(this.open, "protocol", true);
    const ok = Number.isSafeInteger(m.id) && Number.isSafeInteger(m.size) && m.size >= 0;
    const x: Arrival = { id: m.id, name: safeName(m.name), size: ok ? m.size : 0, received: 0, state: "receiving", startedAt: performance.now() };
    this.arrivals.push(x);
    // The panel keeps the latest rows; ended ones go first (a peer could send endless offers).
    while (this.arrivals.length > MAX_ROWS) {
      const i = this.arrivals.findIndex((y) => y.state === "failed" || y.state === "cancelled" || y.state === "downloaded");
      if (i < 0) break;
      this.arrivals.splice(i, 1);
    }
    this.begun();
    // The agent keeps to the rules too; this side does not trust it to. Nor does it hold more
    // unsaved files than a page can keep.
    const refusal = !ok
      ? (["protocol", "protocol", "the file's number or size is not valid"] as const)
      : !this.rules.allowed
        ? (["not_allowed", "not_allowed", "files may not be transferred in this session"] as const)
        : this.rules.maxSize !== null && m.size > this.rules.maxSize
          ? (["too_large", "too_large", "larger than the organisation allows"] as const)
          : this.unsaved() + m.size > UNSAVED_LIMIT
            ? (["unsaved", "too_large", "the supporter has too many received files not yet saved"] as const)
            : null;
    if (refusal) {
      x.state = "failed";
      x.error = refusal[0];
      this.reply({ type: "file_error", id: m.id, code: refusal[1], message: refusal[2] });
      this.changed();
      return;
    }
    this.open = { x, parts: [], pending: [], pendingBytes: 0, hash: new PieceHasher() };
    // Always from the start: this side keeps nothing of a file cut short.
    this.reply({ type: "file_accept", id: m.id, offset: 0 });
    this.changed();
  }

  private async piece(p: Uint8Array<ArrayBuffer>): Promise<void> {
    const o = this.open;
    if (!o) return;
    if (o.x.received + p.length > o.x.size) {
      this.fail(o, "size", true, `more than the announced ${o.x.size} bytes arrived`);
      return;
    }
    o.x.received += p.length;
    o.pending.push(p);
    o.pendingBytes += p.length;
    if (o.pendingBytes >= FOLD_BYTES) this.fold(o);
    await o.hash.update(p);
    // Cancelled while the worker caught up.
    if (this.open !== o) return;
    const now = performance.now();
    if (now - this.lastShown > 100) {
      this.lastShown = now;
      this.changed();
    }
  }

  private fold(o: Open): void {
    o.parts.push(new Blob(o.pending));
    o.pending = [];
    o.pendingBytes = 0;
  }

  private async end(m: { id: number; sha256: string }): Promise<void> {
    const o = this.open;
    if (!o || o.x.id !== m.id) return;
    if (o.x.received !== o.x.size) {
      this.fail(o, "size", true, `${o.x.received} of the announced ${o.x.size} bytes arrived`);
      return;
    }
    o.x.state = "checking";
    this.changed();
    const got = await o.hash.hex();
    o.hash.close();
    if (this.open !== o) return;
    if (typeof m.sha256 !== "string" || got !== m.sha256.trim().toLowerCase()) {
      this.fail(o, "hash", true, `the bytes' SHA-256 is ${got}`);
      return;
    }
    this.fold(o);
    const blob = new Blob(o.parts, { type: "application/octet-stream" });
    o.x.url = URL.createObjectURL(blob);
    this.open = null;
    o.x.state = "saved";
    this.reply({ type: "file_saved", id: o.x.id, name: o.x.name });
    this.changed();
  }

  private fail(o: Open, error: string, tell: boolean, message = error): void {
    if (tell) {
      const code = error === "size" ? "size_mismatch" : error === "hash" ? "hash_mismatch" : "protocol";
      this.reply({ type: "file_error", id: o.x.id, code, message });
    }
    this.drop(o, "failed", error);
  }

  private drop(o: Open, state: Arrival["state"], error?: string): void {
    o.hash.close();
    if (this.open === o) this.open = null;
    o.x.state = state;
    if (error !== undefined) o.x.error = error;
    this.changed();
  }

  private reply(m: object): void {
    if (this.channel.readyState === "open") this.channel.send(JSON.stringify(m));
  }
}

/**
 * Marks a checked file as handed to the browser's downloads (the Save link was followed) and
 * lets its Blob go shortly after: the download holds its own reference by then, and a page
 * that kept every file could not receive many large ones (Chromium caps blob memory, and a
 * private window has no disk to page it to).
 */
export function downloaded(x: Arrival): void {
  x.state = "downloaded";
  const url = x.url;
  delete x.url;
  if (url) setTimeout(() => URL.revokeObjectURL(url), 5000);
}
