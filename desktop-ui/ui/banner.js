// @ts-check
// The banner that stays on screen while someone is connected: who, and Chat (with the count of
// new messages; it opens the main window), Pause, View only and Stop. With several supporters connected it speaks of them all and its buttons act on all
// (the main window lists each session with its own buttons).
import { errorText, invoke, sessionLine, start, subscribe, t } from "./common.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any[]} */
let sessions = [];

/** The sessions in which the supporter may control. */
const controlling = () => sessions.filter((s) => s.control);

/** Calls `cmd` for each of `targets`, each with its own arguments. @param {string} cmd @param {any[]} targets @param {(s: any) => Record<string, unknown>} args */
async function each(cmd, targets, args) {
  for (const s of targets) {
    try {
      await invoke(cmd, args(s));
    } catch (e) {
      $("text").textContent = errorText(e);
    }
  }
}

function render() {
  const first = sessions[0];
  if (!first) return;
  // Said for as long as any session is being recorded.
  const recorded = sessions.some((s) => s.recorded) ? ` ${t("recordedNow")}` : "";
  $("text").textContent = (sessions.length === 1 ? sessionLine(first) : t("manyConnected", { count: sessions.length })) + recorded;
  const ctl = controlling();
  const paused = ctl.length > 0 && ctl.every((s) => s.paused);
  $("pause").textContent = t(paused ? "resume" : "pause");
  $("pause").hidden = ctl.length === 0;
  $("view-only").hidden = ctl.length === 0;
  const unread = sessions.reduce((n, s) => n + (s.unread ?? 0), 0);
  $("chat").textContent = unread > 0 ? t("chatUnread", { n: unread }) : t("chat");
  $("chat").classList.toggle("news", unread > 0);
}

async function main() {
  await start();
  $("pause").addEventListener("click", () => {
    const ctl = controlling();
    const pause = !ctl.every((s) => s.paused);
    each("pause_input", ctl, (s) => ({ sessionId: s.id, paused: pause }));
  });
  $("view-only").addEventListener("click", () => each("view_only", controlling(), (s) => ({ sessionId: s.id })));
  $("stop").addEventListener("click", () => each("stop_session", sessions, (s) => ({ sessionId: s.id })));
  // The chats are in the main window.
  $("chat").addEventListener("click", () => invoke("show_chat").catch((/** @type {any} */ e) => ($("text").textContent = errorText(e))));
  await subscribe((status) => {
    sessions = status.sessions;
    render();
  });
}

main();
