// Session history: the organisation's sessions, newest first, with a way to end live ones.

import { ApiError, api, type Me, type SessionRecord } from "./api";
import { duration, h, when } from "./dom";
import { errorText, reasonText } from "./errors";
import { language, t } from "./i18n";

/** Renders the history page into `root`. */
export async function renderHistory(root: HTMLElement, me: Me): Promise<void> {
  const status = h("p", { role: "alert", class: "error" });
  const section = h("section", { class: "card wide", "aria-labelledby": "history-title" }, h("h1", { id: "history-title" }, t("history.title")), status);
  root.replaceChildren(section);
  let rows: SessionRecord[];
  try {
    rows = await api<SessionRecord[]>("GET", "/api/v1/sessions?limit=200");
  } catch (e) {
    status.textContent = e instanceof ApiError ? errorText(e.code, e.retryAfterMs) : String(e);
    return;
  }
  if (rows.length === 0) {
    section.append(h("p", {}, t("history.empty")));
    return;
  }
  const canEnd = me.role !== "viewer";
  const lang = language();
  const table = h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["history.started", "history.host", "history.mode", "history.duration", "history.reason", "history.chat"].map((k) =>
          h("th", { scope: "col" }, t(k as Parameters<typeof t>[0])),
        ),
        canEnd ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("history.end"))) : null,
      ),
    ),
  );
  const body = h("tbody");
  for (const r of rows) {
    let endButton: HTMLButtonElement | null = null;
    if (canEnd && r.ended_at === null) {
      endButton = h("button", { type: "button", class: "danger small" }, t("history.end"));
      endButton.addEventListener("click", () => {
        api("POST", `/api/v1/sessions/${encodeURIComponent(r.id)}/end`)
          .then(() => renderHistory(root, me))
          .catch((e: unknown) => (status.textContent = e instanceof ApiError ? errorText(e.code, e.retryAfterMs) : String(e)));
      });
    }
    body.append(
      h(
        "tr",
        {},
        h("td", {}, when(r.started_at, lang)),
        h("td", {}, r.hostname),
        h("td", {}, r.mode === "control" ? t("session.control") : t("session.viewOnly")),
        h("td", {}, r.ended_at === null ? t("history.live") : duration(r.ended_at - r.started_at)),
        h("td", {}, r.end_reason ? reasonText(r.end_reason) : "—"),
        h("td", { class: "num" }, r.chat_messages == null ? "—" : String(r.chat_messages)),
        canEnd ? h("td", {}, endButton) : null,
      ),
    );
  }
  table.append(body);
  section.append(table);
}
