// Connecting by share code, or to one of the organisation's enrolled computers: the form and the
// machine list, waiting for consent, the live session, and the end. One signaling socket carries
// it all; if it drops during a session, the picture keeps flowing peer to
// peer while the socket reconnects with backoff.

import type { Me } from "./api";
import { parseShareCode, regroupTyped } from "./code";
import { field, h } from "./dom";
import type { Arrival } from "./file-receiver";
import { endText, errorText, failureText, reasonText } from "./errors";
import { t } from "./i18n";
import { canListMachines, type MachineInfo, machineList } from "./machines";
import { RemoteView } from "./remote";
import { RemoteSession } from "./session";
import type { EndReason } from "./generated/signal";
import { type ServerMessage, Signaling } from "./signaling";

/** Whether this page can make a peer connection: some embedded web views (Debian's WebKitGTK) ship without WebRTC. */
const hasWebRtc = (): boolean => typeof globalThis.RTCPeerConnection === "function";


type Phase =
  | { kind: "form" }
  | { kind: "checking" }
  | { kind: "waiting"; requestId: string; deadline: number }
  | { kind: "live"; session: RemoteSession; view: RemoteView; sessionId: string }
  | { kind: "ended" };

/** The connect page; `relabel` re-renders after a language change, `dispose` ends everything. */
export class ConnectPage {
  private phase: Phase = { kind: "form" };
  private signaling: Signaling | null = null;
  private message: { text: string; until?: number; code?: string } | null = null;
  private code = "";
  private mode: "control" | "view" = "control";
  private timer: number | undefined;
  private reconnectDelay = 500;
  private disposed = false;
  /** Checked files from the last session that the supporter has not saved yet. */
  private unsaved: Arrival[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly me: Me,
    private readonly opts: { relayOnly: boolean },
  ) {
    this.render();
  }

  /** Re-renders every label. */
  relabel(): void {
    if (this.phase.kind === "live") this.phase.view.relabel();
    else this.render();
  }

  /** Whether a session is live (navigation would end it). */
  get busy(): boolean {
    return this.phase.kind === "live" || this.phase.kind === "waiting";
  }

  /** Ends any session and closes the socket. */
  dispose(): void {
    this.disposed = true;
    this.endLive("ended_by_viewer");
    this.cancelWait();
    window.clearInterval(this.timer);
    this.signaling?.close();
    this.signaling = null;
  }

  private setPhase(p: Phase): void {
    this.phase = p;
    this.render();
  }

  private render(): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
    const p = this.phase;
    switch (p.kind) {
      case "form":
      case "checking":
        this.root.replaceChildren(this.form(p.kind === "checking"), this.machines());
        break;
      case "waiting":
        this.root.replaceChildren(this.waiting(p.deadline));
        break;
      case "live":
        this.root.replaceChildren(p.view.root);
        break;
      case "ended":
        this.root.replaceChildren(this.ended());
        break;
    }
  }

  private form(checking: boolean): HTMLElement {
    const codeIn = h("input", {
      type: "text",
      name: "code",
      inputmode: "numeric",
      autocomplete: "off",
      required: true,
      maxlength: 14,
      value: this.code,
      class: "code-input",
    });
    // Grouped 3-3-4 while typing, as the code is shown at the other computer.
    let typed = codeIn.value;
    codeIn.addEventListener("input", () => {
      const next = regroupTyped(typed, codeIn.value, codeIn.selectionStart ?? codeIn.value.length);
      if (next.value !== codeIn.value) {
        codeIn.value = next.value;
        codeIn.setSelectionRange(next.caret, next.caret);
      }
      typed = codeIn.value;
    });
    const radio = (value: "control" | "view", label: string): HTMLElement => {
      const input = h("input", { type: "radio", name: "mode", value, checked: this.mode === value });
      input.addEventListener("change", () => (this.mode = value));
      return h("label", { class: "choice" }, input, label);
    };
    const status = h("p", { class: this.message ? "error" : "hint", role: "alert", id: "connect-status" });
    const submit = h("button", { type: "submit", class: "primary", disabled: checking }, t("connect.submit"));
    const showMessage = (): void => {
      if (!hasWebRtc()) {
        // Say so before anyone at the other computer is asked to allow a session that cannot start.
        // The address is a link to a new window: the desktop app opens that in the system browser.
        const url = `${location.origin}/`;
        const [before, after] = t("err.noWebrtc", { url: "\u0000" }).split("\u0000");
        const link = h("a", { href: url, target: "_blank", rel: "noopener", id: "open-elsewhere" }, url);
        status.className = "error";
        status.replaceChildren(before ?? "", link, after ?? "");
        submit.disabled = true;
        return;
      }
      const m = this.message;
      if (!m) {
        status.textContent = checking ? t("wait.checking") : "";
        return;
      }
      if (m.until !== undefined) {
        const left = m.until - Date.now();
        if (left <= 0) {
          status.textContent = t("err.throttledDone");
          submit.disabled = false;
          window.clearInterval(this.timer);
          this.message = null;
          return;
        }
        submit.disabled = true;
        status.textContent = errorText(m.code ?? "throttled", left);
      } else {
        status.textContent = m.text;
      }
    };
    const form = h(
      "form",
      { class: "card narrow", "aria-labelledby": "connect-title" },
      h("h1", { id: "connect-title" }, t("connect.title")),
      h("p", { class: "hint" }, t("connect.signedInAs", { name: this.me.full_name, org: this.me.org_name })),
      field(t("connect.code"), codeIn, t("connect.codeHint")),
      h("fieldset", {}, h("legend", {}, t("connect.mode")), radio("control", t("connect.modeControl")), radio("view", t("connect.modeView"))),
      status,
      submit,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const code = parseShareCode(codeIn.value);
      this.code = codeIn.value;
      if (!code) {
        this.message = { text: t("connect.badCode") };
        showMessage();
        codeIn.focus();
        return;
      }
      this.message = null;
      void this.connect(code);
    });
    showMessage();
    if (this.message?.until !== undefined) this.timer = window.setInterval(showMessage, 250);
    queueMicrotask(() => codeIn.focus());
    return form;
  }

  /** The organisation's computers, for supporters who may list them. */
  private machines(): HTMLElement | string {
    if (!canListMachines(this.me)) return "";
    const box = h("section", { class: "card wide", "aria-labelledby": "machines-title" });
    void machineList(box, (m) => void this.connectMachine(m));
    return box;
  }

  private waiting(deadline: number): HTMLElement {
    const left = h("p", { class: "countdown", "aria-live": "off" });
    const tick = (): void => {
      left.textContent = t("wait.left", { seconds: Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) });
    };
    tick();
    this.timer = window.setInterval(tick, 250);
    const cancel = h("button", { type: "button" }, t("wait.cancel"));
    cancel.addEventListener("click", () => {
      this.cancelWait();
      this.setPhase({ kind: "form" });
    });
    queueMicrotask(() => cancel.focus());
    return h(
      "section",
      { class: "card narrow", "aria-labelledby": "wait-title", "aria-busy": "true" },
      h("h1", { id: "wait-title" }, t("wait.title")),
      h("p", {}, t("wait.hint", { mode: this.mode === "control" ? t("wait.modeControl") : t("wait.modeView") })),
      h("div", { class: "spinner", "aria-hidden": "true" }),
      left,
      cancel,
    );
  }

  private ended(): HTMLElement {
    const again = h("button", { type: "button", class: "primary" }, t("end.again"));
    again.addEventListener("click", () => {
      this.message = null;
      this.code = "";
      // Files left unsaved are let go with the session's page.
      for (const x of this.unsaved.splice(0)) if (x.url) URL.revokeObjectURL(x.url);
      this.setPhase({ kind: "form" });
    });
    queueMicrotask(() => again.focus());
    // Files that arrived checked and were not saved before the end can still be.
    const unsaved = this.unsaved.length
      ? [
          h("p", {}, t("end.unsaved")),
          h(
            "ul",
            { class: "transfers" },
            ...this.unsaved.map((x) => h("li", {}, h("span", { class: "name" }, x.name), h("a", { href: x.url ?? "", download: x.name, class: "button small" }, t("files.save")))),
          ),
        ]
      : [];
    return h(
      "section",
      { class: "card narrow", "aria-labelledby": "end-title" },
      h("h1", { id: "end-title" }, t("end.title")),
      h("p", { role: "alert", class: "ended-reason" }, this.message?.text ?? ""),
      ...unsaved,
      again,
    );
  }

  private async ensureSocket(): Promise<Signaling> {
    if (this.signaling?.isOpen) return this.signaling;
    this.signaling?.close();
    const sig = new Signaling({
      message: (m) => void this.onMessage(m),
      closed: (wasOpen) => this.onSocketClosed(wasOpen),
    });
    this.signaling = sig;
    await sig.open();
    return sig;
  }

  private async connect(code: string): Promise<void> {
    if (!hasWebRtc()) return;
    this.setPhase({ kind: "checking" });
    try {
      const sig = await this.ensureSocket();
      sig.send({ type: "connect", code, mode: this.mode });
    } catch {
      this.message = { text: t("err.relay") };
      this.setPhase({ kind: "form" });
    }
  }

  private async connectMachine(m: MachineInfo): Promise<void> {
    if (!hasWebRtc()) return;
    this.message = null;
    this.setPhase({ kind: "checking" });
    try {
      const sig = await this.ensureSocket();
      sig.send({ type: "connect_machine", machine_id: m.id, mode: this.mode });
    } catch {
      this.message = { text: t("err.relay") };
      this.setPhase({ kind: "form" });
    }
  }

  private cancelWait(): void {
    if (this.phase.kind === "waiting") {
      this.signaling?.send({ type: "consent_cancel", request_id: this.phase.requestId, reason: "viewer_cancelled" });
    }
  }

  private async onMessage(m: ServerMessage): Promise<void> {
    const p = this.phase;
    switch (m.type) {
      case "consent_pending":
        if (p.kind === "checking") {
          this.setPhase({ kind: "waiting", requestId: m.request_id, deadline: Date.now() + m.timeout_secs * 1000 });
        }
        break;
      case "session_start":
        if (p.kind === "waiting" || p.kind === "checking") this.startSession(m);
        break;
      case "sdp":
      case "ice":
        if (p.kind === "live" && m.session_id === p.sessionId) await p.session.onSignal(m).catch(() => undefined);
        break;
      case "session_end":
        if (p.kind === "live" && m.session_id === p.sessionId && m.reason !== "relay_shutdown") {
          this.finish(endText(m.reason, p.session.failureCause()));
        }
        break;
      case "recording":
        if (p.kind === "live" && m.session_id === p.sessionId) p.view.setRecorded(m.recorded);
        break;
      case "error":
        // During a session the only request that can be refused is a recording's.
        if (p.kind === "live" && m.code === "policy_denied") p.view.flash(t("session.recordRefused"));
        if (p.kind === "checking" || p.kind === "waiting") {
          this.message =
            m.code === "throttled" || m.code === "rate_limited" || m.code === "unavailable"
              ? { text: "", until: Date.now() + (m.retry_after_ms ?? 1000), code: m.code }
              : { text: errorText(m.code) };
          this.setPhase({ kind: "form" });
        }
        break;
      default:
        break;
    }
  }

  private startSession(m: Extract<ServerMessage, { type: "session_start" }>): void {
    performance.mark("tether:session_start");
    const sig = this.signaling!;
    let view: RemoteView | null = null;
    const session = new RemoteSession(
      m.session_id,
      m.ice_servers,
      sig,
      {
        track: (stream) => view?.setStream(stream),
        control: (c) => (c.type === "end" ? this.finish(reasonText("ended_by_agent")) : view?.onControl(c)),
        state: (s) => {
          if (s === "failed") {
            this.finish(failureText(session.failureCause()));
          }
          // ICE often recovers from a brief outage by itself; say so meanwhile.
          else if (s === "disconnected") view?.setBanner(t("session.unstable"));
          else if (s === "connected") view?.setBanner(this.signaling?.isOpen === false ? t("session.reconnecting") : null);
        },
        stats: (s) => view?.onStats(s),
      },
      this.opts,
    );
    view = new RemoteView({
      session,
      host: m.peer.name,
      control: m.mode === "control",
      files: { allowed: m.files?.allowed ?? true, maxSize: m.files?.max_size ?? null, browse: m.files?.browse ?? false },
      recorded: m.recorded ?? false,
      mayRecord: m.may_record ?? false,
      record: (on) => sig.send({ type: "record", session_id: m.session_id, on }),
      end: () => {
        this.endLive("ended_by_viewer");
        this.message = { text: reasonText("ended_by_viewer") };
        this.setPhase({ kind: "ended" });
      },
    });
    this.setPhase({ kind: "live", session, view, sessionId: m.session_id });
    session.start().catch(() => this.finish(t("err.webrtc")));
  }

  /** Tells the relay and closes the peer connection. */
  private endLive(reason: EndReason): void {
    const p = this.phase;
    if (p.kind !== "live") return;
    this.signaling?.send({ type: "session_end", session_id: p.sessionId, reason, chat_messages: p.view.chatCount });
    this.unsaved = p.view.takeUnsaved();
    p.view.dispose();
    p.session.close();
    this.phase = { kind: "ended" };
  }

  private finish(text: string): void {
    const p = this.phase;
    if (p.kind === "live") {
      this.unsaved = p.view.takeUnsaved();
      p.view.dispose();
      p.session.close();
    }
    this.message = { text };
    this.setPhase({ kind: "ended" });
  }

  private onSocketClosed(wasOpen: boolean): void {
    if (this.disposed) return;
    const p = this.phase;
    if (p.kind === "checking" || p.kind === "waiting") {
      this.message = { text: t("err.relay") };
      this.setPhase({ kind: "form" });
    } else if (p.kind === "live") {
      // The media is peer to peer: keep the session and find the relay again.
      p.view.setBanner(t("session.reconnecting"));
      const delay = this.reconnectDelay * (0.5 + Math.random());
      this.reconnectDelay = Math.min(10_000, wasOpen ? 500 : this.reconnectDelay * 2);
      window.setTimeout(() => void this.reconnect(), delay);
    }
  }

  private async reconnect(): Promise<void> {
    const p = this.phase;
    if (this.disposed || p.kind !== "live") return;
    try {
      await this.ensureSocket();
      this.reconnectDelay = 500;
      p.view.setBanner(null);
    } catch {
      // onSocketClosed schedules the next attempt.
    }
  }
}
