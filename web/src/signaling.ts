// The viewer's signaling socket (`/api/v1/ws/viewer`, JSON frames of docs/PROTOCOL.md). The
// browser sends the session cookie on the upgrade by itself. Pings are answered here; callers see
// every other message.

import type { Message } from "./generated/signal";

export type { IceServer } from "./generated/signal";

/** A signaling message the viewer receives from the relay or the agent (the types are generated
 * from the Rust ones: web/src/generated/signal.ts). */
export type ServerMessage = Extract<
  Message,
  {
    type:
      | "consent_pending"
      | "session_start"
      | "sdp"
      | "ice"
      | "session_end"
      | "consent_cancel"
      | "recording"
      | "error"
      | "ping"
      | "pong";
  }
>;

/** A signaling message the viewer sends. */
export type ClientMessage = Extract<
  Message,
  { type: "connect" | "connect_machine" | "consent_cancel" | "sdp" | "ice" | "session_end" | "record" | "pong" }
>;

/** What the socket reports besides messages. */
export interface SignalingEvents {
  message(m: ServerMessage): void;
  /** The socket closed; `wasOpen` tells a drop from a failed attempt. */
  closed(wasOpen: boolean, code: number): void;
}

/** The URL of the viewer socket on the page's own relay. */
export function viewerSocketUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/v1/ws/viewer`;
}

/** One signaling connection. */
export class Signaling {
  private ws: WebSocket | null = null;
  private opened = false;

  constructor(private readonly events: SignalingEvents) {}

  /** Opens the socket; resolves once open, rejects if it closes first. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(viewerSocketUrl(location));
      this.ws = ws;
      this.opened = false;
      ws.onopen = () => {
        this.opened = true;
        resolve();
      };
      ws.onmessage = (ev) => {
        let m: ServerMessage;
        try {
          m = JSON.parse(String(ev.data)) as ServerMessage;
        } catch {
          return;
        }
        if (m.type === "ping") {
          this.send({ type: "pong", seq: m.seq });
          return;
        }
        this.events.message(m);
      };
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        this.ws = null;
        if (!this.opened) reject(new Error(`signaling closed (${ev.code})`));
        this.events.closed(this.opened, ev.code);
      };
    });
  }

  /** Whether the socket is open now. */
  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends one message (with `v`); false when the socket is not open. */
  send(m: ClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ v: 1, ...m }));
    return true;
  }

  /** Closes for good (no close event is reported). */
  close(): void {
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }
}
