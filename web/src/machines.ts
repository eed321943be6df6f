// Enrolled computers: the list supporters connect from, and for administrators the enrollment
// tokens, each machine's access policy, and revocation.

import { ApiError, api, type Me } from "./api";
import { field, h, replace, when } from "./dom";
import type { CreatedToken, EnrollmentTokenInfo, Group, MachineInfo, MachinePolicy, NewToken, PolicyRole, RecordingMode } from "./generated/api";
import { failure } from "./errors";
import { language, t } from "./i18n";

export type { MachineInfo } from "./generated/api";

const POLICY_ROLES = ["owner", "admin", "technician"] as const satisfies readonly PolicyRole[];

/** The commands that install the agent and enroll it with `token`, per system. */
export function installCommands(relay: string, token: string): { system: string; command: string }[] {
  return [
    {
      system: "Debian / Ubuntu",
      command: `printf 'tether-agent tether-agent/relay_url string %s\\ntether-agent tether-agent/enroll_token password %s\\n' '${relay}' '${token}' | sudo debconf-set-selections && sudo apt install ./tether-agent.deb`,
    },
    { system: "Windows", command: `msiexec /i tether-agent.msi /qn RELAY_URL=${relay} ENROLL_TOKEN=${token}` },
    {
      system: "macOS",
      command: `sudo mkdir -p '/Library/Application Support/Tether' && printf 'RELAY_URL=%s\\nENROLL_TOKEN=%s\\n' '${relay}' '${token}' | sudo tee '/Library/Application Support/Tether/enroll.env' >/dev/null && sudo installer -pkg tether-agent.pkg -target /`,
    },
  ];
}

/** What a policy means for supporters, in a few words. */
export function policySummary(p: MachinePolicy): string {
  return p.require_consent ? t("machines.asks") : t("machines.unattended");
}

/** Where a machine's policy comes from, in a few words. */
function sourceText(m: MachineInfo): string {
  if (m.policy_source === "group") return t("machines.fromGroup", { tag: m.policy_group ?? "" });
  return m.policy_source === "machine" ? t("machines.own") : t("machines.byDefault");
}

/** Whether `m` matches what was typed in the search box: every word, in its name, system or tags. */
export function matchesQuery(m: Pick<MachineInfo, "hostname" | "os" | "tags">, query: string): boolean {
  const hay = [m.hostname, m.os, ...m.tags].map((s) => s.toLowerCase());
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== "")
    .every((w) => hay.some((s) => s.includes(w)));
}

function lastSeen(m: MachineInfo, lang: string): string {
  return m.last_seen_at === null ? t("machines.never") : when(m.last_seen_at, lang);
}

function stateCell(m: MachineInfo): HTMLElement {
  return h("td", {}, h("span", { class: m.online ? "dot online" : "dot", "aria-hidden": "true" }), " ", m.online ? t("machines.online") : t("machines.offline"));
}

/**
 * The organisation's machines with a Connect button each, for the connect page. `connect` starts
 * a connection to the machine; offline and revoked machines cannot be chosen.
 */
export async function machineList(box: HTMLElement, connect: (machine: MachineInfo) => void): Promise<void> {
  const status = h("p", { role: "status", class: "hint" });
  replace(box, h("h2", { id: "machines-title" }, t("machines.title")), status);
  let list: MachineInfo[];
  try {
    list = (await api<MachineInfo[]>("GET", "/api/v1/machines")).filter((m) => m.revoked_at === null);
  } catch (e) {
    // Readers may not list machines: then there is simply no list.
    if (e instanceof ApiError && e.status === 403) box.hidden = true;
    else status.textContent = failure(e);
    return;
  }
  if (list.length === 0) {
    status.textContent = t("machines.none");
    return;
  }
  list.sort((a, b) => Number(b.online) - Number(a.online) || a.hostname.localeCompare(b.hostname));
  const lang = language();
  const body = h("tbody");
  const rows: [MachineInfo, HTMLElement][] = [];
  const search = h("input", { type: "search", autocomplete: "off" });
  search.addEventListener("input", () => {
    let shown = 0;
    for (const [m, tr] of rows) {
      tr.hidden = !matchesQuery(m, search.value);
      if (!tr.hidden) shown += 1;
    }
    status.textContent = shown === 0 ? t("machines.noMatch") : "";
  });
  box.append(h("form", { class: "inline", role: "search", onsubmit: (ev: Event) => ev.preventDefault() }, field(t("machines.search"), search, t("machines.searchHint"))));
  for (const m of list) {
    const button = h("button", { type: "button", class: "small", disabled: !m.online, "aria-label": t("machines.connectTo", { name: m.hostname }) }, t("machines.connect"));
    button.addEventListener("click", () => connect(m));
    const tr = h(
      "tr",
      { "data-machine": m.id },
      h("td", {}, m.hostname),
      stateCell(m),
      h("td", {}, m.os),
      h("td", {}, m.tags.join(", ")),
      h("td", {}, lastSeen(m, lang)),
      h("td", {}, policySummary(m.policy)),
      h("td", {}, button),
    );
    rows.push([m, tr]);
    body.append(tr);
  }
  const heads = ["machines.name", "machines.state", "machines.os", "machines.tags", "machines.lastSeen", "machines.policy"] as const;
  box.append(h("table", {}, h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", { scope: "col" }, t(k))), h("td", {}))), body));
}

/** A form editing policy `p`, saved with PUT to `path`; `label` names it for assistive technology. */
function policyForm(label: string, p: MachinePolicy, path: string, status: HTMLElement, saved: () => void): HTMLElement {
  const roles = POLICY_ROLES.map((r) => h("input", { type: "checkbox", value: r, checked: p.roles.includes(r) }));
  const consent = h("input", { type: "checkbox", name: "require_consent", checked: p.require_consent });
  const nobody = h("input", { type: "checkbox", name: "allow_without_user", checked: p.allow_without_user });
  const browse = h("input", { type: "checkbox", name: "browse_files", checked: p.browse_files });
  // The machine may record more than its organisation, never less.
  const recording = h("select", { name: "recording" });
  const levels: Record<RecordingMode, string> = { off: t("machines.recordAsOrg"), on_request: t("admin.recordOnRequest"), always: t("admin.recordAlways") };
  for (const [value, text] of Object.entries(levels)) recording.append(h("option", { value, selected: value === p.recording }, text));
  const limit = h("input", { type: "checkbox", name: "limit_hours", checked: !!p.hours });
  const days = [1, 2, 3, 4, 5, 6, 7].map((d) => h("input", { type: "checkbox", value: d, checked: p.hours ? p.hours.days.includes(d) : d <= 5 }));
  const from = h("input", { type: "time", value: p.hours?.from ?? "08:00" });
  const to = h("input", { type: "time", value: p.hours?.to ?? "18:00" });
  const form = h(
    "form",
    { class: "policy", "aria-label": label },
    h("fieldset", {}, h("legend", {}, t("machines.roles")), ...roles.map((c) => h("label", { class: "choice" }, c, t(`role.${c.value as (typeof POLICY_ROLES)[number]}`)))),
    h("label", { class: "choice" }, consent, t("machines.requireConsent")),
    h("label", { class: "choice" }, nobody, t("machines.allowWithoutUser")),
    h("label", { class: "choice" }, browse, t("machines.browseFiles")),
    field(t("machines.recording"), recording),
    h("label", { class: "choice" }, limit, t("machines.limitHours")),
    h("fieldset", {}, ...days.map((c) => h("label", { class: "choice" }, c, t(`day.${c.value as "1"}`))), field(t("machines.from"), from), field(t("machines.to"), to)),
    h("button", { type: "submit", class: "small" }, t("machines.save")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const policy: MachinePolicy = {
      roles: roles.filter((c) => c.checked).map((c) => c.value as MachinePolicy["roles"][number]),
      users: p.users,
      require_consent: consent.checked,
      allow_without_user: nobody.checked,
      browse_files: browse.checked,
      recording: recording.value as RecordingMode,
      hours: limit.checked
        ? {
            days: days.filter((c) => c.checked).map((c) => Number(c.value)),
            from: from.value,
            to: to.value,
            // The machine is assumed to share the administrator's time zone; the named zone
            // keeps the window right across daylight-saving changes.
            utc_offset_minutes: -new Date().getTimezoneOffset(),
            time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          }
        : null,
    };
    if (!policy.hours) delete policy.hours;
    api("PUT", path, policy)
      .then(saved)
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  return form;
}

/** The admin page's machine list: state, facts, policy editor and revocation; `note` is shown. */
export async function adminMachines(box: HTMLElement, note = ""): Promise<void> {
  const status = h("p", { role: "status", class: "hint" }, note);
  replace(box, h("h2", { id: "admin-machines-title" }, t("machines.title")), status);
  let list: MachineInfo[];
  try {
    list = await api<MachineInfo[]>("GET", "/api/v1/machines");
  } catch (e) {
    status.textContent = failure(e);
    return;
  }
  if (list.length === 0) status.textContent = t("machines.none");
  const lang = language();
  const body = h("tbody");
  for (const m of list) {
    const revoke = m.revoked_at === null ? h("button", { type: "button", class: "danger small" }, t("machines.revoke")) : null;
    revoke?.addEventListener("click", () => {
      api("DELETE", `/api/v1/machines/${m.id}`)
        .then(() => adminMachines(box))
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    const refresh = (): void => void adminMachines(box, t("admin.saved"));
    const useGroup = m.policy_source === "machine" ? h("button", { type: "button", class: "small" }, t("machines.useGroup")) : null;
    useGroup?.addEventListener("click", () => {
      api("DELETE", `/api/v1/machines/${m.id}/policy`)
        .then(refresh)
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    const path = `/api/v1/machines/${m.id}/policy`;
    const policy =
      m.revoked_at === null
        ? h(
            "details",
            { class: "policy-cell" },
            h("summary", {}, `${policySummary(m.policy)} (${sourceText(m)})`),
            policyForm(t("machines.policyOf", { name: m.hostname }), m.policy, path, status, refresh),
            useGroup,
          )
        : null;
    body.append(
      h(
        "tr",
        { "data-machine": m.id },
        h("td", {}, m.hostname),
        m.revoked_at === null ? stateCell(m) : h("td", {}, t("machines.revoked")),
        h("td", {}, `${m.os} · ${m.version}`),
        h("td", {}, m.tags.join(", ")),
        h("td", {}, lastSeen(m, lang)),
        h("td", {}, policy),
        h("td", {}, revoke),
      ),
    );
  }
  const heads = ["machines.name", "machines.state", "machines.version", "machines.tags", "machines.lastSeen", "machines.policy"] as const;
  box.append(h("table", {}, h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", { scope: "col" }, t(k))), h("td", {}))), body));
}

/** The admin page's groups (tags): machines per tag, and each group's policy. */
export async function adminGroups(box: HTMLElement, note = ""): Promise<void> {
  const status = h("p", { role: "status", class: "hint" }, note);
  replace(box, h("h2", { id: "groups-title" }, t("groups.title")), h("p", { class: "hint" }, t("groups.hint")), status);
  let list: Group[];
  try {
    list = await api<Group[]>("GET", "/api/v1/machine-groups");
  } catch (e) {
    status.textContent = failure(e);
    return;
  }
  if (list.length === 0) status.textContent = t("admin.none");
  const body = h("tbody");
  for (const g of list) {
    const path = `/api/v1/machine-groups/${encodeURIComponent(g.tag)}/policy`;
    const refresh = (): void => void adminGroups(box, t("admin.saved"));
    const remove = g.policy ? h("button", { type: "button", class: "small" }, t("groups.remove")) : null;
    remove?.addEventListener("click", () => {
      api("DELETE", path)
        .then(refresh)
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    const base: MachinePolicy = g.policy ?? { roles: ["owner", "admin", "technician"], users: [], require_consent: true, allow_without_user: false, browse_files: false, recording: "off" };
    body.append(
      h(
        "tr",
        { "data-group": g.tag },
        h("td", {}, g.tag),
        h("td", {}, String(g.machines)),
        h(
          "td",
          {},
          h(
            "details",
            { class: "policy-cell" },
            h("summary", {}, g.policy ? policySummary(g.policy) : t("groups.unset")),
            policyForm(t("machines.policyOf", { name: g.tag }), base, path, status, refresh),
            remove,
          ),
        ),
      ),
    );
  }
  const heads = ["groups.tag", "groups.count", "machines.policy"] as const;
  box.append(h("table", {}, h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", { scope: "col" }, t(k))))), body));
}

/** The admin page's enrollment tokens: list, create (shown once, with install commands), revoke. */
export async function adminTokens(box: HTMLElement): Promise<void> {
  const status = h("p", { role: "status", class: "hint" });
  replace(box, h("h2", { id: "tokens-title" }, t("tokens.title")), h("p", { class: "hint" }, t("tokens.hint")), status);
  let list: EnrollmentTokenInfo[];
  try {
    list = await api<EnrollmentTokenInfo[]>("GET", "/api/v1/enrollment-tokens");
  } catch (e) {
    status.textContent = failure(e);
    return;
  }
  const lang = language();
  const body = h("tbody");
  for (const tk of list) {
    const revoke = tk.revoked_at === null ? h("button", { type: "button", class: "danger small" }, t("admin.keyRevoke")) : null;
    revoke?.addEventListener("click", () => {
      api("DELETE", `/api/v1/enrollment-tokens/${tk.id}`)
        .then(() => adminTokens(box))
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    body.append(
      h(
        "tr",
        {},
        h("td", {}, tk.tags.join(", ")),
        h("td", {}, `${tk.uses} / ${tk.max_uses}`),
        h("td", {}, when(tk.expires_at, lang)),
        h("td", {}, tk.revoked_at === null ? revoke : when(tk.revoked_at, lang)),
      ),
    );
  }
  const days = h("input", { type: "number", min: 1, max: 365, value: 7, required: true });
  const uses = h("input", { type: "number", min: 1, max: 100000, value: 100, required: true });
  const tags = h("input", { type: "text", maxlength: 200 });
  const create = h(
    "form",
    { class: "inline" },
    field(t("tokens.days"), days),
    field(t("tokens.maxUses"), uses),
    field(t("tokens.tagsField"), tags),
    h("button", { type: "submit" }, t("tokens.create")),
  );
  create.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const req: NewToken = {
      expires_in_secs: Number(days.value) * 86400,
      max_uses: Number(uses.value),
      tags: tags.value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    };
    api<CreatedToken>("POST", "/api/v1/enrollment-tokens", req)
      .then(async (r) => {
        await adminTokens(box);
        const commands = installCommands(location.origin, r.token);
        box.append(
          h(
            "div",
            { role: "alert", class: "secret" },
            h("p", {}, t("tokens.once"), " ", h("code", { class: "token" }, r.token)),
            ...commands.map((c) => h("p", {}, h("strong", {}, c.system), h("br"), h("code", {}, c.command))),
          ),
        );
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  const heads = ["machines.tags", "tokens.uses", "tokens.expires", "admin.keyRevoked"] as const;
  box.append(h("table", {}, h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", { scope: "col" }, t(k))))), body), create);
}

/** Whether `me` may see the machine list on the connect page. */
export function canListMachines(me: Me): boolean {
  return me.role !== "viewer";
}
