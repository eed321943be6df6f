// The live remote screen: the video, the toolbar, and the supporter's input. Input goes out only
// in a control session; the agent enforces view-only by itself as well.

import { ChatPanel } from "./chat";
import { field, h, replace } from "./dom";
import { type Arrival, FileReceiver } from "./file-receiver";
import type { FileRules } from "./files";
import { FileSender, FilesPanel } from "./files";
import { RemoteFiles } from "./remote-files";
import { DOM_DELTA_PIXEL, toRemote, wheelUnits } from "./geometry";
import { t } from "./i18n";
import { LocalCopy } from "./local-copy";
import { buttonFromDom, textEvents } from "./input";
import { SPECIAL_KEYS, chordUsages, usageFromCode } from "./keys";
import type { ControlIn, LiveStats, RemoteDisplay, RemoteSession } from "./session";

/** Largest clipboard text sent, as the protocol allows. */
const MAX_CLIPBOARD = 128 * 1024;
const BITRATES = [500, 1000, 2500, 5000, 10000];
const FRAME_RATES = [5, 15, 30, 60];

/** What the screen needs from the session flow around it. */
export interface RemoteHost {
  session: RemoteSession;
  host: string;
  control: boolean;
  /** What files may pass, as the organisation and the person at the computer decided. */
  files: FileRules;
  /** The session is recorded from its start (the organisation records every session). */
  recorded: boolean;
  /** The supporter may start and stop recording (the organisation records on request). */
  mayRecord: boolean;
  /** The supporter pressed Record (`true`) or Stop recording. */
  record(on: boolean): void;
  /** The supporter pressed "End session". */
  end(): void;
}

/** The remote screen; `onControl` and `onStats` feed it, `dispose` detaches its listeners. */
export class RemoteView {
  readonly root: HTMLElement;
  readonly video: HTMLVideoElement;
  private readonly stage: HTMLElement;
  private readonly sink: HTMLTextAreaElement;
  private readonly toolbar: HTMLElement;
  private readonly statsBox: HTMLElement;
  private readonly clipBox: HTMLElement;
  private readonly chat: ChatPanel;
  /** Files both ways (to the other computer in control sessions only). */
  private readonly files: FilesPanel;
  private readonly banner: HTMLElement;
  private displays: RemoteDisplay[] = [];
  private active = 0;
  private remoteClip: string | null = null;
  private showStats = false;
  /** Whether the session is being recorded now. */
  private recorded: boolean;
  /** The supporter's own copy of the screen, while one is being made. */
  private copy: LocalCopy | null = null;
  private lastStats: LiveStats | null = null;
  private wheelRest = { x: 0, y: 0 };
  private locked = { x: 0, y: 0 };
  private readonly cleanups: Array<() => void> = [];
  private firstFrame = false;
  private composing = false;

  constructor(private readonly ctx: RemoteHost) {
    this.recorded = ctx.recorded;
    this.video = h("video", { autoplay: true, playsinline: true, muted: true, "aria-label": t("session.screen", { host: ctx.host }) });
    this.video.muted = true;
    this.sink = h("textarea", {
      class: "sink",
      "aria-label": t("session.screen", { host: ctx.host }),
      autocapitalize: "off",
      autocomplete: "off",
      spellcheck: "false",
      readonly: !ctx.control,
    });
    const connecting = h("p", { class: "connecting", role: "status" }, t("session.connecting"));
    this.stage = h("div", { class: ctx.control ? "stage control" : "stage" }, this.video, this.sink, connecting);
    this.toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": t("session.with", { host: ctx.host, mode: "" }) });
    this.statsBox = h("dl", { class: "stats", hidden: true, "aria-live": "off" });
    this.clipBox = h("section", { class: "clip card", hidden: true, "aria-labelledby": "clip-title" });
    this.chat = new ChatPanel(ctx.host, (text) => ctx.session.chat(text), () => this.renderToolbar());
    const redraw = (): void => this.files.render();
    const receiver = new FileReceiver(ctx.session.filesChannel, ctx.files, redraw, () => {
      // A file from the other computer opens the panel, so its progress is seen.
      this.files.toggle(true);
      this.renderToolbar();
    });
    this.files = new FilesPanel(
      ctx.host,
      ctx.control && ctx.files.allowed ? new FileSender(ctx.session.filesChannel, ctx.files.maxSize, redraw) : null,
      receiver,
      () => this.renderToolbar(),
      ctx.control && ctx.files.browse ? new RemoteFiles(ctx.host, ctx.session.filesChannel) : null,
    );
    this.banner = h("p", { class: "banner", role: "status", hidden: true });
    this.root = h(
      "div",
      { class: "remote" },
      this.toolbar,
      this.banner,
      h("div", { class: "stage-wrap" }, this.stage, this.statsBox, this.clipBox, this.chat.root, this.files.root),
    );
    if (this.files.sender) this.acceptDrops(this.files.sender, this.files);
    this.renderToolbar();
    const shown = (): void => {
      if (this.firstFrame) return;
      this.firstFrame = true;
      connecting.remove();
      performance.mark("tether:first_frame");
    };
    // requestVideoFrameCallback fires when a frame is composited; older browsers lack it.
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(shown);
    else this.video.addEventListener("loadeddata", shown, { once: true });
    if (ctx.control) this.attachInput();
    this.listen(document, "visibilitychange", () => {
      if (document.visibilityState === "hidden") this.releaseAll();
    });
  }

  /** Shows the agent's stream. */
  setStream(stream: MediaStream): void {
    this.video.srcObject = stream;
    void this.video.play().catch(() => undefined);
  }

  /** The relay said the session's recording started or stopped. */
  setRecorded(on: boolean): void {
    this.recorded = on;
    // A copy is made only while the person at the computer knows the session is recorded.
    if (!on) this.copy?.stop();
    this.renderToolbar();
  }

  /** Starts or stops the supporter's own copy of the screen. */
  private toggleCopy(): void {
    if (this.copy) return this.copy.stop();
    const stream = this.video.srcObject;
    if (!(stream instanceof MediaStream)) return;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    this.copy = new LocalCopy(stream, `tether-${this.ctx.host}-${stamp}.webm`, (full) => {
      this.copy = null;
      if (full) this.flash(t("session.copyFull"));
      this.renderToolbar();
    });
    this.renderToolbar();
  }

  /** Shows `text` in the banner for a few seconds, unless something else takes it meanwhile. */
  flash(text: string): void {
    this.setBanner(text);
    setTimeout(() => {
      if (this.banner.textContent === text) this.setBanner(null);
    }, 5000);
  }

  /** Shows or hides the reconnecting notice. */
  setBanner(text: string | null): void {
    this.banner.hidden = text === null;
    this.banner.textContent = text ?? "";
  }

  /** Handles a message from the agent's control channel. */
  onControl(m: ControlIn): void {
    if (m.type === "displays") {
      this.displays = m.displays;
      this.active = m.active;
      this.renderToolbar();
    } else if (m.type === "clipboard") {
      this.remoteClip = m.text;
      if (!this.clipBox.hidden) this.renderClipboard();
    } else if (m.type === "chat") {
      this.chat.received(m.text);
    }
  }

  /** Chat messages the session carried, either way. */
  get chatCount(): number {
    return this.chat.count;
  }

  /** Updates the stats overlay. */
  onStats(s: LiveStats): void {
    this.lastStats = s;
    if (this.showStats) this.renderStats();
  }

  /** Re-renders every label (after a language change). */
  relabel(): void {
    this.renderToolbar();
    if (!this.clipBox.hidden) this.renderClipboard();
    if (this.chat.open) this.chat.render();
    this.files.render();
    if (this.showStats) this.renderStats();
  }

  /** The checked files the supporter has not saved yet, handed over before `dispose`. */
  takeUnsaved(): Arrival[] {
    return this.files.receiver.takeUnsaved();
  }

  /** Detaches listeners and releases everything held. */
  dispose(): void {
    this.copy?.stop();
    this.releaseAll();
    this.files.receiver.dispose();
    for (const f of this.cleanups.splice(0)) f();
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
  }

  private listen<K extends keyof HTMLElementEventMap>(
    target: EventTarget,
    type: K | string,
    f: (ev: HTMLElementEventMap[K]) => void,
    opts?: AddEventListenerOptions,
  ): void {
    const l = f as EventListener;
    target.addEventListener(type, l, opts);
    this.cleanups.push(() => target.removeEventListener(type, l, opts));
  }

  private releaseAll(): void {
    if (this.ctx.control) this.ctx.session.send({ type: "release_all" });
  }

  private renderToolbar(): void {
    const { control, host } = this.ctx;
    const s = this.ctx.session;
    const badge = h("span", { class: control ? "badge control" : "badge view" }, control ? t("session.control") : t("session.viewOnly"));
    const title = h("span", { class: "host" }, host);
    const recorded = this.recorded
      ? h("span", { class: "badge recorded", title: t(this.ctx.mayRecord ? "session.recordingHint" : "session.recordedHint") }, t("session.recorded"))
      : null;

    const displaySel = h("select", { disabled: this.displays.length < 2 });
    for (const d of this.displays) {
      displaySel.append(
        h("option", { value: d.index, selected: d.index === this.active }, t("session.displayItem", { n: d.index + 1, name: d.name, width: d.width, height: d.height })),
      );
    }
    displaySel.addEventListener("change", () => s.control({ type: "select_display", index: Number(displaySel.value) }));

    const quality = h("select", {}, h("option", { value: "" }, t("session.qualityAuto")));
    for (const b of BITRATES) quality.append(h("option", { value: b }, t("session.bitrate", { kbps: b })));
    const fps = h("select", {}, h("option", { value: "" }, t("session.fpsAuto")));
    for (const f of FRAME_RATES) fps.append(h("option", { value: f }, t("session.fpsItem", { fps: f })));
    const sendQuality = (): void =>
      s.control({
        type: "quality",
        ...(quality.value ? { bitrate_kbps: Number(quality.value) } : {}),
        ...(fps.value ? { fps: Number(fps.value) } : {}),
      });
    quality.addEventListener("change", sendQuality);
    fps.addEventListener("change", sendQuality);

    const keyButton = (label: string, codes: readonly string[]): HTMLButtonElement => {
      const b = h("button", { type: "button" }, label);
      b.addEventListener("click", () => this.sendChord(codes));
      return b;
    };
    const keys = control
      ? h(
          "details",
          { class: "menu" },
          h("summary", {}, t("session.keys")),
          h(
            "div",
            { class: "menu-items" },
            keyButton(t("session.ctrlAltDel"), SPECIAL_KEYS.ctrlAltDel),
            keyButton(t("session.meta"), SPECIAL_KEYS.meta),
            keyButton(t("session.printScreen"), SPECIAL_KEYS.printScreen),
          ),
        )
      : null;

    const toggle = (label: string, pressed: boolean, f: () => void): HTMLButtonElement => {
      const b = h("button", { type: "button", "aria-pressed": String(pressed) }, label);
      b.addEventListener("click", f);
      return b;
    };
    // Where the organisation records on request: start and stop, each told to the person at
    // the computer; the badge follows what the relay says, not the click.
    const record = this.ctx.mayRecord
      ? toggle(t(this.recorded ? "session.stopRecording" : "session.record"), this.recorded, () => this.ctx.record(!this.recorded))
      : null;
    const copy =
      this.recorded && LocalCopy.supported()
        ? toggle(t(this.copy ? "session.saveCopy" : "session.copy"), this.copy !== null, () => this.toggleCopy())
        : null;
    const clip = toggle(t("session.clipboard"), !this.clipBox.hidden, () => {
      this.clipBox.hidden = !this.clipBox.hidden;
      if (!this.clipBox.hidden) this.renderClipboard();
      this.renderToolbar();
    });
    const unread = this.chat.unread;
    const chat = toggle(t("session.chat"), this.chat.open, () => this.chat.toggle());
    if (unread > 0) {
      chat.append(" ", h("span", { class: "unread", "aria-label": t("chat.unread", { n: unread }) }, String(unread)));
    }
    const files = this.files.useful
      ? toggle(t("session.files"), this.files.open, () => {
          this.files.toggle();
          this.renderToolbar();
        })
      : null;
    const stats = toggle(t("session.stats"), this.showStats, () => {
      this.showStats = !this.showStats;
      this.statsBox.hidden = !this.showStats;
      if (this.showStats) this.renderStats();
      this.renderToolbar();
    });
    const lock = control
      ? toggle(t("session.pointerLock"), document.pointerLockElement === this.stage, () => {
          if (document.pointerLockElement === this.stage) document.exitPointerLock();
          else void this.stage.requestPointerLock?.();
        })
      : null;
    const full = toggle(t("session.fullscreen"), document.fullscreenElement === this.root, () => void this.toggleFullscreen());
    const end = h("button", { type: "button", class: "danger" }, t("session.end"));
    end.addEventListener("click", () => this.ctx.end());

    replace(
      this.toolbar,
      badge,
      recorded,
      title,
      h("span", { class: "compact" }, field(t("session.display"), displaySel)),
      keys,
      h("span", { class: "compact" }, field(t("session.quality"), quality)),
      h("span", { class: "compact" }, field(t("session.fps"), fps)),
      record,
      copy,
      chat,
      files,
      clip,
      lock,
      full,
      stats,
      end,
    );
  }

  private async toggleFullscreen(): Promise<void> {
    if (document.fullscreenElement) {
      await document.exitFullscreen().catch(() => undefined);
    } else {
      await this.root.requestFullscreen().catch(() => undefined);
      // In full screen, the Keyboard Lock API lets Alt+Tab, Ctrl+W and the like reach the remote.
      const kb = (navigator as Navigator & { keyboard?: { lock?: () => Promise<void> } }).keyboard;
      if (this.ctx.control) await kb?.lock?.().catch(() => undefined);
    }
    this.renderToolbar();
  }

  private renderStats(): void {
    const s = this.lastStats;
    const num = (v: number | null | undefined, digits: number, unit: string): string => (v == null ? "—" : `${v.toFixed(digits)} ${unit}`);
    const rows: Array<[string, string]> = [
      [t("stats.fps"), num(s?.fps, 0, "")],
      [t("stats.bitrate"), num(s?.bitrateKbps, 0, "kbit/s")],
      [t("stats.rtt"), num(s?.rttMs, 1, "ms")],
      [t("stats.decode"), num(s?.decodeMs, 1, "ms")],
      [t("stats.encode"), num(s?.encodeMs, 1, "ms")],
      [t("stats.path"), t(`path.${s?.path ?? "unknown"}`)],
      [t("stats.resolution"), s && s.width ? `${s.width}×${s.height}` : "—"],
      [t("stats.codec"), s?.codec ?? "—"],
    ];
    replace(this.statsBox, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  private renderClipboard(): void {
    const s = this.ctx.session;
    const note = h("p", { role: "status", class: "hint" });
    const remote = h("textarea", { readonly: true, rows: 3 });
    remote.value = this.remoteClip ?? "";
    const copy = h("button", { type: "button", disabled: this.remoteClip === null }, t("clip.copy"));
    copy.addEventListener("click", () => {
      void navigator.clipboard?.writeText(remote.value).then(
        () => (note.textContent = t("clip.copied")),
        () => remote.select(),
      );
    });
    const local = h("textarea", { rows: 3, disabled: !this.ctx.control });
    const paste = h("button", { type: "button", disabled: !this.ctx.control }, t("clip.paste"));
    paste.addEventListener("click", () => {
      void navigator.clipboard?.readText().then((text) => (local.value = text)).catch(() => local.focus());
    });
    const send = h("button", { type: "button", class: "primary", disabled: !this.ctx.control }, t("clip.send"));
    send.addEventListener("click", () => {
      if (new TextEncoder().encode(local.value).length > MAX_CLIPBOARD) {
        note.textContent = t("clip.tooLong");
        return;
      }
      s.control({ type: "clipboard", text: local.value });
      note.textContent = t("clip.sent");
    });
    const close = h("button", { type: "button" }, t("clip.close"));
    close.addEventListener("click", () => {
      this.clipBox.hidden = true;
      this.renderToolbar();
      this.sink.focus();
    });
    replace(
      this.clipBox,
      h("h2", { id: "clip-title" }, t("clip.title")),
      field(t("clip.remote"), remote, this.remoteClip === null ? t("clip.none") : undefined),
      copy,
      field(t("clip.local"), local),
      h("div", { class: "row" }, paste, send),
      note,
      close,
    );
  }

  /** Files dropped anywhere on the session go to the other computer. */
  private acceptDrops(sender: FileSender, panel: FilesPanel): void {
    const wrap = this.root;
    const hasFiles = (ev: DragEvent): boolean => ev.dataTransfer?.types.includes("Files") ?? false;
    this.listen(wrap, "dragover", (ev: DragEvent) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = "copy";
    });
    this.listen(wrap, "drop", (ev: DragEvent) => {
      if (!hasFiles(ev) || !ev.dataTransfer) return;
      ev.preventDefault();
      panel.toggle(true);
      sender.queue(Array.from(ev.dataTransfer.files));
      this.renderToolbar();
    });
  }

  private sendChord(codes: readonly string[]): void {
    const usages = chordUsages(codes);
    for (const usage of usages) this.ctx.session.send({ type: "key_down", usage });
    for (const usage of [...usages].reverse()) this.ctx.session.send({ type: "key_up", usage });
    this.sink.focus();
  }

  /** Maps a pointer event to the active display and sends the move (on `input` when ordered). */
  private move(ev: PointerEvent | MouseEvent, ordered: boolean): void {
    const v = this.video;
    if (!v.videoWidth) return;
    let x = ev.clientX;
    let y = ev.clientY;
    if (document.pointerLockElement === this.stage) {
      const box = v.getBoundingClientRect();
      this.locked.x = Math.min(box.right, Math.max(box.left, this.locked.x + ev.movementX));
      this.locked.y = Math.min(box.bottom, Math.max(box.top, this.locked.y + ev.movementY));
      x = this.locked.x;
      y = this.locked.y;
    }
    const p = toRemote(x, y, v.getBoundingClientRect(), v.videoWidth, v.videoHeight);
    if (p) this.ctx.session.send({ type: "pointer_move", display: this.active, x: p.x, y: p.y }, ordered);
  }

  private attachInput(): void {
    const st = this.stage;
    const s = this.ctx.session;
    // Chromium aligns pointermove to animation frames (up to 16 ms late); pointerrawupdate
    // fires as the OS reports each move. Use it where the browser has it (it carries the same
    // PointerEvent; TypeScript's DOM types do not list it yet, hence the cast).
    const moveEvent: "pointermove" = "onpointerrawupdate" in window ? ("pointerrawupdate" as "pointermove") : "pointermove";
    this.listen(st, moveEvent, (ev: PointerEvent) => this.move(ev, false));
    this.listen(st, "pointerdown", (ev: PointerEvent) => {
      ev.preventDefault();
      this.sink.focus({ preventScroll: true });
      const button = buttonFromDom(ev.button);
      if (!button) return;
      st.setPointerCapture?.(ev.pointerId);
      this.locked = { x: ev.clientX, y: ev.clientY };
      // The press must land where the pointer is: repeat the position on the ordered channel.
      this.move(ev, true);
      s.send({ type: "button_down", button });
    });
    this.listen(st, "pointerup", (ev: PointerEvent) => {
      const button = buttonFromDom(ev.button);
      if (!button) return;
      this.move(ev, true);
      s.send({ type: "button_up", button });
    });
    this.listen(st, "contextmenu", (ev: Event) => ev.preventDefault());
    this.listen(st, "auxclick", (ev: Event) => ev.preventDefault());
    this.listen(
      st,
      "wheel",
      (ev: WheelEvent) => {
        ev.preventDefault();
        const mode = ev.deltaMode ?? DOM_DELTA_PIXEL;
        this.wheelRest.x += wheelUnits(ev.deltaX, mode);
        this.wheelRest.y += wheelUnits(ev.deltaY, mode);
        const dx = Math.trunc(this.wheelRest.x);
        const dy = Math.trunc(this.wheelRest.y);
        this.wheelRest.x -= dx;
        this.wheelRest.y -= dy;
        if (dx || dy) s.send({ type: "wheel", dx, dy });
      },
      { passive: false },
    );
    this.listen(this.sink, "keydown", (ev: KeyboardEvent) => {
      if (ev.isComposing || ev.keyCode === 229) return; // the IME has it; its result comes as text
      const usage = usageFromCode(ev.code);
      ev.preventDefault(); // browser shortcuts stay on the remote side
      if (ev.repeat) return; // the remote OS repeats held keys itself
      if (usage !== null) s.send({ type: "key_down", usage });
      else if (ev.key.length > 0 && [...ev.key].length === 1) for (const e of textEvents(ev.key)) s.send(e);
    });
    this.listen(this.sink, "keyup", (ev: KeyboardEvent) => {
      if (ev.isComposing) return;
      const usage = usageFromCode(ev.code);
      ev.preventDefault();
      if (usage !== null) s.send({ type: "key_up", usage });
    });
    this.listen(this.sink, "compositionstart", () => (this.composing = true));
    this.listen(this.sink, "compositionend", (ev: CompositionEvent) => {
      this.composing = false;
      for (const e of textEvents(ev.data ?? "")) s.send(e);
      this.sink.value = "";
    });
    this.listen(this.sink, "input", () => {
      if (!this.composing) this.sink.value = "";
    });
    this.listen(this.sink, "blur", () => this.releaseAll());
    this.listen(window, "blur", () => this.releaseAll());
    this.listen(document, "pointerlockchange", () => this.renderToolbar());
    this.listen(document, "fullscreenchange", () => this.renderToolbar());
  }
}
