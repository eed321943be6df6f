// The owner's single sign-on settings on the admin page: the organisation's OpenID Connect
// provider, the e-mail domains it signs in, and how its groups map to Tether roles.

import { ApiError, api } from "./api";
import type { Role, RoleRule, SsoBody, SsoView } from "./generated/api";
import { field, h, replace } from "./dom";
import { failure } from "./errors";
import { t } from "./i18n";

/** Roles the mapping may give (owners are made in Tether). */
const MAPPED: readonly Role[] = ["admin", "technician", "viewer"];

/** Parses the mapping's lines (`value = role`); throws the line that is wrong. */
export function parseRules(text: string): RoleRule[] {
  const rules: RoleRule[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.lastIndexOf("=");
    const value = line.slice(0, at).trim();
    const role = line.slice(at + 1).trim().toLowerCase() as Role;
    if (at < 0 || !value || !MAPPED.includes(role)) throw new Error(t("sso.badRule", { line }));
    rules.push({ value, role });
  }
  return rules;
}

/** The mapping as the owner typed it. */
export function formatRules(rules: RoleRule[]): string {
  return rules.map((r) => `${r.value} = ${r.role}`).join("\n");
}

/** The e-mail domains typed, split on commas and spaces. */
export function parseDomains(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((d) => d.trim().replace(/^@/, "").toLowerCase())
    .filter(Boolean);
}

/** Renders the settings into `box` (owners only). */
export function ssoSettings(box: HTMLElement): void {
  const status = h("p", { role: "status", class: "hint" });
  const issuer = h("input", { type: "url", required: true, placeholder: "https://login.example.com/realms/acme" });
  const clientId = h("input", { type: "text", required: true, autocomplete: "off" });
  const secret = h("input", { type: "password", autocomplete: "new-password" });
  const domains = h("input", { type: "text", required: true, placeholder: "acme.com, acme.de" });
  const claim = h("input", { type: "text", value: "groups" });
  const rules = h("textarea", { rows: 4, placeholder: "it-admins = admin\nhelpdesk = technician" });
  const fallback = h("select", {});
  fallback.append(h("option", { value: "" }, t("sso.refuse")));
  for (const r of MAPPED) fallback.append(h("option", { value: r }, t(`role.${r}`)));
  const provision = h("input", { type: "checkbox", checked: true });
  const passwords = h("input", { type: "checkbox", checked: true });
  const redirect = h("input", { type: "text", readonly: true, value: `${location.origin}/api/v1/auth/sso/callback` });
  const remove = h("button", { type: "button", hidden: true }, t("sso.remove"));
  const form = h(
    "form",
    {},
    field(t("sso.redirect"), redirect, t("sso.redirectHint")),
    field(t("sso.issuer"), issuer, t("sso.issuerHint")),
    field(t("sso.clientId"), clientId),
    field(t("sso.secret"), secret),
    field(t("sso.domains"), domains, t("sso.domainsHint")),
    field(t("sso.claim"), claim),
    field(t("sso.rules"), rules, t("sso.rulesHint")),
    field(t("sso.default"), fallback),
    h("label", { class: "choice" }, provision, t("sso.provision")),
    h("label", { class: "choice" }, passwords, t("sso.passwords")),
    h("div", { class: "row" }, h("button", { type: "submit" }, t("sso.save")), remove),
  );
  const show = (v: SsoView): void => {
    issuer.value = v.issuer;
    clientId.value = v.client_id;
    secret.value = "";
    secret.placeholder = v.has_client_secret ? t("sso.secretKept") : "";
    domains.value = v.domains.join(", ");
    claim.value = v.role_claim;
    rules.value = formatRules(v.role_map);
    fallback.value = v.default_role ?? "";
    provision.checked = v.provision;
    passwords.checked = v.password_login;
    redirect.value = v.redirect_uri;
    remove.hidden = false;
  };
  api<SsoView>("GET", "/api/v1/org/sso")
    .then(show)
    .catch((e: unknown) => {
      if (!(e instanceof ApiError && e.status === 404)) status.textContent = failure(e);
    });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let body: SsoBody;
    try {
      body = {
        issuer: issuer.value.trim(),
        client_id: clientId.value.trim(),
        client_secret: secret.value.trim() || null,
        domains: parseDomains(domains.value),
        role_claim: claim.value.trim() || null,
        role_map: parseRules(rules.value),
        default_role: (fallback.value || null) as Role | null,
        provision: provision.checked,
        password_login: passwords.checked,
      };
    } catch (e) {
      status.textContent = (e as Error).message;
      return;
    }
    status.textContent = t("sso.checking");
    api<SsoView>("PUT", "/api/v1/org/sso", body)
      .then((v) => {
        show(v);
        status.textContent = t("sso.saved");
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  remove.addEventListener("click", () => {
    if (!confirm(t("sso.removeConfirm"))) return;
    api("DELETE", "/api/v1/org/sso")
      .then(() => {
        remove.hidden = true;
        status.textContent = t("sso.removed");
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  replace(box, h("h2", { id: "sso-settings-title" }, t("sso.title")), h("p", { class: "hint" }, t("sso.hint")), form, status);
}
