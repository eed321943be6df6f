// Recordings: the sessions recorded that the signed-in member may see (their own, those shared
// with them or their role, or all of them for owners and admins), a filter, and a player that
// seeks through the relay with Range requests. Admins share a recording with roles and delete it.

import { ApiError, api, type Me } from "./api";
import { field, h, replace, when } from "./dom";
import { errorText } from "./errors";
import type { Recording, RecordingGrant, Role } from "./generated/api";
import type { Timeline, TimelineEvent } from "./generated/signal";
import { language, t } from "./i18n";

/** The roles a recording can be shared with (owners and admins see every recording anyway). */
const SHAREABLE: Role[] = ["technician", "viewer"];

function failure(e: unknown): string {
  return e instanceof ApiError ? errorText(e.code, e.retryAfterMs) : String(e);
}

/** Bytes as a short figure in the page's language. */
function size(bytes: number): string {
  const [n, unit] = bytes < 1e6 ? [bytes / 1e3, "kB"] : bytes < 1e9 ? [bytes / 1e6, "MB"] : [bytes / 1e9, "GB"];
  return `${n.toLocaleString(language(), { maximumFractionDigits: n < 10 ? 1 : 0 })} ${unit}`;
}

/** Whether `r` matches every word of `query` (session, state, date). */
function matches(r: Recording, query: string): boolean {
  const hay = `${r.id} ${r.session_id} ${when(r.started_at, language())} ${r.sealed_at === null ? t("rec.live") : t("rec.ended")}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

/** Renders the recordings page into `root`. */
export async function renderRecordings(root: HTMLElement, me: Me): Promise<void> {
  const status = h("p", { role: "alert", class: "error" });
  const player = h("section", { class: "card wide", "aria-labelledby": "player-title", hidden: true });
  const list = h("div");
  const search = h("input", { type: "search" });
  const section = h(
    "section",
    { class: "card wide", "aria-labelledby": "recordings-title" },
    h("h1", { id: "recordings-title" }, t("rec.title")),
    h("p", { class: "hint" }, t("rec.hint")),
    h("form", { class: "inline", role: "search", onsubmit: (ev: Event) => ev.preventDefault() }, field(t("rec.search"), search, t("rec.searchHint"))),
    status,
    list,
  );
  root.replaceChildren(section, player);
  let rows: Recording[];
  try {
    rows = await api<Recording[]>("GET", "/api/v1/recordings");
  } catch (e) {
    status.textContent = failure(e);
    return;
  }
  const admin = me.role === "owner" || me.role === "admin";
  const draw = (): void => {
    const shown = rows.filter((r) => matches(r, search.value));
    if (rows.length === 0) return replace(list, h("p", {}, t("rec.none")));
    if (shown.length === 0) return replace(list, h("p", {}, t("rec.noMatch")));
    const body = h("tbody");
    for (const r of shown) {
      const play = h("button", { type: "button", class: "small" }, t("rec.play"));
      play.addEventListener("click", () => open(player, r, admin, status, () => void renderRecordings(root, me)));
      body.append(
        h(
          "tr",
          {},
          h("td", {}, when(r.started_at, language())),
          h("td", {}, h("code", {}, r.session_id)),
          h("td", {}, r.sealed_at === null ? t("rec.live") : t("rec.ended")),
          h("td", { class: "num" }, String(r.segment_count)),
          h("td", { class: "num" }, size(r.bytes)),
          h("td", {}, play),
        ),
      );
    }
    const head = ["rec.started", "rec.session", "rec.state", "rec.segments", "rec.size"].map((k, i) =>
      h("th", { scope: "col", class: i >= 3 ? "num" : null }, t(k as Parameters<typeof t>[0])),
    );
    replace(
      list,
      h("table", {}, h("thead", {}, h("tr", {}, ...head, h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("rec.play"))))), body),
    );
  };
  search.addEventListener("input", draw);
  draw();
}

/** Shows recording `r` in `box`: the player, and for admins sharing and deleting. */
function open(box: HTMLElement, r: Recording, admin: boolean, status: HTMLElement, reload: () => void): void {
  const src = `/api/v1/recordings/${encodeURIComponent(r.id)}/video`;
  const video = h("video", { controls: true, preload: "metadata", src, "aria-label": t("rec.videoOf", { when: when(r.started_at, language()) }) });
  video.addEventListener("error", () => (status.textContent = t("rec.cannotPlay")));
  const events = h("aside", { class: "timeline", "aria-labelledby": "timeline-title" }, h("h3", { id: "timeline-title" }, t("rec.timeline")));
  const parts: (HTMLElement | null)[] = [
    h("h2", { id: "player-title" }, t("rec.playerTitle", { when: when(r.started_at, language()) })),
    h("div", { class: "player" }, video, events),
    r.sealed_at === null ? h("p", { class: "hint" }, t("rec.stillRecording")) : null,
  ];
  if (r.sealed_at !== null) {
    api<Timeline>("GET", `/api/v1/recordings/${encodeURIComponent(r.id)}/timeline`)
      .then((tl) => events.append(timeline(tl, video)))
      .catch((e: unknown) => (status.textContent = failure(e)));
  }
  if (admin) parts.push(sharing(r, status), remove(r, status, reload));
  replace(box, ...parts);
  box.hidden = false;
  video.focus();
}

/** `m:ss` (or `h:mm:ss`) of `ms` milliseconds. */
function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/** What one event says, in the page's language. */
function eventText(e: TimelineEvent): string {
  switch (e.kind) {
    case "click":
      return t(e.button === "right" ? "rec.evRightClick" : "rec.evClick");
    case "keys":
      return t("rec.evKeys", { n: e.count });
    case "clipboard":
      return t(e.to_agent ? "rec.evClipTo" : "rec.evClipFrom", { n: e.chars });
    case "file": {
      const outcome = t(e.outcome === "saved" ? "rec.outSaved" : e.outcome === "failed" ? "rec.outFailed" : "rec.outCancelled");
      return t(e.direction === "to_agent" ? "rec.evFileTo" : "rec.evFileFrom", { name: e.name, size: size(e.size), outcome });
    }
    case "display":
      return t("rec.evDisplay", { n: e.index + 1 });
  }
}

/** The timeline's events, each a button that plays the recording from a moment before it. */
function timeline(tl: Timeline, video: HTMLVideoElement): HTMLElement {
  if (tl.events.length === 0) return h("p", { class: "hint" }, t("rec.timelineEmpty"));
  const list = h("ol");
  for (const e of tl.events) {
    const at = h("button", { type: "button", class: "link", "aria-label": t("rec.seekTo", { at: clock(e.t_ms) }) }, clock(e.t_ms));
    at.addEventListener("click", () => {
      video.currentTime = Math.max(0, e.t_ms / 1000 - 1);
      void video.play().catch(() => undefined);
    });
    list.append(h("li", { "data-kind": e.kind }, at, " ", eventText(e)));
  }
  const more = tl.dropped > 0 ? h("p", { class: "hint" }, t("rec.dropped", { n: tl.dropped })) : null;
  return h("div", {}, list, more);
}

/** The roles' boxes: who besides the admins and its owner may watch, download or delete it. */
function sharing(r: Recording, status: HTMLElement): HTMLElement {
  const saved = h("p", { role: "status", class: "hint" });
  const boxes = SHAREABLE.map((role) => {
    const had = r.access.find((g) => "role" in g.grantee && g.grantee.role === role);
    const view = h("input", { type: "checkbox", checked: had !== undefined });
    const download = h("input", { type: "checkbox", checked: had?.download ?? false });
    const del = h("input", { type: "checkbox", checked: had?.delete ?? false });
    return { role, view, download, del };
  });
  const form = h(
    "form",
    { class: "policy" },
    h(
      "fieldset",
      {},
      h("legend", {}, t("rec.shareWith")),
      ...boxes.map((b) =>
        h(
          "p",
          {},
          h("strong", {}, t(`role.${b.role}` as Parameters<typeof t>[0])),
          " ",
          h("label", { class: "choice" }, b.view, t("rec.canWatch")),
          h("label", { class: "choice" }, b.download, t("rec.canDownload")),
          h("label", { class: "choice" }, b.del, t("rec.canDelete")),
        ),
      ),
    ),
    h("button", { type: "submit" }, t("rec.saveSharing")),
    saved,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    // Members named one by one (through the API) are kept; the roles are as ticked.
    const grants: RecordingGrant[] = r.access.filter((g) => !("role" in g.grantee));
    for (const b of boxes) {
      if (b.view.checked || b.download.checked || b.del.checked) {
        grants.push({ grantee: { role: b.role }, download: b.download.checked, delete: b.del.checked });
      }
    }
    api<Recording>("PUT", `/api/v1/recordings/${encodeURIComponent(r.id)}/access`, grants)
      .then((now) => {
        r.access = now.access;
        saved.textContent = t("rec.sharingSaved");
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  return form;
}

function remove(r: Recording, status: HTMLElement, reload: () => void): HTMLElement {
  const button = h("button", { type: "button", class: "danger" }, t("rec.delete"));
  button.addEventListener("click", () => {
    if (!window.confirm(t("rec.deleteConfirm"))) return;
    api("DELETE", `/api/v1/recordings/${encodeURIComponent(r.id)}`)
      .then(reload)
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  return h("p", {}, button);
}
