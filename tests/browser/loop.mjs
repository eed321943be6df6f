// The whole loop for browser tests: a private Xvfb with the probe's window, the relay, a shared
// agent receiving files into a temporary Downloads folder, and Chromium; with the steps every
// test takes (sign in, type the share code, wait for the remote screen, end the session).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { EMAIL, PASSWORD, WAIT_MS, shot, startAgent, startBrowser, startProbe, startRelay, startXvfb } from "./harness.mjs";

/** The Xvfb screen's size. */
export const W = 1280;
export const H = 720;
/** The probe's quadrant colours, as RGB. */
export const QUADRANTS = [
  [0xd0, 0x20, 0x20],
  [0x20, 0xc0, 0x40],
  [0x30, 0x40, 0xe0],
  [0xf0, 0xe0, 0x30],
];

/** The running loop. */
export class Loop {
  /** Content Security Policy errors any page logged. */
  cspErrors = [];

  /** Starts everything; `agentArgs` go to the shared agent. */
  async start(agentArgs = []) {
    this.xvfb = await startXvfb(W, H);
    this.probe = await startProbe(this.xvfb.display);
    this.relay = await startRelay();
    /** Where the shared agent puts the files it receives. */
    this.downloads = mkdtempSync(join(tmpdir(), "tether-downloads-"));
    this.agent = await startAgent(this.relay.url, this.xvfb.display, ["--downloads", this.downloads, ...agentArgs]);
    await this.agent.code();
    this.browser = await startBrowser();
    return this;
  }

  async stop() {
    await this.browser?.close();
    this.agent?.stop();
    this.relay?.stop();
    if (this.downloads) rmSync(this.downloads, { recursive: true, force: true });
    this.xvfb?.proc.kill();
    // The probe exits with its X server.
  }

  /** Closes every page still open, as a failed test leaves them, so its session ends and the
   * next test finds the agent free. */
  async closePages() {
    for (const c of this.browser?.contexts() ?? []) await c.close();
  }

  /** A fresh, signed-in page on the connect screen. */
  async signedIn(name, query = "", { email = EMAIL, bypassCSP = false, webrtc = true, base = this.relay.url } = {}) {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US", bypassCSP });
    // A web view built without WebRTC, as some embedded ones are.
    if (!webrtc) await context.addInitScript(() => delete globalThis.RTCPeerConnection);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on("pageerror", (e) => console.error(`[page] ${e.message}`));
    // The app must run under the relay's CSP: a blocked script or style is a failure.
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) this.cspErrors.push(m.text());
    });
    await page.goto(`${base}/${query}`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await shot(page, `${name}-1-sign-in`);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
    return page;
  }

  /** Types the agent's current code digit by digit, as read over the phone, and connects. */
  async enterCode(page, mode = "control") {
    const from = this.agent.lines.all.length;
    const code = await this.agent.code();
    const field = page.getByLabel("Share code");
    await field.pressSequentially(code);
    // The field groups the digits as the other computer shows them.
    assert.equal(await field.inputValue(), `${code.slice(0, 3)} ${code.slice(3, 6)} ${code.slice(6)}`);
    await page.getByLabel(mode === "control" ? "Control the computer" : "View only").check();
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    return from;
  }

  /** Ends the session from the toolbar; the agent says so. */
  async endSession(page) {
    const from = this.agent.lines.all.length;
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByText("You ended the session.").waitFor();
    await this.agent.lines.waitFrom(from, (l) => /Session .* ended/.test(l), "session end at the agent");
  }
}

/** The colours at the centres of the four quadrants of the decoded video, and its size. */
export function sampleQuadrants() {
  const v = document.querySelector("video");
  if (!v || v.videoWidth === 0 || v.readyState < 2) return null;
  const c = document.createElement("canvas");
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0);
  const colours = [0, 1, 2, 3].map((i) => {
    const x = Math.floor(((i % 2) * 2 + 1) * (c.width / 4));
    const y = Math.floor((Math.floor(i / 2) * 2 + 1) * (c.height / 4));
    return [...g.getImageData(x, y, 1, 1).data.slice(0, 3)];
  });
  return { width: c.width, height: c.height, colours };
}

export const matches = (s) => s !== null && QUADRANTS.every((rgb, i) => rgb.every((want, k) => Math.abs(s.colours[i][k] - want) <= 12));

/** Waits until the decoded video shows the probe's four quadrants (polled, bounded). */
export async function waitForScene(page) {
  const deadline = Date.now() + WAIT_MS;
  let seen = null;
  while (Date.now() < deadline) {
    seen = await page.evaluate(sampleQuadrants);
    if (matches(seen)) return seen;
    await page.waitForTimeout(50);
  }
  throw new Error(`the scene never showed; last sample ${JSON.stringify(seen)}`);
}

/** Page coordinates of the centre of remote pixel (x, y) inside the letterboxed video. */
export async function pagePoint(page, x, y) {
  return page.evaluate(
    ([x, y]) => {
      const v = document.querySelector("video");
      const box = v.getBoundingClientRect();
      const scale = Math.min(box.width / v.videoWidth, box.height / v.videoHeight);
      const left = box.left + (box.width - v.videoWidth * scale) / 2;
      const top = box.top + (box.height - v.videoHeight * scale) / 2;
      return { x: left + (x + 0.5) * scale, y: top + (y + 0.5) * scale };
    },
    [x, y],
  );
}
