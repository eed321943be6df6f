// Single sign-on in real headless Chromium against a real OpenID provider (`oidc-provider`,
// started here): the owner sets the organisation's provider through the API; people then sign
// in with their work e-mail, at the provider's own login form, and come back signed in to
// Tether: an existing member linked by verified e-mail, a new member made with the role the
// provider's groups map to (read again on every sign-in), and the refusals a person can meet.
// Screenshots go to target/e2e-artifacts/browser/.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";

import { EMAIL, OWNER_EMAIL, PASSWORD, WAIT_MS, shot, startBrowser, startRelay } from "./harness.mjs";
import { signingKey, startProvider } from "./provider.mjs";

const CLIENT = { clientId: "tether", clientSecret: "a provider secret for tests" };

/** The provider's people, by account id (its `sub`); tests change them as an IdP admin would. */
const accounts = {
  "jane-1": { email: EMAIL.toUpperCase(), email_verified: true, name: "Jane Doe", groups: ["helpdesk"] },
  "ann-2": { email: "ann@acme.example", email_verified: true, name: "Ann Example", given_name: "Ann", groups: ["it-admins", "helpdesk"] },
  "mallory-3": { email: "mallory@acme.example", email_verified: false, name: "Mallory", groups: ["it-admins"] },
  "sam-4": { email: "sam@acme.example", email_verified: true, name: "Sam Sales", groups: ["sales"] },
};

let relay;
let provider;
let browser;
const contexts = [];

before(async () => {
  // Sign-ins are checked with the provider every second, so a disabled person is cut off at once.
  relay = await startRelay({ env: () => ({ TETHER_SSO_ALLOW_PRIVATE: "true", TETHER_SSO_CHECK_SECS: "1" }) });
  provider = await startProvider({ ...CLIENT, redirectUri: `${relay.url}/api/v1/auth/sso/callback`, accounts });
  browser = await startBrowser();
  await asOwner("PUT", "/api/v1/org/sso", settings());
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

after(async () => {
  await browser?.close();
  await provider?.stop();
  relay?.stop();
});

function settings(extra = {}) {
  return {
    issuer: provider.issuer,
    client_id: CLIENT.clientId,
    client_secret: CLIENT.clientSecret,
    domains: ["acme.example"],
    role_claim: "groups",
    role_map: [
      { value: "helpdesk", role: "technician" },
      { value: "it-admins", role: "admin" },
    ],
    default_role: null,
    provision: true,
    password_login: false,
    ...extra,
  };
}

/** `{status, body}` of a password sign-in. */
async function passwordLogin(email) {
  const r = await fetch(`${relay.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  return { status: r.status, body: await r.json() };
}

/** `method path` on the relay's API as the owner (whose password always works); `{status, body}`. */
async function asOwner(method, path, body, { expect = 200 } = {}) {
  const login = await passwordLogin(OWNER_EMAIL);
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const r = await fetch(`${relay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${login.body.access_token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, expect, `${method} ${path}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Signs in as the provider's account `id` with `email` typed at Tether's sign-in page; returns
 * the page once back at Tether, and the callback request the provider sent the browser to.
 */
async function ssoSignIn(email, id) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (e) => console.error(`[page] ${e.message}`));
  let callback = null;
  page.on("request", async (r) => {
    if (r.url().includes("/api/v1/auth/sso/callback")) callback = { url: r.url(), cookie: (await r.allHeaders()).cookie ?? "" };
  });
  await page.goto(relay.url);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Sign in with single sign-on" }).click();
  // The provider's own login form.
  await page.waitForURL((u) => u.href.startsWith(provider.issuer));
  await page.locator('input[name="login"]').fill(id);
  await page.locator('input[name="password"]').fill("anything");
  await page.locator('button[type="submit"]').click();
  await page.waitForURL((u) => u.href.startsWith(relay.url));
  return { page, callback: () => callback };
}

/** The signed-in user as the page's own session sees it. */
async function me(page) {
  return page.evaluate(async () => {
    const r = await fetch("/api/v1/me");
    return { status: r.status, body: await r.json() };
  });
}

/** Waits until `check()` is true, checking every 100 ms for at most WAIT_MS. */
async function until(check) {
  const end = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Audit entries of `action`, newest first. */
async function auditOf(action) {
  return asOwner("GET", `/api/v1/audit?action=${action}`);
}

test("the owner's settings are checked against the provider and never give the secret back", async () => {
  const shown = await asOwner("GET", "/api/v1/org/sso");
  assert.equal(shown.issuer, provider.issuer);
  assert.equal(shown.has_client_secret, true);
  assert.equal(shown.client_secret, undefined);
  assert.equal(shown.redirect_uri, `${relay.url}/api/v1/auth/sso/callback`);
  // An issuer that does not answer is refused with the cause, and nothing changes.
  const wrong = await asOwner("PUT", "/api/v1/org/sso", settings({ issuer: "http://127.0.0.1:9" }), { expect: 502 });
  assert.equal(wrong.error.code, "provider_error");
  assert.match(wrong.error.message, /discovery/);
  // The mapping cannot make owners.
  const owner = await asOwner("PUT", "/api/v1/org/sso", settings({ default_role: "owner" }), { expect: 400 });
  assert.match(owner.error.message, /owners/);
  assert.equal((await asOwner("GET", "/api/v1/org/sso")).issuer, provider.issuer);
});

test("the owner sees and saves the settings on the admin page", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1400 }, locale: "en-US" });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(relay.url);
  await page.getByLabel("Email").fill(OWNER_EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("link", { name: "Admin" }).click();
  const card = page.getByRole("region", { name: "Single sign-on" });
  await until(async () => (await card.getByLabel("Issuer URL").inputValue()) === provider.issuer);
  assert.equal(await card.getByLabel("Redirect URI to register at the provider").inputValue(), `${relay.url}/api/v1/auth/sso/callback`);
  assert.equal(await card.getByLabel("Client secret").inputValue(), "", "the secret is never shown");
  assert.equal(await card.getByLabel("Role mapping").inputValue(), "helpdesk = technician\nit-admins = admin");
  // A rule that names no role is refused in the page; a good one is saved after the provider answered.
  await card.getByLabel("Role mapping").fill("helpdesk = technician\nit-admins = boss");
  await card.getByRole("button", { name: "Check and save" }).click();
  await card.getByText("This rule is not").waitFor();
  await card.getByLabel("Role mapping").fill("helpdesk = technician\nit-admins = admin");
  await card.getByRole("button", { name: "Check and save" }).click();
  await card.getByText("Saved. The provider answered.").waitFor();
  await shot(page, "sso-admin-settings");
  const saved = await asOwner("GET", "/api/v1/org/sso");
  assert.deepEqual(saved.role_map, settings().role_map);
  assert.equal(saved.has_client_secret, true, "left empty, the stored secret is kept");
});

test("a member signs in at the provider and is linked by verified e-mail; passwords are off for members", async () => {
  const { page, callback } = await ssoSignIn(EMAIL, "jane-1");
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  await shot(page, "sso-signed-in");
  const who = await me(page);
  assert.equal(who.status, 200);
  assert.equal(who.body.email, EMAIL);
  assert.equal(who.body.role, "technician");
  const linked = await auditOf("sso_link");
  assert.ok(linked.some((e) => e.detail.subject === "jane-1" && e.actor === `user:${who.body.user_id}`), JSON.stringify(linked));

  // The provider's answer, replayed with the browser's own cookie: the code is spent.
  const seen = callback();
  assert.ok(seen, "the browser came back through the callback");
  const replay = await fetch(seen.url, { headers: { cookie: seen.cookie }, redirect: "manual" });
  assert.equal(replay.status, 303);
  assert.equal(replay.headers.get("location"), "/?sso_error=provider_error");
  // Without the cookie (another browser), it is refused before the provider is asked.
  const elsewhere = await fetch(seen.url, { redirect: "manual" });
  assert.equal(elsewhere.headers.get("location"), "/?sso_error=expired");

  // Passwords are off for members, but the owner keeps one (the way back in).
  assert.equal((await passwordLogin(EMAIL)).body.error.code, "sso_required");
  assert.equal((await passwordLogin(OWNER_EMAIL)).status, 200);
  // API keys do not sign in at all: one answers with passwords off as before.
  const { key } = await asOwner("POST", "/api/v1/api-keys", { name: "reports", scopes: ["sessions:read"] });
  const sessions = await fetch(`${relay.url}/api/v1/sessions`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(sessions.status, 200, await sessions.text());
});

test("a first sign-in makes the member with the role the provider's groups map to, read again each time", async () => {
  const first = await ssoSignIn("ann@acme.example", "ann-2");
  await first.page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  const ann = await me(first.page);
  assert.equal(ann.body.email, "ann@acme.example");
  assert.equal(ann.body.full_name, "Ann Example");
  assert.equal(ann.body.role, "admin", "it-admins outranks helpdesk");
  const made = await auditOf("sso_provision");
  assert.ok(made.some((e) => e.detail.email === "ann@acme.example" && e.detail.role === "admin"));

  // The provider's admin takes Ann out of it-admins: her next sign-in is a technician's.
  accounts["ann-2"].groups = ["helpdesk"];
  const again = await ssoSignIn("ann@acme.example", "ann-2");
  await again.page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  const later = await me(again.page);
  assert.equal(later.body.user_id, ann.body.user_id, "the same member, not a second one");
  assert.equal(later.body.role, "technician");
  const members = await asOwner("GET", "/api/v1/users");
  assert.equal(members.filter((m) => m.email === "ann@acme.example").length, 1);
});

test("people the provider does not vouch for, or whose groups give no role, are refused and told why", async () => {
  const unverified = await ssoSignIn("mallory@acme.example", "mallory-3");
  await unverified.page.getByText("does not vouch for your email address").waitFor();
  await shot(unverified.page, "sso-refused-unverified");
  assert.equal((await me(unverified.page)).status, 401);
  assert.equal(new URL(unverified.page.url()).search, "", "the error code is not left in the address");

  const sales = await ssoSignIn("sam@acme.example", "sam-4");
  await sales.page.getByText("give you no role in Tether").waitFor();
  assert.equal((await me(sales.page)).status, 401);
  const refused = await auditOf("sso_login");
  assert.ok(refused.some((e) => e.outcome === "email_unverified" && e.detail.email === "mallory@acme.example"));
  assert.ok(refused.some((e) => e.outcome === "no_role" && e.detail.email === "sam@acme.example"));
});

test("where members are invited only, a first sign-in makes nobody", async () => {
  await asOwner("PUT", "/api/v1/org/sso", settings({ provision: false }));
  try {
    accounts["lee-6"] = { email: "lee@acme.example", email_verified: true, name: "Lee New", groups: ["helpdesk"] };
    const { page } = await ssoSignIn("lee@acme.example", "lee-6");
    await page.getByText("Ask your administrator to invite you").waitFor();
    assert.equal((await me(page)).status, 401);
    const members = await asOwner("GET", "/api/v1/users");
    assert.ok(!members.some((m) => m.email === "lee@acme.example"), JSON.stringify(members));
  } finally {
    await asOwner("PUT", "/api/v1/org/sso", settings());
  }
});

test("a person disabled at the provider loses their Tether sign-in and sockets", async () => {
  accounts["kim-5"] = { email: "kim@acme.example", email_verified: true, name: "Kim Tech", groups: ["helpdesk"] };
  const { page } = await ssoSignIn("kim@acme.example", "kim-5");
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  const kim = await me(page);
  assert.equal(kim.status, 200);
  // A viewer socket of this sign-in, open until the relay closes it.
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${location.origin.replace("http", "ws")}/api/v1/ws/viewer`);
        window.viewerSocketClosed = new Promise((r) => ws.addEventListener("close", (e) => r({ code: e.code, reason: e.reason })));
        ws.addEventListener("open", resolve);
        ws.addEventListener("error", reject);
      }),
  );
  // Still signed in after two checks with the provider.
  await until(() => (provider.refreshes["kim-5"] ?? 0) >= 2);
  assert.equal((await me(page)).status, 200);
  assert.equal(await page.evaluate(() => Promise.race([window.viewerSocketClosed, "open"])), "open");
  delete accounts["kim-5"];
  const closed = await page.evaluate(() => window.viewerSocketClosed);
  assert.equal(closed.code, 1000, JSON.stringify(closed));
  assert.equal((await me(page)).status, 401);
  const ended = await auditOf("sso_revoked");
  const mine = ended.find((e) => e.actor === `user:${kim.body.user_id}`);
  assert.ok(mine, JSON.stringify(ended));
  assert.match(mine.detail.reason, /refused the refresh token/);
});

test("an id_token for another client, expired, issued later, for another sign-in or altered is refused", async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ["audience", (c) => ({ ...c, aud: "another-client" }), /audience/i],
    ["expired", (c) => ({ ...c, iat: now - 7200, exp: now - 3600 }), /expired/i],
    ["nonce", (c) => ({ ...c, nonce: "from another sign-in" }), /nonce/i],
    ["signature", (c) => ({ unsigned: { ...c, sub: "ann-2" } }), /signature/i],
    ["issuer", (c) => ({ ...c, iss: "https://elsewhere.example" }), /issuer/i],
    ["issued in the future", (c) => ({ ...c, iat: now + 3600, exp: now + 7200 }), /future/i],
  ];
  try {
    for (const [what, tamper, reason] of cases) {
      provider.tamper = tamper;
      const { page } = await ssoSignIn(EMAIL, "jane-1");
      await page.getByText("sent an answer Tether cannot trust").waitFor();
      assert.equal((await me(page)).status, 401, what);
      const [latest] = await auditOf("sso_login");
      assert.equal(latest.outcome, "provider_error", what);
      assert.match(latest.detail.reason, reason, `${what}: ${latest.detail.reason}`);
    }
    // A provider whose clock runs a little ahead (its token just expired by ours) is within
    // the minute of skew allowed.
    provider.tamper = (c) => ({ ...c, iat: now - 600, exp: now - 20 });
    const skewed = await ssoSignIn(EMAIL, "jane-1");
    await skewed.page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  } finally {
    provider.tamper = null;
  }
  // The same provider, behaving again: the sign-in works.
  const { page } = await ssoSignIn(EMAIL, "jane-1");
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
});

test("a provider that rotates its signing key is followed at once", async () => {
  const port = provider.port;
  await provider.stop();
  provider = await startProvider({ ...CLIENT, redirectUri: `${relay.url}/api/v1/auth/sso/callback`, accounts, keys: [signingKey("k2")], port });
  const { page } = await ssoSignIn(EMAIL, "jane-1");
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  assert.equal((await me(page)).body.email, EMAIL);
});

test("an e-mail domain with no single sign-on is answered at the sign-in form", async () => {
  const context = await browser.newContext({ locale: "en-US" });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(relay.url);
  await page.getByLabel("Email").fill("someone@elsewhere.example");
  await page.getByRole("button", { name: "Sign in with single sign-on" }).click();
  await page.getByText("Single sign-on is not set up for your email's domain").waitFor();
  assert.ok(page.url().startsWith(relay.url));
});
