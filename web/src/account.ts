// The signed-in user's own account: changing the password, and turning two-step verification
// (TOTP) on or off. Each change ends the user's other sign-ins (the relay does that); this page's
// own sign-in goes on.

import { api, type Me, me as fetchMe } from "./api";
import { field, h, replace } from "./dom";
import { failure } from "./errors";
import { t } from "./i18n";

function codeInput(): HTMLInputElement {
  return h("input", {
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: 6,
    required: true,
  });
}

function passwordSection(): HTMLElement {
  const status = h("p", { role: "status", class: "hint" });
  const current = h("input", { type: "password", autocomplete: "current-password", required: true });
  const fresh = h("input", { type: "password", autocomplete: "new-password", minlength: 10, required: true });
  const again = h("input", { type: "password", autocomplete: "new-password", minlength: 10, required: true });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, t("account.password")),
    field(t("account.current"), current),
    field(t("account.new"), fresh, t("account.newHint")),
    field(t("account.again"), again),
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("account.change"))),
    status,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (fresh.value !== again.value) {
      status.textContent = t("account.mismatch");
      return;
    }
    api("POST", "/api/v1/auth/password", { current_password: current.value, new_password: fresh.value })
      .then(() => {
        form.reset();
        status.textContent = t("account.changed");
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  return form;
}

function totpSection(user: Me, rerender: (message: string) => void, message: string): HTMLElement {
  const status = h("p", { role: "status", class: "hint" }, message);
  const box = h(
    "section",
    { class: "card narrow", "aria-labelledby": "totp-title" },
    h("h2", { id: "totp-title" }, t("account.totp")),
    h("p", {}, t(user.totp_enabled ? "account.totpOn" : "account.totpOff")),
  );
  const done = (key: "account.totpEnabled" | "account.totpDisabled") => rerender(t(key));
  if (user.totp_enabled) {
    const code = codeInput();
    const form = h("form", {}, field(t("signin.totp"), code), h("div", { class: "row" }, h("button", { type: "submit" }, t("account.totpStop"))));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      api("POST", "/api/v1/auth/totp/disable", { code: code.value.trim() })
        .then(() => done("account.totpDisabled"))
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    box.append(form, status);
    return box;
  }
  const start = h("button", { type: "button", class: "primary" }, t("account.totpStart"));
  start.addEventListener("click", () => {
    api<{ secret: string; otpauth_url: string }>("POST", "/api/v1/auth/totp/enroll")
      .then((offer) => {
        const code = codeInput();
        const form = h(
          "form",
          {},
          h("p", {}, t("account.totpKey")),
          h("p", {}, h("code", { class: "secret" }, offer.secret.replace(/(.{4})/g, "$1 ").trim())),
          h("p", {}, h("a", { href: offer.otpauth_url }, t("account.totpLink"))),
          field(t("signin.totp"), code, t("signin.totpHint")),
          h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("account.totpConfirm"))),
        );
        form.addEventListener("submit", (ev) => {
          ev.preventDefault();
          api("POST", "/api/v1/auth/totp/confirm", { code: code.value.trim() })
            .then(() => done("account.totpEnabled"))
            .catch((e: unknown) => (status.textContent = failure(e)));
        });
        start.replaceWith(form);
        code.focus();
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  box.append(start, status);
  return box;
}

/** Renders the account page into `main`; `message` is shown in the two-step section. */
export async function renderAccount(main: HTMLElement, user: Me, message = ""): Promise<void> {
  const rerender = (text: string): void => {
    void fetchMe().then((fresh) => renderAccount(main, fresh ?? user, text));
  };
  replace(main, h("h1", {}, t("account.title")), passwordSection(), totpSection(user, rerender, message));
}
