// The organisation's admin page: users and roles, API keys, enrollment tokens and machines, and
// the audit log with filters.

import { api, type ApiKeyInfo, type AuditEntry, type Me, type Member } from "./api";
import type { CreatedKey, FilesBody, NewKey, RecordingMode, RecordingSettings, Role, RoleChange } from "./generated/api";
import { field, h, replace, when } from "./dom";
import { failure } from "./errors";
import { language, t } from "./i18n";
import { adminGroups, adminMachines, adminTokens } from "./machines";
import { ssoSettings } from "./sso-settings";

const ROLES = ["owner", "admin", "technician", "viewer"] as const satisfies readonly Role[];
const SCOPES = ["sessions:read", "sessions:end", "audit:read", "users:read", "users:write", "keys:write", "webhooks:write", "machines:write", "machines:read", "settings:write", "recordings:read", "recordings:write"];
const AUDIT_PAGE = 50;

function roleName(role: string): string {
  return ROLES.includes(role as (typeof ROLES)[number]) ? t(`role.${role as (typeof ROLES)[number]}`) : role;
}

async function users(box: HTMLElement, me: Me): Promise<void> {
  const status = h("p", { role: "status", class: "hint" });
  replace(box, h("h2", { id: "users-title" }, t("admin.users")), status);
  let list: Member[];
  try {
    list = await api<Member[]>("GET", "/api/v1/users");
  } catch (e) {
    status.textContent = failure(e);
    return;
  }
  const body = h("tbody");
  for (const u of list) {
    const select = h("select", { "aria-label": t("admin.roleOf", { name: u.full_name }), disabled: u.id === me.user_id });
    for (const r of ROLES) select.append(h("option", { value: r, selected: r === u.role }, roleName(r)));
    select.addEventListener("change", () => {
      api("PUT", `/api/v1/users/${u.id}/role`, { role: select.value as Role } satisfies RoleChange)
        .then(() => (status.textContent = t("admin.saved")))
        .catch((e: unknown) => {
          status.textContent = failure(e);
          select.value = u.role;
        });
    });
    body.append(h("tr", {}, h("td", {}, u.full_name), h("td", {}, u.email), h("td", {}, select)));
  }
  box.append(
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("admin.name")), h("th", { scope: "col" }, t("admin.email")), h("th", { scope: "col" }, t("admin.role")))),
      body,
    ),
  );
}

async function keys(box: HTMLElement): Promise<void> {
  const status = h("p", { role: "status", class: "hint" });
  replace(box, h("h2", { id: "keys-title" }, t("admin.keys")), status);
  let list: ApiKeyInfo[];
  try {
    list = await api<ApiKeyInfo[]>("GET", "/api/v1/api-keys");
  } catch (e) {
    status.textContent = failure(e);
    return;
  }
  const lang = language();
  const body = h("tbody");
  for (const k of list) {
    const revoke = k.revoked_at === null ? h("button", { type: "button", class: "danger small" }, t("admin.keyRevoke")) : null;
    revoke?.addEventListener("click", () => {
      api("DELETE", `/api/v1/api-keys/${k.id}`)
        .then(() => keys(box))
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    body.append(
      h(
        "tr",
        {},
        h("td", {}, k.name),
        h("td", {}, k.scopes.join(", ")),
        h("td", {}, when(k.created_at, lang)),
        h("td", {}, k.revoked_at === null ? revoke : when(k.revoked_at, lang)),
      ),
    );
  }
  const name = h("input", { type: "text", required: true, maxlength: 100 });
  const checks = SCOPES.map((s) => h("input", { type: "checkbox", value: s }));
  const create = h(
    "form",
    { class: "inline" },
    field(t("admin.keyName"), name),
    h("fieldset", {}, h("legend", {}, t("admin.keyScopes")), ...checks.map((c) => h("label", { class: "choice" }, c, c.value))),
    h("button", { type: "submit" }, t("admin.keyCreate")),
  );
  create.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const scopes = checks.filter((c) => c.checked).map((c) => c.value);
    api<CreatedKey>("POST", "/api/v1/api-keys", { name: name.value.trim(), scopes } satisfies NewKey)
      .then(async (r) => {
        await keys(box);
        box.append(h("p", { role: "alert", class: "secret" }, t("admin.keyOnce"), " ", h("code", {}, r.key)));
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  box.append(
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...(["admin.keyName", "admin.keyScopes", "admin.keyCreated", "admin.keyRevoked"] as const).map((k) => h("th", { scope: "col" }, t(k))),
        ),
      ),
      body,
    ),
    create,
  );
}

async function audit(box: HTMLElement): Promise<void> {
  const action = h("input", { type: "text", name: "action", placeholder: t("admin.any") });
  const outcome = h("input", { type: "text", name: "outcome", placeholder: t("admin.any") });
  const status = h("p", { role: "status", class: "hint" });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, t("admin.older"));
  let before: number | null = null;
  const lang = language();

  const load = async (reset: boolean): Promise<void> => {
    if (reset) {
      before = null;
      body.replaceChildren();
    }
    const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (action.value.trim()) q.set("action", action.value.trim());
    if (outcome.value.trim()) q.set("outcome", outcome.value.trim());
    if (before !== null) q.set("before", String(before));
    let rows: AuditEntry[];
    try {
      rows = await api<AuditEntry[]>("GET", `/api/v1/audit?${q}`);
    } catch (e) {
      status.textContent = failure(e);
      return;
    }
    status.textContent = reset && rows.length === 0 ? t("admin.none") : "";
    for (const r of rows) {
      body.append(
        h(
          "tr",
          {},
          h("td", {}, when(r.at, lang)),
          h("td", {}, r.actor),
          h("td", {}, r.action),
          h("td", {}, r.outcome),
          h("td", {}, h("code", {}, JSON.stringify(r.detail))),
        ),
      );
      before = r.id;
    }
    more.hidden = rows.length < AUDIT_PAGE;
  };
  const filter = h("form", { class: "inline", role: "search" }, field(t("admin.action"), action), field(t("admin.outcome"), outcome), h("button", { type: "submit" }, t("admin.filter")));
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load(true);
  });
  more.addEventListener("click", () => void load(false));
  replace(
    box,
    h("h2", { id: "audit-title" }, t("admin.audit")),
    filter,
    status,
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h("tr", {}, ...(["admin.when", "admin.actor", "admin.action", "admin.outcome", "admin.detail"] as const).map((k) => h("th", { scope: "col" }, t(k)))),
      ),
      body,
    ),
    more,
  );
  await load(true);
}

/** What files may pass in the organisation's sessions. */
function fileSettings(box: HTMLElement, me: Me): void {
  const status = h("p", { role: "status", class: "hint" });
  const allowed = h("input", { type: "checkbox", checked: me.files.allowed });
  const mb = me.files.max_size ? String(me.files.max_size / 1e6) : "";
  const max = h("input", { type: "number", min: "0.001", step: "any", value: mb, placeholder: t("admin.filesNoLimit") });
  const form = h(
    "form",
    { class: "inline" },
    h("label", { class: "choice" }, allowed, t("admin.filesAllowed")),
    field(t("admin.filesMax"), max),
    h("button", { type: "submit" }, t("admin.filesSave")),
  );
  const sync = (): void => {
    max.disabled = !allowed.checked;
  };
  allowed.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    // A field holding something that is not a number reads as empty: never take that for "no limit".
    if (max.validity.badInput || !max.checkValidity()) {
      status.textContent = t("admin.filesBadMax");
      return;
    }
    const size = max.value.trim() === "" ? null : Math.round(Number(max.value) * 1e6);
    api<Me["files"]>("PUT", "/api/v1/org/files", { allowed: allowed.checked, max_size: size } satisfies FilesBody)
      .then((saved) => {
        me.files = saved;
        status.textContent = t("admin.filesSaved");
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  replace(box, h("h2", { id: "files-settings-title" }, t("admin.files")), h("p", { class: "hint" }, t("admin.filesHint")), form, status);
}

/** Which sessions the organisation records, and how many days it keeps recordings. */
function recordingSettings(box: HTMLElement): void {
  const status = h("p", { role: "status", class: "hint" });
  const modes: Record<RecordingMode, string> = {
    off: t("admin.recordOff"),
    on_request: t("admin.recordOnRequest"),
    always: t("admin.recordAlways"),
  };
  const record = h("select", { name: "recording-mode" });
  for (const [value, label] of Object.entries(modes)) record.append(h("option", { value }, label));
  const days = h("input", { type: "number", min: "1", max: "3650", step: "1", required: true });
  const form = h(
    "form",
    { class: "inline" },
    field(t("admin.recordMode"), record),
    field(t("admin.retentionDays"), days),
    h("button", { type: "submit" }, t("admin.retentionSave")),
  );
  api<RecordingSettings>("GET", "/api/v1/org/recordings")
    .then((b) => {
      days.value = String(b.retention_days);
      record.value = b.mode;
    })
    .catch((e: unknown) => (status.textContent = failure(e)));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!days.checkValidity()) {
      status.textContent = days.validationMessage;
      return;
    }
    const body = { retention_days: Number(days.value), mode: record.value as RecordingMode } satisfies RecordingSettings;
    api<RecordingSettings>("PUT", "/api/v1/org/recordings", body)
      .then(() => (status.textContent = t("admin.retentionSaved")))
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  replace(box, h("h2", { id: "recording-settings-title" }, t("admin.recordings")), h("p", { class: "hint" }, t("admin.recordingsHint")), form, status);
}

/** Renders the admin page into `root`. */
export async function renderAdmin(root: HTMLElement, me: Me): Promise<void> {
  const u = h("section", { class: "card wide", "aria-labelledby": "users-title" });
  const k = h("section", { class: "card wide", "aria-labelledby": "keys-title" });
  const m = h("section", { class: "card wide", "aria-labelledby": "admin-machines-title" });
  const g = h("section", { class: "card wide", "aria-labelledby": "groups-title" });
  const e = h("section", { class: "card wide", "aria-labelledby": "tokens-title" });
  const a = h("section", { class: "card wide", "aria-labelledby": "audit-title" });
  const f = h("section", { class: "card wide", "aria-labelledby": "files-settings-title" });
  fileSettings(f, me);
  const r = h("section", { class: "card wide", "aria-labelledby": "recording-settings-title" });
  recordingSettings(r);
  // Single sign-on decides who may sign in at all: its settings are the owners'.
  const s = me.role === "owner" ? h("section", { class: "card wide", "aria-labelledby": "sso-settings-title" }) : null;
  if (s) ssoSettings(s);
  root.replaceChildren(h("h1", { class: "page-title" }, t("admin.title")), u, k, ...(s ? [s] : []), f, r, m, g, e, a);
  await Promise.all([users(u, me), keys(k), adminMachines(m), adminGroups(g), adminTokens(e), audit(a)]);
}
