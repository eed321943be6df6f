// The signed-in user's own account: changing the password, and turning two-step verification
// (TOTP) on or off. Each change ends the user's other sign-ins (the relay does that); this page's
// own sign-in goes on.

import { api, type Me, me as fetchMe } from "./api";
import type { PasswordChange, TotpConfirm, TotpEnroll, TotpOffer } from "./generated/api";
import { codeInput, field, h, replace } from "./dom";
import { failure } from "./errors";
import { t } from "./i18n";

/** Runs `request` with `button` disabled, so a second press cannot send it twice. */
function once<T>(button: HTMLButtonElement, request: () => Promise<T>): Promise<T> {
  button.disabled = true;
  return request().finally(() => (button.disabled = false));
}

function passwordSection(): HTMLElement {
  const status = h("p", { role: "status", class: "hint" });
  const current = h("input", { type: "password", autocomplete: "current-password", required: true });
  const fresh = h("input", { type: "password", autocomplete: "new-password", minlength: 10, required: true });
  const again = h("input", { type: "password", autocomplete: "new-password", minlength: 10, required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("account.change"));
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, t("account.password")),
    field(t("account.current"), current),
    field(t("account.new"), fresh, t("account.newHint")),
    field(t("account.again"), again),
    h("div", { class: "row" }, submit),
    status,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    if (fresh.value !== again.value) {
      status.textContent = t("account.mismatch");
      return;
    }
    once(submit, () => api("POST", "/api/v1/auth/password", { current_password: current.value, new_password: fresh.value } satisfies PasswordChange))
      .then(() => {
        form.reset();
        status.textContent = t("account.changed");
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  return form;
}

function totpSection(user: Me, changed: (enabled: boolean, message: string) => void): { el: HTMLElement; status: HTMLElement } {
  const status = h("p", { role: "status", class: "hint" });
  const box = h(
    "section",
    { class: "card narrow", "aria-labelledby": "totp-title" },
    h("h2", { id: "totp-title", tabindex: "-1" }, t("account.totp")),
    h("p", {}, t(user.totp_enabled ? "account.totpOn" : "account.totpOff")),
  );
  if (user.totp_enabled) {
    const code = codeInput();
    const stop = h("button", { type: "submit" }, t("account.totpStop"));
    const form = h("form", {}, field(t("signin.totp"), code), h("div", { class: "row" }, stop));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (stop.disabled) return;
      once(stop, () => api("POST", "/api/v1/auth/totp/disable", { code: code.value.trim() } satisfies TotpConfirm))
        .then(() => changed(false, t("account.totpDisabled")))
        .catch((e: unknown) => (status.textContent = failure(e)));
    });
    box.append(form, status);
    return { el: box, status };
  }
  // The password again: a stolen session must not put its own authenticator on the account.
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const start = h("button", { type: "submit", class: "primary" }, t("account.totpStart"));
  const ask = h("form", {}, field(t("account.yourPassword"), password), h("div", { class: "row" }, start));
  ask.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (start.disabled) return;
    once(start, () => api<TotpOffer>("POST", "/api/v1/auth/totp/enroll", { password: password.value } satisfies TotpEnroll))
      .then((offer) => {
        const code = codeInput();
        const confirm = h("button", { type: "submit", class: "primary" }, t("account.totpConfirm"));
        const form = h(
          "form",
          {},
          h("p", {}, t("account.totpKey")),
          h("p", {}, h("code", { class: "secret" }, offer.secret.replace(/(.{4})/g, "$1 ").trim())),
          h("p", {}, h("a", { href: offer.otpauth_url }, t("account.totpLink"))),
          field(t("signin.totp"), code, t("signin.totpHint")),
          h("div", { class: "row" }, confirm),
        );
        form.addEventListener("submit", (ev) => {
          ev.preventDefault();
          if (confirm.disabled) return;
          once(confirm, () => api("POST", "/api/v1/auth/totp/confirm", { code: code.value.trim() } satisfies TotpConfirm))
            .then(() => changed(true, t("account.totpEnabled")))
            .catch((e: unknown) => (status.textContent = failure(e)));
        });
        ask.replaceWith(form);
        code.focus();
      })
      .catch((e: unknown) => (status.textContent = failure(e)));
  });
  box.append(ask, status);
  return { el: box, status };
}

/**
 * Renders the account page into `main` for `user`. `onUser` hears of the user's new state after a
 * two-step change, so the rest of the app does not show the old one; `message` is announced in
 * the two-step section.
 */
export function renderAccount(main: HTMLElement, user: Me, onUser: (u: Me) => void, message = ""): void {
  const changed = (enabled: boolean, text: string): void => {
    const show = (next: Me): void => {
      onUser(next);
      // The user may have gone to another page meanwhile: leave it alone.
      if (location.hash.replace(/^#\/?/, "") === "account") renderAccount(main, next, onUser, text);
    };
    fetchMe()
      .then((fresh) => show(fresh ?? { ...user, totp_enabled: enabled }))
      .catch(() => show({ ...user, totp_enabled: enabled }));
  };
  const totp = totpSection(user, changed);
  replace(main, h("h1", {}, t("account.title")), passwordSection(), totp.el);
  if (message) {
    // Set after the live region is in the page, so screen readers announce it.
    totp.status.textContent = message;
    totp.el.querySelector<HTMLElement>("h2")?.focus();
  }
}
