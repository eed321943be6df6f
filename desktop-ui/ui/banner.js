// @ts-check
// The banner that stays on screen while someone is connected: who, and Pause, View only, Stop
// for the first session (the main window lists every session).
import { errorText, invoke, sessionLine, start, subscribe, t } from "./common.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let session = null;

/** @param {string} cmd @param {Record<string, unknown>} args */
async function act(cmd, args) {
  try {
    await invoke(cmd, args);
  } catch (e) {
    $("text").textContent = errorText(e);
  }
}

async function main() {
  await start();
  $("pause").addEventListener("click", () => session && act("pause_input", { sessionId: session.id, paused: !session.paused }));
  $("view-only").addEventListener("click", () => session && act("view_only", { sessionId: session.id }));
  $("stop").addEventListener("click", () => session && act("stop_session", { sessionId: session.id }));
  await subscribe((status) => {
    session = status.sessions[0] ?? null;
    if (!session) return;
    $("text").textContent = sessionLine(session);
    $("pause").textContent = t(session.paused ? "resume" : "pause");
    $("pause").hidden = !session.control;
    $("view-only").hidden = !session.control;
  });
}

main();
