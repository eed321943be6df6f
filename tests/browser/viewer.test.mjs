// The browser viewer end to end, in real headless Chromium against the real relay and agent
// binaries on a private Xvfb (run inside `unshare -n` by scripts/test.sh, so nothing leaves
// loopback). Each state is saved as a screenshot under target/e2e-artifacts/browser/.

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { EMAIL, OWNER_EMAIL, PASSWORD, WAIT_MS, a11yViolations, shot, startAgent, startMachineAgent, startRelay } from "./harness.mjs";
import { Loop, pagePoint, waitForScene } from "./loop.mjs";

const loop = new Loop();
let xvfb, probe, relay, agent;

before(async () => {
  ({ xvfb, probe, relay, agent } = await loop.start());
});

after(() => loop.stop());

const signedIn = (...args) => loop.signedIn(...args);
const enterCode = (...args) => loop.enterCode(...args);
const endSession = (page) => loop.endSession(page);

test("sees the remote screen, and a click and typing land on the X server", async () => {
  const page = await signedIn("control");
  const from = await enterCode(page);
  await page.getByRole("heading", { name: "Waiting for an answer" }).waitFor();
  await shot(page, "control-2-waiting");
  const ask = await agent.answer(from, "c");
  assert.match(agent.lines.all.slice(from).join("\n"), /Jane Doe <jane@acme\.example> from Acme IT/, ask);
  await waitForScene(page);
  await page.getByText("Control", { exact: true }).waitFor();
  await shot(page, "control-3-live");

  // A click at a known remote pixel lands exactly there.
  const mark = probe.lines.all.length;
  const p = await pagePoint(page, 400, 300);
  await page.mouse.click(p.x, p.y);
  const press = await probe.waitEvent(mark, (e) => e.event === "button_press", "button press");
  assert.deepEqual([press.event.button, press.event.x, press.event.y], [1, 400, 300]);
  await probe.waitEvent(press.index, (e) => e.event === "button_release" && e.button === 1, "button release");

  // A right click too, by position.
  const q = await pagePoint(page, 900, 500);
  await page.mouse.click(q.x, q.y, { button: "right" });
  const right = await probe.waitEvent(press.index, (e) => e.event === "button_press" && e.button === 3, "right press");
  assert.deepEqual([right.event.x, right.event.y], [900, 500]);

  // Typing, with Shift held for the capital: the keys go down by position.
  const typed = probe.lines.all.length;
  await page.keyboard.down("Shift");
  await page.keyboard.press("KeyH");
  await page.keyboard.up("Shift");
  await page.keyboard.type("i there");
  const text = () =>
    probe
      .events(typed)
      .filter((e) => e.event === "key_press" && e.text)
      .map((e) => e.text)
      .join("");
  await probe.waitEvent(typed, () => text().length >= 8, "eight typed characters");
  assert.equal(text(), "Hi there");
  await shot(page, "control-4-after-input");

  // Leaving the page releases everything: no key stays down on the remote side.
  await endSession(page);
  await shot(page, "control-5-ended");
  await page.context().close();

  // The agent's terminal is the person's: a whole session that went well put nothing else
  // there (WebRTC's and the input library's routine warnings go to the log file, if anywhere).
  assert.deepEqual(agent.errors.all.filter((l) => l.trim()), [], "log lines in the agent's terminal");
});

test("chat both ways between the viewer and the agent's terminal, with times and an unread count", async () => {
  const page = await signedIn("chat");
  const from = await enterCode(page);
  await agent.answer(from, "c");
  await waitForScene(page);
  // The agent's terminal says how to write back.
  await agent.lines.waitFrom(from, (l) => l.includes("To write to Jane Doe, type a message and press Enter."), "chat hint");

  // The supporter writes: it is printed at the agent's terminal with their name.
  await page.getByRole("button", { name: "Chat" }).click();
  await page.getByText("No messages yet.").waitFor();
  await page.getByRole("textbox", { name: "Message" }).fill("Hello, I am opening the printer settings — d’accord?");
  await page.getByRole("button", { name: "Send" }).click();
  await agent.lines.waitFrom(from, (l) => l === "[chat] Jane Doe: Hello, I am opening the printer settings — d’accord?", "chat at the agent");
  const mine = page.locator(".chat-log li.mine");
  assert.match((await mine.textContent()) ?? "", /^You \d{1,2}:\d{2}( [AP]M)?Hello, I am opening/);

  // The person answers at the terminal while the panel is closed: the Chat button counts it.
  await page.getByRole("button", { name: "Close" }).click();
  agent.write("Sure, go ahead\n");
  const badge = page.getByRole("button", { name: /^Chat/ }).locator(".unread");
  await badge.waitFor();
  assert.equal(await badge.textContent(), "1");
  assert.equal(await badge.getAttribute("aria-label"), "1 unread");
  await shot(page, "chat-1-unread");
  await page.getByRole("button", { name: /^Chat/ }).click();
  const theirs = page.locator(".chat-log li.theirs");
  // Named as the computer is in the toolbar, with the time it arrived.
  assert.equal(await theirs.locator(".who").textContent(), await page.locator(".toolbar .host").textContent());
  assert.match((await theirs.textContent()) ?? "", /\d{1,2}:\d{2}( [AP]M)?Sure, go ahead$/);
  assert.equal(await badge.count(), 0, "read once the panel is open");
  await shot(page, "chat-2-open");

  // Typing into the chat sends no key to the remote computer.
  const typed = probe.lines.all.length;
  await page.getByRole("textbox", { name: "Message" }).fill("");
  await page.getByRole("textbox", { name: "Message" }).pressSequentially("ok");
  await page.keyboard.press("Enter");
  await agent.lines.waitFrom(from, (l) => l === "[chat] Jane Doe: ok", "second chat at the agent");
  assert.deepEqual(probe.events(typed).filter((e) => e.event === "key_press"), []);

  // A message cannot drive the person's terminal: escape sequences and marks that reorder text
  // are dropped before it is printed.
  await page.getByRole("textbox", { name: "Message" }).fill("\u001b[2Jsee \u202Etxt.exe");
  await page.getByRole("button", { name: "Send" }).click();
  await agent.lines.waitFrom(from, (l) => l.startsWith("[chat] Jane Doe: ") && l.includes("see"), "third chat at the agent");
  assert.equal(agent.lines.all.findLast((l) => l.includes("see")), "[chat] Jane Doe: [2Jsee txt.exe");

  // With no session, a line typed at the terminal is not lost silently.
  await endSession(page);
  const after = agent.lines.all.length;
  agent.write("anyone there?\n");
  await agent.lines.waitFrom(after, (l) => l === "[chat] Not sent: no session is running.", "undelivered chat");

  // The relay kept the count of the four messages, not what they said.
  await page.getByRole("link", { name: "History" }).click();
  const newest = page.locator("tbody tr").first();
  // The table is there before its header is read (an empty header would point at another cell).
  await page.locator("thead th", { hasText: "Chat messages" }).waitFor();
  const header = await page.locator("thead th").allTextContents();
  assert.equal(await newest.locator("td").nth(header.indexOf("Chat messages")).textContent(), "4");
  await page.context().close();
});

test("a view-only session injects nothing", async () => {
  const page = await signedIn("view");
  const from = await enterCode(page, "view");
  await agent.answer(from, "v");
  await waitForScene(page);
  await page.getByText("View only", { exact: true }).waitFor();
  await shot(page, "view-1-live");
  // Looking is not changing: no files to that computer.
  assert.equal(await page.getByRole("button", { name: "Files" }).count(), 0);

  const mark = probe.lines.all.length;
  const p = await pagePoint(page, 200, 150);
  await page.mouse.click(p.x, p.y);
  await page.mouse.wheel(0, 300);
  await page.keyboard.type("nothing");
  await endSession(page);
  await page.context().close();

  // A control session afterwards: its click must be the first thing the X server saw since the
  // mark — nothing from the view-only session arrived before it.
  const page2 = await signedIn("after-view");
  const from2 = await enterCode(page2);
  await agent.answer(from2, "c");
  await waitForScene(page2);
  const p2 = await pagePoint(page2, 100, 100);
  await page2.mouse.click(p2.x, p2.y);
  const press = await probe.waitEvent(mark, (e) => e.event === "button_press", "button press");
  const before = probe.events(mark).slice(0, press.index - mark);
  for (const e of before) {
    assert.equal(e.event, "motion", `unexpected ${JSON.stringify(e)} before the control click`);
    assert.deepEqual([e.x, e.y], [100, 100], "only the control session's move");
  }
  assert.deepEqual([press.event.x, press.event.y], [100, 100]);
  await endSession(page2);
  await page2.context().close();
});

test("a declined request says so", async () => {
  const page = await signedIn("deny");
  const from = await enterCode(page);
  await page.getByRole("heading", { name: "Waiting for an answer" }).waitFor();
  await agent.answer(from, "d");
  await page.getByText("The person at the other computer declined.").waitFor();
  await shot(page, "deny-1-declined");
  await page.context().close();
});

test("works with iceTransportPolicy relay through the embedded TURN server", async () => {
  const page = await signedIn("turn", "?ice=relay");
  const from = await enterCode(page);
  await agent.answer(from, "c");
  await waitForScene(page);
  await page.getByRole("button", { name: "Statistics" }).click();
  await page.getByText("relayed (TURN)").waitFor();
  assert.match((await page.locator(".stats").textContent()) ?? "", /relayed \(TURN\)/);
  await page.locator(".stats", { hasText: "H264" }).waitFor();
  // Once the screen is still, the overlay says so: a frame rate of 0 (keepalives come every
  // 2 s), and no capture + encode time, as nothing changed to be captured.
  await page.waitForFunction(() => {
    const row = (label) => [...document.querySelectorAll(".stats dt")].find((d) => d.textContent?.startsWith(label))?.nextElementSibling?.textContent ?? "";
    return /^0\s*$/.test(row("Frames per second")) && row("Capture + encode") === "—";
  }, undefined, { timeout: WAIT_MS });
  await shot(page, "turn-1-live");

  // Input still lands through the relayed path.
  const mark = probe.lines.all.length;
  const p = await pagePoint(page, 640, 360);
  await page.mouse.click(p.x, p.y);
  const press = await probe.waitEvent(mark, (e) => e.event === "button_press", "button press via TURN");
  assert.deepEqual([press.event.x, press.event.y], [640, 360]);
  await endSession(page);
  await page.context().close();
});

test("a TURN server that will not forward to the other computer is named as the cause", async () => {
  // A relay that thinks it is on the internet (public address 203.0.113.7, bound everywhere):
  // it forwards to no loopback or private peer, and answers such permissions with 403.
  const refusing = await startRelay({
    env: (turnPort) => ({
      TETHER_TURN_BIND_IP: "0.0.0.0",
      TETHER_TURN_PUBLIC_HOST: "203.0.113.7",
      TETHER_TURN_URLS: `["turn:127.0.0.1:${turnPort}?transport=udp"]`,
    }),
  });
  const other = await startAgent(refusing.url, xvfb.display, ["--name", "refused-agent"]);
  try {
    const page = await signedIn("turn-refused", "?ice=relay", { base: refusing.url });
    const from = other.lines.all.length;
    await page.getByLabel("Share code").fill(await other.code());
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await other.answer(from, "c");
    await page.getByText("would not forward to the other computer").waitFor({ timeout: 60_000 });
    await shot(page, "turn-refused");
    await page.context().close();
  } finally {
    other.stop();
    refusing.stop();
  }
});

test("after a relay restart, each side still hears who ended the session", async () => {
  // Its own relay and agent: the restart and the stop would disturb the other tests.
  const own = await startRelay();
  const other = await startAgent(own.url, xvfb.display, ["--name", "restart-agent"]);
  try {
    /** A live session with `other`, then the relay restarted under it. */
    const liveThroughRestart = async (name) => {
      const page = await signedIn(name, "", { base: own.url });
      const from = other.lines.all.length;
      await page.getByLabel("Share code").fill(await other.code());
      await page.getByRole("button", { name: "Connect", exact: true }).click();
      await other.answer(from, "c");
      await waitForScene(page);
      const mark = other.lines.all.length;
      await own.restart();
      // The agent is back with a code from the new relay; the media went on peer to peer.
      await other.code(mark);
      return { page, mark };
    };

    // The supporter ends it: the agent says so, and nothing about the relay not knowing it.
    const first = await liveThroughRestart("restart-supporter-ends");
    await first.page.getByRole("button", { name: "End session" }).click();
    await first.page.getByText("You ended the session.").waitFor();
    const { line } = await other.lines.waitFrom(first.mark, (l) => /Session .* ended/.test(l), "the end at the agent");
    assert.match(line, /ended: the supporter ended it\./);
    assert.deepEqual(other.lines.all.slice(first.mark).filter((l) => /relay says/i.test(l)), []);
    await shot(first.page, "restart-1-supporter-ended");
    await first.page.context().close();

    // The person at the computer stops the agent (Ctrl-C or the service stopping): the
    // supporter is told that they ended it, not that the connection failed.
    const second = await liveThroughRestart("restart-person-ends");
    other.stop();
    await second.page.getByText("The person at the other computer ended the session.").waitFor();
    await shot(second.page, "restart-2-person-ended");
    await second.page.context().close();
  } finally {
    other.stop();
    own.stop();
  }
});

/** The TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 `secret` at `unixSecs`. */
function totpCode(secret, unixSecs) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bits = [...secret.replace(/[\s=]/g, "")].map((c) => alphabet.indexOf(c).toString(2).padStart(5, "0")).join("");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSecs / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const n = (mac.readUInt32BE(mac[19] & 0xf) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

test("the account page changes the password and turns two-step verification on and off", async () => {
  // A relay of its own: the password changes here must not touch the other tests' accounts.
  const own = await startRelay();
  try {
    const page = await signedIn("account", "", { base: own.url, bypassCSP: true });
    await page.getByRole("link", { name: "Account" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    assert.deepEqual(await a11yViolations(page), [], "account page");

    const fresh = "a brand new passphrase";
    const refreshes = [];
    page.on("request", (r) => r.url().endsWith("/api/v1/auth/refresh") && refreshes.push(r.url()));
    await page.getByLabel("Current password").fill("not the password");
    await page.getByLabel("New password", { exact: true }).fill(fresh);
    await page.getByLabel("New password, again").fill(fresh);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Wrong email, password or code").waitFor();
    assert.deepEqual(refreshes, [], "a wrong password is an answer, not an expired sign-in to refresh");
    await page.getByLabel("Current password").fill(PASSWORD);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Your password was changed").waitFor();

    await page.getByLabel("Your password").fill(fresh);
    await page.getByRole("button", { name: "Turn on" }).click();
    const secret = (await page.locator("code.secret").textContent()) ?? "";
    assert.match(secret, /^[A-Z2-7 ]{20,}$/);
    const now = Date.now() / 1000;
    await page.getByLabel("Authentication code").fill(totpCode(secret, now));
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.getByText("Two-step verification is on").waitFor();
    await page.getByText("On: signing in takes a code").waitFor();
    await shot(page, "account-totp-on");
    // The app remembers: away and back, the page shows two-step verification on.
    await page.getByRole("link", { name: "Connect" }).click();
    await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
    await page.getByRole("link", { name: "Account" }).click();
    await page.getByText("On: signing in takes a code").waitFor();

    // Each code is good once: turning it off takes the next one.
    await page.getByLabel("Authentication code").fill(totpCode(secret, now + 30));
    await page.getByRole("button", { name: "Turn off" }).click();
    await page.getByText("Two-step verification is off").waitFor();
    await page.context().close();

    // The new password signs in, with no code.
    const signIn = await fetch(`${own.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: EMAIL, password: fresh }),
    });
    assert.equal(signIn.status, 200);
  } finally {
    own.stop();
  }
});

test("a VP8 agent streams to the browser too", async () => {
  const vp8 = await startAgent(relay.url, xvfb.display, ["--codec", "vp8", "--name", "vp8-agent"]);
  try {
    const page = await signedIn("vp8");
    const code = await vp8.code();
    await page.getByLabel("Share code").fill(code);
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await vp8.answer(0, "c");
    await waitForScene(page);
    await page.getByRole("button", { name: "Statistics" }).click();
    await page.locator(".stats", { hasText: "VP8" }).waitFor();
    await shot(page, "vp8-1-live");
    const mark = probe.lines.all.length;
    const p = await pagePoint(page, 321, 123);
    await page.mouse.click(p.x, p.y);
    const press = await probe.waitEvent(mark, (e) => e.event === "button_press", "button press");
    assert.deepEqual([press.event.x, press.event.y], [321, 123]);
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByText("You ended the session.").waitFor();
    await page.context().close();
  } finally {
    vp8.stop();
  }
});

test("history, admin, every language, and no serious accessibility problems", async () => {
  const page = await signedIn("admin", "", { email: OWNER_EMAIL, bypassCSP: true });
  assert.deepEqual(await a11yViolations(page), [], "connect page");

  // A live session's screen (the owner connects too).
  const from = await enterCode(page);
  assert.deepEqual(await a11yViolations(page), [], "waiting page");
  await agent.answer(from, "c");
  await waitForScene(page);
  await page.getByRole("button", { name: "Statistics" }).click();
  await page.getByRole("button", { name: "Clipboard" }).click();
  assert.deepEqual(await a11yViolations(page), [], "live session");
  await endSession(page);

  // History: the sessions so far, by this organisation's supporters, with their end reasons.
  await page.getByRole("link", { name: "History" }).click();
  await page.getByRole("heading", { name: "Session history" }).waitFor();
  const rows = page.locator("tbody tr");
  await rows.first().waitFor();
  assert.ok((await rows.count()) >= 5, `sessions listed: ${await rows.count()}`);
  await page.getByRole("cell", { name: "View only" }).first().waitFor();
  await page.getByRole("cell", { name: "You ended the session." }).first().waitFor();
  assert.deepEqual(await a11yViolations(page), [], "history page");
  await shot(page, "admin-1-history");

  // Admin: members and roles, a new API key shown once, the audit log filtered.
  await page.getByRole("link", { name: "Admin" }).click();
  await page.getByRole("combobox", { name: "Role of Jane Doe" }).waitFor();
  assert.equal(await page.getByRole("combobox", { name: "Role of Jane Doe" }).inputValue(), "technician");
  await page.getByLabel("Label").fill("monitoring");
  await page.getByLabel("sessions:read").check();
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.locator(".secret code").textContent();
  assert.match(secret ?? "", /^tak_/);
  await page.getByRole("cell", { name: "monitoring" }).waitFor();
  await page.getByLabel("Action").fill("consent");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByRole("cell", { name: "consent", exact: true }).first().waitFor();
  const actions = await page.locator("section[aria-labelledby=audit-title] tbody td:nth-child(3)").allTextContents();
  assert.ok(actions.length > 0 && actions.every((a) => a === "consent"), actions.join(","));
  assert.deepEqual(await a11yViolations(page), [], "admin page");
  await shot(page, "admin-2-admin");

  // Every language, from the switcher; the choice survives a reload.
  for (const [name, lang, heading] of [
    ["Français", "fr", "Journal d’audit"],
    ["Deutsch", "de", "Prüfprotokoll"],
    ["Nederlands", "nl", "Auditlogboek"],
  ]) {
    await page.getByRole("combobox", { name: /Language|Langue|Sprache|Taal/ }).selectOption({ label: name });
    await page.getByRole("heading", { name: heading }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), lang);
    await shot(page, `admin-3-${lang}`);
  }
  await page.reload();
  await page.getByRole("heading", { name: "Auditlogboek" }).waitFor();
  await page.getByRole("combobox", { name: "Taal" }).selectOption({ label: "English" });
  await page.getByRole("heading", { name: "Audit log" }).waitFor();
  await page.context().close();
});

test("an enrolled computer: token and policy from the admin page, unattended connect from the list, its files browsed", async () => {
  // The owner makes an enrollment token; it is shown once, with the install commands.
  const admin = await signedIn("machines", "", { email: OWNER_EMAIL, bypassCSP: true });
  await admin.getByRole("link", { name: "Admin" }).click();
  const tokens = admin.locator("section[aria-labelledby=tokens-title]");
  await tokens.getByLabel("Tags (comma-separated)").fill("kiosk, lobby");
  await tokens.getByRole("button", { name: "Create token" }).click();
  const token = (await tokens.locator("code.token").textContent()) ?? "";
  assert.match(token, /^tet_/);
  const commands = await tokens.locator(".secret code").allTextContents();
  assert.ok(commands.length === 4 && commands.slice(1).every((c) => c.includes(token) && c.includes(relay.url)), commands.join("\n"));
  await tokens.getByRole("cell", { name: "kiosk, lobby" }).waitFor();
  await tokens.getByRole("cell", { name: "0 / 100" }).waitFor();

  const machine = await startMachineAgent(relay.url, xvfb.display, token, "kiosk-7");
  try {
    // Listed online; the policy lets technicians in unattended, with nobody signed in.
    await admin.reload();
    const machines = admin.locator("section[aria-labelledby=admin-machines-title]");
    const row = machines.locator("tr", { hasText: "kiosk-7" });
    await row.getByText("Online").waitFor();
    assert.equal(await row.getByRole("cell", { name: "kiosk, lobby" }).count(), 1);
    await row.getByText("asks the user").click();
    const policy = row.getByRole("form", { name: "Access policy of kiosk-7" });
    await policy.getByLabel("The person at the computer must allow each session").uncheck();
    await policy.getByLabel("Allow sessions when nobody is signed in").check();
    await policy.getByLabel("Supporters may browse this computer's files in unattended sessions").check();
    await policy.getByRole("button", { name: "Save policy" }).click();
    await machines.getByText(/^unattended/).waitFor();
    assert.deepEqual(await a11yViolations(admin), [], "admin page with machines and tokens");
    await shot(admin, "machines-1-admin");

    // The technician connects from the list: straight in, the scene streams.
    const page = await signedIn("machines-tech", "", { bypassCSP: true });
    const connect = page.getByRole("button", { name: "Connect to kiosk-7" });
    await connect.waitFor();
    assert.deepEqual(await a11yViolations(page), [], "connect page with the machine list");
    await shot(page, "machines-2-list");
    // The list narrows as the supporter types (name, system or tag).
    const search = page.getByRole("searchbox", { name: "Find a computer" });
    await search.fill("nowhere-pc");
    await page.getByText("No computer matches.").waitFor();
    assert.equal(await connect.isVisible(), false);
    await search.fill("lobby linux");
    await connect.waitFor();
    const from = machine.lines.all.length;
    await connect.click();
    await waitForScene(page);
    await machine.lines.waitFrom(from, (l) => l.includes("unattended"), "the unattended session at the agent");
    await shot(page, "machines-3-live");

    // The policy lets the supporter browse its files: the Files panel lists the home folder,
    // opens a folder, and fetches a file, which arrives checked like any other; the computer's
    // terminal says it is being sent.
    const report = randomBytes(200 * 1024 + 3);
    mkdirSync(join(machine.home, "Documents"));
    writeFileSync(join(machine.home, "Documents", "report.bin"), report);
    writeFileSync(join(machine.home, "notes.txt"), "hello");
    await page.getByRole("button", { name: "Files" }).click();
    const browse = page.getByRole("list", { name: "Files on kiosk-7" });
    await browse.getByRole("button", { name: "Open folder Documents" }).click();
    await browse.getByRole("button", { name: "Get report.bin" }).click();
    const arrived = page.locator("li", { hasText: "report.bin" }).filter({ hasText: "Checked, ready to save" });
    await arrived.waitFor();
    // Listed as it came, so the panel no longer says it is on its way.
    await page.getByText("Asked for report.bin", { exact: false }).waitFor({ state: "detached" });
    await shot(page, "machines-4-browse");
    assert.deepEqual(await a11yViolations(page), [], "files panel browsing the computer");
    const download = page.waitForEvent("download");
    await arrived.getByRole("link", { name: "Save" }).click();
    assert.ok(readFileSync(await (await download).path()).equals(report), "the fetched file is the file");
    await machine.lines.waitFrom(from, (l) => l.startsWith("[file] Jane Doe is taking report.bin (204.8 kB) from this computer"), "the computer says who takes it");
    // Up to the home folder; a file that is gone is refused with a reason.
    await page.getByRole("button", { name: "Up" }).click();
    await browse.getByRole("button", { name: "Get notes.txt" }).waitFor();
    await browse.getByRole("button", { name: "Open folder Documents" }).click();
    await browse.getByRole("button", { name: "Get report.bin" }).waitFor();
    rmSync(join(machine.home, "Documents", "report.bin"));
    await browse.getByRole("button", { name: "Get report.bin" }).click();
    await page.getByText("report.bin cannot be sent: it is not there any more").waitFor();
    // A folder the agent's account may not read is refused in the supporter's words, not the OS's.
    // No permissions at all: refused to the agent whichever account it runs as (root aside).
    mkdirSync(join(machine.home, "Private"), { mode: 0o000 });
    await page.getByRole("button", { name: "Up" }).click();
    await browse.getByRole("button", { name: "Open folder Private" }).click();
    await page.getByText("This folder cannot be listed: the account the agent runs as may not read it").waitFor();
    await shot(page, "machines-5-browse-denied");
    chmodSync(join(machine.home, "Private"), 0o700);
    // The computer's terminal says where the supporter looks, and the organisation's audit log
    // has every folder asked for: which, how many items (never their names), or why not.
    const documents = join(machine.home, "Documents");
    await machine.lines.waitFrom(from, (l) => l === `[file] Jane Doe is looking in ${documents}.`, "the computer says where the supporter looks");
    const listed = (await admin.evaluate(() => fetch("/api/v1/audit?action=folder_listed").then((r) => r.json())))
      .map((e) => [e.detail.path, e.outcome, e.detail.entries, e.detail.refused ?? null])
      .reverse();
    assert.deepEqual(
      listed.filter(([path]) => path === documents || path === join(machine.home, "Private")),
      [
        [documents, "ok", 1],
        [documents, "ok", 1],
        [join(machine.home, "Private"), "refused", 0, "denied"],
      ].map((r) => (r.length === 3 ? [...r, null] : r)),
    );
    assert.ok(listed.some(([path, outcome]) => path === machine.home && outcome === "ok"), JSON.stringify(listed));
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByText("You ended the session.").waitFor();

    // Technicians taken out of the policy: refused, with the reason.
    await row.getByText(/^unattended/).click();
    await policy.getByLabel("Technician").uncheck();
    await policy.getByRole("button", { name: "Save policy" }).click();
    await machines.getByText("Saved.").waitFor();
    await page.getByRole("button", { name: "New connection" }).click();
    await page.getByRole("button", { name: "Connect to kiosk-7" }).click();
    await page.getByText("This computer's access policy does not allow you to connect now.").waitFor();

    // A group policy for "kiosk", and the computer handed back to its group: technicians are in.
    const groups = admin.locator("section[aria-labelledby=groups-title]");
    const kiosk = groups.locator("tr", { hasText: "kiosk" });
    await kiosk.getByRole("cell", { name: "1", exact: true }).waitFor();
    await kiosk.getByText("No policy").click();
    const groupForm = kiosk.getByRole("form", { name: "Access policy of kiosk" });
    await groupForm.getByLabel("The person at the computer must allow each session").uncheck();
    await groupForm.getByLabel("Allow sessions when nobody is signed in").check();
    await groupForm.getByRole("button", { name: "Save policy" }).click();
    await groups.getByText("Saved.").waitFor();
    await admin.reload();
    await row.getByText("(its own)").click();
    await row.getByRole("button", { name: "Use the group's policy" }).click();
    await row.getByText("unattended (from group kiosk)").waitFor();
    assert.deepEqual(await a11yViolations(admin), [], "admin page with groups");
    await shot(admin, "machines-4-groups");
    await page.getByRole("button", { name: "Connect to kiosk-7" }).click();
    await waitForScene(page);
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByText("You ended the session.").waitFor();
    await page.context().close();
  } finally {
    machine.stop();
    await admin.context().close();
  }
});

test("the app ran under the relay's Content-Security-Policy without violations", () => {
  assert.deepEqual(loop.cspErrors, []);
});

test("a page without WebRTC says so and asks nobody for consent", async () => {
  const page = await signedIn("no-webrtc", "", { webrtc: false });
  await page.getByText(`This window cannot show a remote screen: it has no WebRTC. Open ${relay.url}/ in Chrome`).waitFor();
  assert.equal(await page.getByRole("button", { name: "Connect", exact: true }).isDisabled(), true);
  // Enter in the code field submits nothing either: the page never starts asking the agent.
  await page.getByLabel("Share code").fill(await agent.code());
  await page.getByLabel("Share code").press("Enter");
  assert.match((await page.locator("#connect-status").textContent()) ?? "", /has no WebRTC/);
  await shot(page, "no-webrtc-1-notice");
  await page.context().close();
});

// Last: it leaves this address and account throttled.
test("wrong codes are refused, then throttled with the wait shown", async () => {
  const page = await signedIn("throttle");
  const real = await agent.code();
  const wrong = real.slice(0, 9) + String((Number(real[9]) + 5) % 10);
  const status = page.locator("#connect-status");
  await page.getByLabel("Share code").fill(wrong);
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await page.getByText("Wrong code. Check the ten digits and try again.").waitFor();
  await shot(page, "throttle-1-wrong-code");
  // Three wrong codes are free; then each failure blocks for a delay that doubles, so a prompt
  // retry is throttled within a few attempts.
  let throttled = false;
  for (let i = 0; i < 10 && !throttled; i++) {
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    // The click shows "Checking the code…" at once; the relay's answer replaces it.
    await page.waitForFunction(() => {
      const s = document.querySelector("#connect-status")?.textContent ?? "";
      return s !== "" && !s.startsWith("Checking");
    });
    throttled = /Too many wrong codes/.test((await status.textContent()) ?? "");
  }
  assert.ok(throttled, "throttled within ten attempts");
  assert.match((await status.textContent()) ?? "", /Too many wrong codes\. Try again in \d+ s\./);
  assert.equal(await page.getByRole("button", { name: "Connect", exact: true }).isDisabled(), true);
  await shot(page, "throttle-2-throttled");
  await page.context().close();
});
