// The web app's shell: sign-in gate, header with navigation and the language switcher, and a
// hash router between the connect, history, admin and account pages.

import { renderAccount } from "./account";
import { renderAdmin } from "./admin";
import { type Me, logout, me as fetchMe } from "./api";
import { ConnectPage } from "./connect";
import { h, replace } from "./dom";
import { renderHistory } from "./history";
import { renderRecordings } from "./recordings";
import { LANGUAGES, type Lang, initLanguage, language, onLanguageChange, setLanguage, t } from "./i18n";
import { renderSignIn } from "./signin";

type Route = "connect" | "history" | "recordings" | "admin" | "account";

const header = h("header", { class: "top" });
const main = h("main", { id: "main", tabindex: "-1" });
let user: Me | null = null;
let connectPage: ConnectPage | null = null;
const relayOnly = new URLSearchParams(location.search).get("ice") === "relay";

function route(): Route {
  const r = location.hash.replace(/^#\/?/, "");
  return r === "history" || r === "recordings" || r === "admin" || r === "account" ? r : "connect";
}

function languageSwitcher(): HTMLElement {
  const select = h("select", { id: "lang", "aria-label": t("app.language") });
  for (const [tag, l] of Object.entries(LANGUAGES)) {
    select.append(h("option", { value: tag, lang: tag, selected: tag === language() }, l.name));
  }
  select.addEventListener("change", () => setLanguage(select.value as Lang));
  return select;
}

function renderHeader(): void {
  const current = route();
  const link = (r: Route, label: string): HTMLElement =>
    h("a", { href: `#/${r}`, "aria-current": r === current ? "page" : null }, label);
  const signOut = h("button", { type: "button", id: "sign-out" }, t("nav.signOut"));
  signOut.addEventListener("click", () => {
    connectPage?.dispose();
    connectPage = null;
    void logout().then(start);
  });
  replace(
    header,
    h("span", { class: "brand" }, t("app.name")),
    user
      ? h(
          "nav",
          { "aria-label": t("nav.main") },
          link("connect", t("nav.connect")),
          link("history", t("nav.history")),
          link("recordings", t("nav.recordings")),
          user.role === "owner" || user.role === "admin" ? link("admin", t("nav.admin")) : null,
          link("account", t("nav.account")),
        )
      : null,
    h("span", { class: "spacer" }),
    languageSwitcher(),
    user ? h("span", { class: "who" }, user.short_name || user.full_name) : null,
    user ? signOut : null,
  );
}

function renderPage(): void {
  renderHeader();
  if (!user) return;
  const r = route();
  if (r !== "connect") {
    connectPage?.dispose();
    connectPage = null;
  }
  if (r === "history") void renderHistory(main, user);
  else if (r === "recordings") void renderRecordings(main, user);
  else if (r === "admin") void renderAdmin(main, user);
  else if (r === "account") {
    renderAccount(main, user, (u) => {
      user = u;
    });
  }
  else if (connectPage) connectPage.relabel();
  else connectPage = new ConnectPage(main, user, { relayOnly });
}

async function start(): Promise<void> {
  user = await fetchMe().catch(() => null);
  renderHeader();
  if (!user) {
    renderSignIn(main, () => void start());
    return;
  }
  renderPage();
}

initLanguage();
document.body.replaceChildren(h("a", { class: "skip", href: "#main" }, "↓"), header, main);
window.addEventListener("hashchange", renderPage);
window.addEventListener("beforeunload", () => connectPage?.dispose());
onLanguageChange(() => {
  if (user) renderPage();
  else void start();
});
void start();
