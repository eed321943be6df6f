// @ts-check
// The main window: share code with copy, renewal and countdown; the relay connection; who is
// connected, with Pause, View only and Stop, the chat and the files; settings; the viewer for
// support staff.
import { errorText, invoke, sessionLine, sizeText, start, subscribe, t, who } from "./common.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let status = null;

/** "9:58" from milliseconds. @param {number} ms */
function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function renderConnection() {
  const c = status.connection;
  const el = $("connection");
  el.dataset.state = c.state;
  const relay = status.relay;
  switch (c.state) {
    case "connected": el.textContent = t("connConnected", { relay }); break;
    case "connecting": el.textContent = t("connConnecting", { relay }); break;
    case "reconnecting":
      el.textContent = t("connReconnecting", {
        s: Math.max(0, Math.ceil((c.retryAtMs - Date.now()) / 1000)),
        reason: c.reason,
      });
      break;
    case "offline": el.textContent = t("connOffline", { reason: c.reason }); break;
    default: el.textContent = t("connUnconfigured");
  }
}

function renderCode() {
  const code = status.code;
  $("code").textContent = code ? code.grouped : t("noCode");
  $("code").dataset.digits = code ? code.digits : "";
  /** @type {HTMLButtonElement} */ ($("copy")).disabled = !code;
  /** @type {HTMLButtonElement} */ ($("renew")).disabled = status.connection.state !== "connected";
  if (!code) {
    $("expiry").textContent = "";
    return;
  }
  const left = code.expiresAtMs - Date.now();
  $("expiry").textContent = left > 0 ? t("expiresIn", { t: clock(left) }) : t("expired");
}

/**
 * Each session's list item, kept across renders so that a message being typed (and the focus)
 * survives status updates.
 * @type {Map<string, {li: HTMLElement, line: HTMLElement, buttons: HTMLElement, heading: HTMLElement, log: HTMLElement, label: HTMLElement, input: HTMLInputElement, send: HTMLButtonElement, note: HTMLElement, files: HTMLElement}>}
 */
const items = new Map();

/** @param {any} s */
function sessionItem(s) {
  const kept = items.get(s.id);
  if (kept) return kept;
  /** @type {<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string) => HTMLElementTagNameMap[K]} */
  const el = (tag, cls) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  };
  const li = el("li");
  li.dataset.session = s.id;
  const line = el("p");
  const buttons = el("div", "buttons");
  const chat = el("section", "chat");
  const heading = el("h3");
  const log = el("ol", "chat-log");
  log.setAttribute("aria-live", "polite");
  const form = el("form", "chat-form");
  const label = el("label");
  const input = el("input");
  input.id = `chat-${s.id}`;
  input.type = "text";
  input.autocomplete = "off";
  label.htmlFor = input.id;
  const send = el("button");
  send.type = "submit";
  const note = el("p");
  note.setAttribute("role", "alert");
  form.append(label, input, send);
  // Turning to the chat reads it.
  input.addEventListener("focus", () => markRead(s.id));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!input.value.trim()) return;
    try {
      await invoke("send_chat", { sessionId: s.id, text: input.value });
      input.value = "";
      note.textContent = "";
    } catch (e) {
      note.textContent = errorText(e);
    }
  });
  chat.append(heading, log, form, note);
  const files = el("section", "files");
  li.append(line, buttons, chat, files);
  const item = { li, line, buttons, heading, log, label, input, send, note, files };
  items.set(s.id, item);
  return item;
}

/** Marks a session's chat read, if it has news. @param {string} id */
function markRead(id) {
  const s = status?.sessions.find((/** @type {any} */ x) => x.id === id);
  if (s?.unread > 0) invoke("read_chat", { sessionId: id }).catch(() => {});
}

/** "10:42" in the page's language. @param {number} ms */
function timeOf(ms) {
  return new Date(ms).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
}

function renderSessions() {
  const list = $("sessions");
  $("sessions-section").hidden = status.sessions.length === 0;
  for (const id of [...items.keys()]) {
    if (!status.sessions.some((/** @type {any} */ s) => s.id === id)) items.delete(id);
  }
  /** @type {HTMLElement[]} */
  const want = status.sessions.map((/** @type {any} */ s) => {
    const it = sessionItem(s);
    it.line.textContent = sessionLine(s) + (s.unattended ? ` ${t("unattended")}` : "") + (s.recorded ? ` ${t("recordedNow")}` : "");
    const buttons = [];
    if (s.control) {
      buttons.push(
        button(s.paused ? "resume" : "pause", () => act("pause_input", { sessionId: s.id, paused: !s.paused })),
        button("viewOnly", () => act("view_only", { sessionId: s.id })),
      );
    }
    const stop = button("stop", () => act("stop_session", { sessionId: s.id }));
    stop.className = "danger";
    it.buttons.replaceChildren(...buttons, stop);
    it.heading.textContent = t("chatWith", { name: s.name });
    it.label.textContent = t("chatMessage", { name: s.name });
    it.send.textContent = t("chatSend");
    it.log.replaceChildren(
      ...(s.chat.length === 0
        ? [Object.assign(document.createElement("li"), { className: "muted", textContent: t("chatEmpty") })]
        : s.chat.map((/** @type {any} */ m) => {
            const li = document.createElement("li");
            li.className = m.fromSupporter ? "theirs" : "mine";
            const by = document.createElement("strong");
            by.textContent = m.fromSupporter ? s.name : t("chatYou");
            const time = document.createElement("time");
            time.dateTime = new Date(m.atMs).toISOString();
            time.textContent = ` ${timeOf(m.atMs)}`;
            const text = document.createElement("p");
            text.textContent = m.text;
            li.append(by, time, text);
            return li;
          })),
    );
    it.log.scrollTop = it.log.scrollHeight;
    renderFiles(it.files, s);
    return it.li;
  });
  // Moving a list item would take the focus from the message being typed: only when needed.
  if (want.length !== list.children.length || want.some((li, i) => list.children[i] !== li)) list.replaceChildren(...want);
}

/**
 * A session's files: the way to send some, and every transfer either way. Built once per
 * session and updated, so the buttons keep the focus while progress comes in.
 * @param {HTMLElement} section @param {any} s
 */
function renderFiles(section, s) {
  if (!section.firstChild) {
    const heading = document.createElement("h3");
    const off = Object.assign(document.createElement("p"), { className: "muted files-off" });
    const hint = Object.assign(document.createElement("p"), { className: "muted files-hint" });
    const looking = Object.assign(document.createElement("p"), { className: "files-looking" });
    const note = Object.assign(document.createElement("p"), { className: "files-note" });
    note.setAttribute("role", "alert");
    const buttons = Object.assign(document.createElement("div"), { className: "buttons" });
    buttons.append(
      button("sendFiles", () => act("send_files", { sessionId: s.id }, note)),
      button("cancelFiles", () => act("cancel_files", { sessionId: s.id }, note)),
      // Kept across renders, unlike the list's rows, so a click lands while progress redraws.
      button("cancelReceiving", () => act("cancel_incoming", { sessionId: s.id }, note)),
    );
    // Not a live region: progress redraws it several times a second.
    const list = Object.assign(document.createElement("ol"), { className: "transfers" });
    section.append(heading, off, hint, looking, buttons, note, list);
  }
  /** @param {string} sel */
  const q = (sel) => /** @type {HTMLElement} */ (section.querySelector(sel));
  q("h3").textContent = t("files");
  q(".files-off").textContent = t("filesOff");
  q(".files-off").hidden = s.files;
  q(".files-hint").textContent = t("filesHint", { name: s.name });
  q(".files-hint").hidden = !s.files;
  q(".files-looking").textContent = s.lookingIn ? t("lookingIn", { name: s.name, path: s.lookingIn }) : "";
  q(".files-looking").hidden = !s.lookingIn;
  q(".buttons").hidden = !s.files;
  const busy = s.transfers.some((/** @type {any} */ x) => x.outgoing && (x.state === "queued" || x.state === "sending"));
  q("[data-action=cancelFiles]").hidden = !busy;
  const coming = s.transfers.find((/** @type {any} */ x) => !x.outgoing && x.state === "receiving");
  const stop = q("[data-action=cancelReceiving]");
  stop.hidden = !coming;
  stop.textContent = coming ? t("cancelReceivingOf", { name: coming.name }) : t("cancelReceiving");
  q(".transfers").replaceChildren(...s.transfers.map((/** @type {any} */ x) => transferItem(x, s)));
}

/** One transfer's line. @param {any} x @param {any} s */
function transferItem(x, s) {
  const li = document.createElement("li");
  li.dataset.state = x.state;
  const size = sizeText(x.size);
  let text;
  switch (x.state) {
    case "queued": text = t("fileQueued", { name: x.name, size }); break;
    case "sending":
    case "receiving": {
      const secs = x.startedMs && x.updatedMs ? (x.updatedMs - x.startedMs) / 1000 : 0;
      const speed = secs > 0.5 && x.done > 0 ? ` · ${sizeText(x.done / secs)}/s` : "";
      const key = x.state === "receiving" ? "fileReceiving" : x.fetched ? "fileTaking" : "fileSending";
      text = t(key, { name: x.name, who: who(s), done: sizeText(x.done), size, speed });
      const bar = document.createElement("progress");
      bar.max = Math.max(1, x.size);
      bar.value = x.done;
      li.append(bar);
      break;
    }
    case "sent": text = t(x.fetched ? "fileTaken" : "fileSent", { name: x.name, who: who(s), size }); break;
    case "received": text = t("fileReceived", { name: x.name, path: x.detail ?? "" }); break;
    default: {
      // The app's own words where it has them; the agent's English otherwise.
      const reason = x.failure ? t(`why.${x.failure.code}`, { max: sizeText(x.failure.max ?? 0) }) : (x.detail ?? "");
      text = t(x.outgoing ? "fileNotSent" : "fileNotReceived", { name: x.name, reason });
    }
  }
  li.prepend(Object.assign(document.createElement("span"), { textContent: text }));
  return li;
}

/** @param {string} key @param {() => void} onclick */
function button(key, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = t(key);
  b.dataset.action = key;
  b.addEventListener("click", onclick);
  return b;
}

/**
 * Calls a command; its error shows in the `message` element (or the one of that id).
 * @param {string} cmd @param {Record<string, unknown>} args @param {string | HTMLElement} [message]
 */
async function act(cmd, args, message = "viewer-message") {
  const el = typeof message === "string" ? $(message) : message;
  try {
    await invoke(cmd, args);
    el.textContent = "";
  } catch (e) {
    el.textContent = errorText(e);
  }
}

/** The missing permissions last rendered, so a status change elsewhere keeps their buttons. */
let shownMissing = "";

/** What the system does not allow yet, each with its steps and the way to grant it. */
function renderPermissions() {
  const missing = status.missing ?? [];
  $("permissions").hidden = missing.length === 0;
  const key = JSON.stringify(missing);
  if (key === shownMissing) return;
  shownMissing = key;
  $("permission-list").replaceChildren(
    ...missing.map((/** @type {any} */ m) => {
      const li = document.createElement("li");
      li.dataset.kind = m.kind;
      const h = document.createElement("h3");
      h.textContent = t(`perm.${m.kind}.title`);
      const p = document.createElement("p");
      p.textContent = t(`perm.${m.kind}.steps`, { reason: m.reason ?? "" });
      li.append(h, p);
      if (m.kind === "screen_recording" || m.kind === "accessibility") {
        const buttons = document.createElement("div");
        buttons.className = "buttons";
        buttons.append(button("permOpenSettings", () => act("open_permission_settings", { kind: m.kind }, "permission-message")));
        // macOS gives a Screen Recording grant only to a process started after it.
        if (m.kind === "screen_recording") buttons.append(button("permRelaunch", () => act("relaunch", {}, "permission-message")));
        li.append(buttons);
      }
      return li;
    }),
  );
}

function render() {
  renderPermissions();
  renderConnection();
  renderCode();
  renderSessions();
  /** @type {HTMLInputElement} */ const relay = /** @type {any} */ ($("relay"));
  if (document.activeElement !== relay && !relay.dataset.dirty) relay.value = status.relay;
  relay.disabled = status.relayLocked;
  /** @type {HTMLButtonElement} */ ($("save")).disabled = status.relayLocked;
  $("relay-locked").hidden = !status.relayLocked;
}

async function copyCode() {
  const digits = $("code").dataset.digits ?? "";
  try {
    await navigator.clipboard.writeText(digits);
  } catch {
    // Older web views: copy through a selection.
    const area = document.createElement("textarea");
    area.value = digits;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  $("copy").textContent = t("copied");
  setTimeout(() => ($("copy").textContent = t("copy")), 1500);
}

async function main() {
  await start();
  $("copy").addEventListener("click", copyCode);
  $("renew").addEventListener("click", () => act("renew_code", {}));
  $("recheck").addEventListener("click", () => act("check_permissions", {}, "permission-message"));
  $("relay").addEventListener("input", () => ($("relay").dataset.dirty = "1"));
  $("settings-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const relayUrl = /** @type {HTMLInputElement} */ ($("relay")).value;
    try {
      await invoke("save_settings", { relayUrl });
      delete $("relay").dataset.dirty;
      $("settings-message").textContent = t("saved");
    } catch (e) {
      $("settings-message").textContent = errorText(e);
    }
  });
  $("open-viewer").addEventListener("click", async () => {
    try {
      await invoke("open_viewer");
      $("viewer-message").textContent = "";
    } catch (e) {
      $("viewer-message").textContent = errorText(e);
    }
  });
  await subscribe((s) => {
    status = s;
    render();
  });
  // The countdowns move on their own between status changes.
  setInterval(() => status && (renderCode(), renderConnection()), 1000);
  // While something is missing, a switch turned on in the system settings shows by itself.
  setInterval(() => status?.missing?.length && invoke("check_permissions").catch(() => {}), 3000);
}

main();
