// One remote session over WebRTC: the viewer offers (measured much faster to a first frame than
// letting the agent offer), receives one video track, and opens the `pointer`, `input` and
// `control` data channels of docs/PROTOCOL.md. The browser's own RTCP (PLI/FIR, NACK) recovers
// from loss; a `keyframe` control message is sent too when the picture stalls at the start.

import type { FailureCause } from "./errors";
import { encode, type InputEvent } from "./input";
import type { IceServer, ServerMessage, Signaling } from "./signaling";

/** A display as the agent lists it on `control`. */
export interface RemoteDisplay {
  index: number;
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
  primary: boolean;
}

/** Messages the agent sends on `control`. */
export type ControlIn =
  | { type: "displays"; displays: RemoteDisplay[]; active: number }
  | {
      type: "stats";
      fps: number;
      bitrate_bps: number;
      target_bps: number;
      rtt_ms: number | null;
      /** Absent after a second without changes. */
      encode_ms?: number;
      path: string;
    }
  | { type: "clipboard"; text: string }
  | { type: "chat"; text: string }
  /** The person at the computer ended the session. */
  | { type: "end" };

/** Figures for the stats overlay, from the browser's stats and the agent's. */
export interface LiveStats {
  fps: number | null;
  bitrateKbps: number | null;
  rttMs: number | null;
  decodeMs: number | null;
  encodeMs: number | null;
  path: "host" | "reflexive" | "relay" | "unknown";
  width: number;
  height: number;
  /** The video codec, e.g. `H264` or `VP8`. */
  codec: string | null;
}

/** What a session reports to the screen that shows it. */
export interface SessionEvents {
  track(stream: MediaStream): void;
  control(m: ControlIn): void;
  /** The peer connection's state: `connected`, `disconnected`, `failed`, `closed`… */
  state(s: RTCPeerConnectionState): void;
  stats(s: LiveStats): void;
}

/** Options a supporter or a test may set. */
export interface SessionOptions {
  /** Use TURN only (`iceTransportPolicy: "relay"`). */
  relayOnly: boolean;
}

const CANDIDATE_TYPES = new Set(["host", "srflx", "prflx", "relay"]);
/** How long a viewer that ended a session waits for the agent to hang up before it does. */
const END_GRACE_MS = 2000;

/** A live session with one agent. */
export class RemoteSession {
  readonly pc: RTCPeerConnection;
  private readonly pointer: RTCDataChannel;
  private readonly input: RTCDataChannel;
  private readonly controlChannel: RTCDataChannel;
  /** Files to the agent: reliable and ordered, binary pieces between JSON messages. */
  readonly filesChannel: RTCDataChannel;
  private remoteSet = false;
  private pendingIce: RTCIceCandidateInit[] = [];
  private statsTimer: number | undefined;
  private lastInbound: { bytes: number; decode: number; frames: number; at: number } | null = null;
  private agentStats: Extract<ControlIn, { type: "stats" }> | null = null;
  /** The agent said it ended the session. */
  private peerEnded = false;
  private closed = false;
  private connected = false;
  private readonly relayOnly: boolean;
  private relayCandidates = 0;

  constructor(
    readonly id: string,
    iceServers: IceServer[],
    private readonly signaling: Signaling,
    private readonly events: SessionEvents,
    opts: SessionOptions,
  ) {
    this.relayOnly = opts.relayOnly;
    this.pc = new RTCPeerConnection({
      iceServers: iceServers as RTCIceServer[],
      iceTransportPolicy: opts.relayOnly ? "relay" : "all",
      bundlePolicy: "max-bundle",
    });
    this.pc.addTransceiver("video", { direction: "recvonly" });
    this.pointer = this.pc.createDataChannel("pointer", { ordered: false, maxRetransmits: 0 });
    this.input = this.pc.createDataChannel("input", { ordered: true });
    this.controlChannel = this.pc.createDataChannel("control", { ordered: true });
    this.filesChannel = this.pc.createDataChannel("files", { ordered: true });
    this.filesChannel.binaryType = "arraybuffer";
    for (const ch of [this.pointer, this.input]) ch.binaryType = "arraybuffer";
    this.controlChannel.onmessage = (ev) => {
      if (this.closed) return;
      let m: ControlIn;
      try {
        m = JSON.parse(String(ev.data)) as ControlIn;
      } catch {
        return;
      }
      if (m.type === "stats") this.agentStats = m;
      if (m.type === "end") this.peerEnded = true;
      this.events.control(m);
    };
    this.pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (c?.type === "relay") this.relayCandidates++;
      this.signaling.send({
        type: "ice",
        session_id: this.id,
        candidate: c ? c.candidate : "",
        ...(c?.sdpMid != null ? { sdp_mid: c.sdpMid } : {}),
        ...(c?.sdpMLineIndex != null ? { sdp_mline_index: c.sdpMLineIndex } : {}),
      });
    };
    this.pc.ontrack = (ev) => {
      this.events.track(ev.streams[0] ?? new MediaStream([ev.track]));
    };
    this.pc.onconnectionstatechange = () => {
      if (this.pc.connectionState === "connected") this.connected = true;
      // Once closed here, the rest is the agent hanging up: nothing more to report.
      if (!this.closed) this.events.state(this.pc.connectionState);
    };
  }

  /**
   * Why a connection that never came up failed, where the relay's TURN server is the cause:
   * `turn_unreachable` when no relayed address could be had from it (its UDP port blocked, or it
   * refused the credentials), `turn_refused` when it gave one but would not forward to the other
   * computer (it forwards to no private address off its own network). `null` otherwise.
   */
  failureCause(): FailureCause {
    if (this.connected || !this.relayOnly) return null;
    if (this.relayCandidates === 0) return "turn_unreachable";
    return "turn_refused";
  }

  /** Makes and sends the offer. */
  async start(): Promise<void> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.signaling.send({ type: "sdp", session_id: this.id, kind: "offer", sdp: offer.sdp ?? "" });
    this.statsTimer = window.setInterval(() => void this.pollStats(), 1000);
  }

  /** Applies an `sdp` answer or an `ice` candidate from the agent. */
  async onSignal(m: ServerMessage): Promise<void> {
    if (m.type === "sdp" && m.kind === "answer") {
      await this.pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
      this.remoteSet = true;
      for (const c of this.pendingIce.splice(0)) await this.pc.addIceCandidate(c);
    } else if (m.type === "ice") {
      const init: RTCIceCandidateInit = m.candidate
        ? { candidate: m.candidate, sdpMid: m.sdp_mid ?? null, sdpMLineIndex: m.sdp_mline_index ?? null }
        : { candidate: "" };
      if (!this.remoteSet) this.pendingIce.push(init);
      else await this.pc.addIceCandidate(init).catch(() => undefined);
    }
  }

  /** Sends an input event: absolute moves on `pointer` (latest wins), the rest in order on `input`. */
  send(ev: InputEvent, ordered = ev.type !== "pointer_move"): void {
    const ch = ordered ? this.input : this.pointer;
    if (ch.readyState === "open") ch.send(encode(ev) as Uint8Array<ArrayBuffer>);
  }

  /** Sends a chat message; false if the connection cannot carry it now. */
  chat(text: string): boolean {
    if (this.closed || this.controlChannel.readyState !== "open") return false;
    this.controlChannel.send(JSON.stringify({ type: "chat", text }));
    return true;
  }

  /** Sends a control message. */
  control(m: Record<string, unknown> & { type: string }): void {
    if (this.controlChannel.readyState === "open") this.controlChannel.send(JSON.stringify(m));
  }

  private async pollStats(): Promise<void> {
    if (this.closed) return;
    const report = await this.pc.getStats();
    let inbound: RTCInboundRtpStreamStats | undefined;
    let pair: RTCIceCandidatePairStats | undefined;
    const byId = new Map<string, Record<string, unknown>>();
    report.forEach((s: Record<string, unknown> & { type: string; id: string }) => {
      byId.set(s.id, s);
      if (s.type === "inbound-rtp" && s.kind === "video") inbound = s as unknown as RTCInboundRtpStreamStats;
      if (s.type === "transport" && typeof s.selectedCandidatePairId === "string") {
        pair = report.get(s.selectedCandidatePairId) as RTCIceCandidatePairStats | undefined;
      }
    });
    const now = performance.now();
    const out: LiveStats = {
      fps: inbound?.framesPerSecond ?? null,
      bitrateKbps: null,
      rttMs: pair?.currentRoundTripTime != null ? pair.currentRoundTripTime * 1000 : this.agentStats?.rtt_ms ?? null,
      decodeMs: null,
      encodeMs: this.agentStats?.encode_ms ?? null,
      path: "unknown",
      width: inbound?.frameWidth ?? 0,
      height: inbound?.frameHeight ?? 0,
      codec: null,
    };
    const codec = inbound?.codecId ? byId.get(inbound.codecId)?.mimeType : undefined;
    if (typeof codec === "string") out.codec = codec.replace(/^video\//, "");
    if (inbound) {
      const cur = {
        bytes: inbound.bytesReceived ?? 0,
        decode: inbound.totalDecodeTime ?? 0,
        frames: inbound.framesDecoded ?? 0,
        at: now,
      };
      const last = this.lastInbound;
      if (last && cur.at > last.at) {
        out.bitrateKbps = ((cur.bytes - last.bytes) * 8) / (cur.at - last.at);
        // Chromium leaves framesPerSecond out when nothing was decoded: a still screen is 0.
        out.fps = ((cur.frames - last.frames) * 1000) / (cur.at - last.at);
        if (cur.frames > last.frames) out.decodeMs = ((cur.decode - last.decode) * 1000) / (cur.frames - last.frames);
      }
      this.lastInbound = cur;
    }
    if (pair) {
      const local = byId.get(String(pair.localCandidateId))?.candidateType;
      const remote = byId.get(String(pair.remoteCandidateId))?.candidateType;
      const types = [local, remote].filter((t): t is string => typeof t === "string" && CANDIDATE_TYPES.has(t));
      out.path = types.includes("relay") ? "relay" : types.includes("srflx") ? "reflexive" : types.length ? "host" : "unknown";
    }
    this.events.stats(out);
  }

  /**
   * Releases every key and button held remotely and closes the connection. Unless the agent
   * ended the session, it is told first (it hears it this way even when the relay cannot pass
   * it on), and the connection stays open until the agent closes it or `END_GRACE_MS` pass, so
   * that the message is not lost with it.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    window.clearInterval(this.statsTimer);
    this.send({ type: "release_all" });
    if (this.peerEnded || this.controlChannel.readyState !== "open") {
      this.pc.close();
      return;
    }
    this.control({ type: "end" });
    const done = (): void => {
      window.clearTimeout(timer);
      this.pc.close();
    };
    const timer = window.setTimeout(done, END_GRACE_MS);
    this.controlChannel.addEventListener("close", done);
    this.pc.addEventListener("connectionstatechange", () => {
      if (["disconnected", "failed", "closed"].includes(this.pc.connectionState)) done();
    });
  }
}
