// The sign-in screen: email and password, then the authenticator code when the account has one;
// or single sign-on at the organisation's identity provider, found by the e-mail's domain.

import { ApiError, login, ssoStart } from "./api";
import { codeInput, field, h } from "./dom";
import { errorText } from "./errors";
import { hasKey, t } from "./i18n";

/** Renders sign-in into `root`; calls `done` once signed in. */
export function renderSignIn(root: HTMLElement, done: () => void): void {
  let email = "";
  let password = "";

  const status = h("p", { class: "error", role: "alert" });

  const credentials = (): HTMLElement => {
    const emailIn = h("input", { type: "email", name: "email", autocomplete: "username", required: true, value: email });
    const passIn = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
    const submit = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
    const sso = h("button", { type: "button", id: "sso-sign-in" }, t("sso.signIn"));
    sso.addEventListener("click", () => {
      email = emailIn.value.trim();
      if (!email || !emailIn.checkValidity()) {
        status.textContent = t("sso.emailFirst");
        emailIn.focus();
        return;
      }
      void single(sso);
    });
    const form = h(
      "form",
      { class: "card narrow", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, t("signin.title")),
      field(t("signin.email"), emailIn),
      field(t("signin.password"), passIn),
      status,
      h("div", { class: "row" }, submit, sso),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      email = emailIn.value.trim();
      password = passIn.value;
      void attempt(submit);
    });
    queueMicrotask(() => (email ? passIn : emailIn).focus());
    return form;
  };

  const totpStep = (): HTMLElement => {
    const codeIn = codeInput();
    codeIn.name = "totp";
    const submit = h("button", { type: "submit", class: "primary" }, t("signin.verify"));
    const back = h("button", { type: "button" }, t("signin.back"));
    back.addEventListener("click", () => {
      password = "";
      show(credentials());
    });
    const form = h(
      "form",
      { class: "card narrow", "aria-labelledby": "totp-title" },
      h("h1", { id: "totp-title" }, t("signin.totpTitle")),
      field(t("signin.totp"), codeIn, t("signin.totpHint")),
      status,
      h("div", { class: "row" }, submit, back),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void attempt(submit, codeIn.value.trim());
    });
    queueMicrotask(() => codeIn.focus());
    return form;
  };

  const show = (form: HTMLElement): void => {
    status.textContent = "";
    root.replaceChildren(form);
  };

  const attempt = async (button: HTMLButtonElement, totp?: string): Promise<void> => {
    button.disabled = true;
    status.textContent = "";
    try {
      await login(email, password, totp);
      password = "";
      done();
    } catch (e) {
      if (e instanceof ApiError && e.code === "totp_required") {
        show(totpStep());
        return;
      }
      status.textContent = e instanceof ApiError ? errorText(e.code, e.retryAfterMs) : String(e);
    } finally {
      button.disabled = false;
    }
  };

  /** Goes to the provider of the e-mail's organisation. */
  const single = async (button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    status.textContent = "";
    try {
      const { url } = await ssoStart(email);
      location.assign(url);
    } catch (e) {
      status.textContent = e instanceof ApiError ? errorText(e.code, e.retryAfterMs) : String(e);
      button.disabled = false;
    }
  };

  show(credentials());
  // Back from a refused single sign-on: say why once, and keep the address clean.
  const refused = new URLSearchParams(location.search).get("sso_error");
  if (refused) {
    status.textContent = ssoErrorText(refused);
    history.replaceState(null, "", location.pathname + location.hash);
  }
}

/** Why single sign-on refused, from the code the relay put in the address. */
export function ssoErrorText(code: string): string {
  const key = `sso.err.${code}`;
  return hasKey(key) ? t(key) : t("sso.err.other");
}
