// @ts-check
// The consent dialog. It never answers by itself: when the time runs out the agent counts the
// silence as a deny and closes it. Deny is focused first, so Enter or Escape deny.
import { errorText, invoke, start, subscribe, t } from "./common.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let request = null;

/** @param {"allow_control" | "allow_control_without_files" | "allow_view" | "deny"} decision */
async function answer(decision) {
  if (!request) return;
  for (const b of document.querySelectorAll("button")) b.disabled = true;
  try {
    await invoke("answer_consent", { requestId: request.requestId, decision });
  } catch (e) {
    $("message").textContent = errorText(e);
  }
}

function countdown() {
  if (!request) return;
  const s = Math.max(0, Math.ceil((request.deadlineMs - Date.now()) / 1000));
  $("countdown").textContent = t("denyIn", { s });
}

async function main() {
  await start();
  $("deny").addEventListener("click", () => answer("deny"));
  $("allow-view").addEventListener("click", () => answer("allow_view"));
  $("allow-control").addEventListener("click", () => {
    const files = /** @type {HTMLInputElement} */ ($("files"));
    answer(files.checked || $("files-choice").hidden ? "allow_control" : "allow_control_without_files");
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") answer("deny");
  });
  await subscribe((status) => {
    const r = status.consent;
    if (!r || (request && request.requestId === r.requestId)) return;
    request = r;
    $("question").textContent = t(r.mode === "control" ? "askControl" : "askView", { name: r.name });
    $("identity").textContent = t("fromOrg", { email: r.email, org: r.org });
    $("verified").textContent = t(r.verified ? "verified" : "notVerified");
    $("verified").className = r.verified ? "ok" : "warn";
    // Said before the answer: denying refuses the recording with the session.
    $("recorded").hidden = !r.recorded && !r.mayRecord;
    $("recorded").textContent = r.recorded ? t("recorded", { org: r.org }) : r.mayRecord ? t("mayRecord", { org: r.org }) : "";
    // Asked to view only: there is no control to allow.
    $("allow-control").hidden = r.mode !== "control";
    // Control without files, when the organisation allows files at all.
    $("files-choice").hidden = r.mode !== "control" || !r.files;
    // The buttons work only once the question is on screen.
    for (const b of document.querySelectorAll("button")) b.disabled = false;
    countdown();
    $("deny").focus();
  });
  setInterval(countdown, 250);
}

main();
