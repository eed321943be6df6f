// A session recorded end to end, in real headless Chromium: an organisation records every
// session; the agent's terminal says so before the person answers; the supporter's toolbar
// shows "Recorded"; when the session ends the agent's recording reaches the relay, and the
// supporter plays it on the Recordings page, seeks, and sees the screen the agent showed.
// Screenshots go to target/e2e-artifacts/browser/.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, afterEach, before, test } from "node:test";

import { OWNER_EMAIL, PASSWORD, WAIT_MS, shot } from "./harness.mjs";
import { Loop, QUADRANTS, pagePoint, waitForScene } from "./loop.mjs";

const loop = new Loop();

before(async () => {
  await loop.start();
});

afterEach(() => loop.closePages());

after(() => loop.stop());

/** `method path` on the relay's API as the organisation's owner. */
async function asOwner(method, path, body) {
  const login = await fetch(`${loop.relay.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: OWNER_EMAIL, password: PASSWORD }),
  });
  const { access_token: token } = await login.json();
  const r = await fetch(`${loop.relay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

/** The colour at (fx, fy) (fractions of the frame) of the video at `t` seconds, after seeking. */
async function colourAt(page, t, fx, fy) {
  return page.evaluate(
    async ([t, fx, fy]) => {
      const v = document.querySelector("video");
      if (v.readyState < 1) await new Promise((resolve) => v.addEventListener("loadedmetadata", resolve, { once: true }));
      v.currentTime = t;
      await new Promise((resolve) => v.addEventListener("seeked", resolve, { once: true }));
      const c = document.createElement("canvas");
      c.width = 128;
      c.height = 72;
      const g = c.getContext("2d");
      g.drawImage(v, 0, 0, 128, 72);
      return Array.from(g.getImageData(Math.floor(fx * 128), Math.floor(fy * 72), 1, 1).data.slice(0, 3));
    },
    [t, fx, fy],
  );
}

const near = (got, want) => got.every((v, i) => Math.abs(v - want[i]) <= 24);

test("a recorded session says so at both ends, and plays back on the Recordings page", async () => {
  await asOwner("PUT", "/api/v1/org/recordings", { retention_days: 30, mode: "always" });

  const page = await loop.signedIn("recorded");
  const from = await loop.enterCode(page);
  await loop.agent.answer(from, "c");
  assert.match(loop.agent.lines.all.slice(from).join("\n"), /this one will be recorded/, "the person was told first");
  await waitForScene(page);
  const badge = page.getByText("● Recorded", { exact: true });
  await badge.waitFor();
  await shot(page, "recorded-1-live");
  // A few seconds of the screen, so the recording has more than one fragment to seek in.
  await page.waitForTimeout(3000);
  await loop.endSession(page);

  // The agent sends the rest and the relay seals it.
  const deadline = Date.now() + WAIT_MS;
  let recordings = [];
  while (Date.now() < deadline) {
    recordings = await asOwner("GET", "/api/v1/recordings");
    if (recordings[0]?.sealed_at) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(recordings[0]?.sealed_at, `sealed: ${JSON.stringify(recordings)}`);
  assert.ok(recordings[0].segment_count >= 2, JSON.stringify(recordings[0]));

  // The supporter who ran it finds it and plays it: forward and back, the agent's screen.
  await page.getByRole("link", { name: "Recordings" }).click();
  await page.getByRole("heading", { name: "Session recordings" }).waitFor();
  await page.getByRole("button", { name: "Play" }).click();
  const duration = await page.evaluate(async () => {
    const v = document.querySelector("video");
    if (v.readyState < 1) await new Promise((resolve) => v.addEventListener("loadedmetadata", resolve, { once: true }));
    return v.duration;
  });
  assert.ok(duration >= 2.5, `duration ${duration}`);
  for (const t of [duration - 0.5, 0.2, duration / 2]) {
    const corners = [];
    for (const [i, [fx, fy]] of [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]].entries()) {
      const got = await colourAt(page, t, fx, fy);
      corners.push(got);
      assert.ok(near(got, QUADRANTS[i]), `at ${t.toFixed(2)} s, quadrant ${i}: ${got} (want ${QUADRANTS[i]})`);
    }
  }
  await shot(page, "recorded-2-played");
});

test("on request the supporter records part of a session, and the person is told at each step", async () => {
  await asOwner("PUT", "/api/v1/org/recordings", { retention_days: 30, mode: "on_request" });
  const before = await asOwner("GET", "/api/v1/recordings");

  const page = await loop.signedIn("on-request");
  const from = await loop.enterCode(page);
  await loop.agent.answer(from, "c");
  assert.match(loop.agent.lines.all.slice(from).join("\n"), /may record this session/, "the person was told first");
  await waitForScene(page);
  const badge = page.getByText("● Recorded", { exact: true });
  assert.equal(await badge.count(), 0, "not recorded until the supporter asks");

  let at = loop.agent.lines.all.length;
  await page.getByRole("button", { name: "● Record" }).click();
  await badge.waitFor();
  await loop.agent.lines.waitFrom(at, (l) => /started recording this session/.test(l), "the person told of the start");
  await shot(page, "on-request-1-recording");
  // While the session is recorded the supporter may keep a copy of their own: saved as WebM.
  assert.equal(await page.getByRole("button", { name: "Keep a copy" }).count(), 1);
  await page.getByRole("button", { name: "Keep a copy" }).click();
  await page.waitForTimeout(1500);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Save the copy" }).click()]);
  const copy = readFileSync(await download.path());
  assert.ok(copy.length > 1000, `a copy of ${copy.length} bytes`);
  assert.deepEqual([...copy.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], "a WebM (EBML) file");
  assert.match(download.suggestedFilename(), /^tether-.*\.webm$/);
  // It plays: ffmpeg decodes a frame of the screen (the quadrants' top-left red).
  const frame = execFileSync("ffmpeg", ["-loglevel", "error", "-i", await download.path(), "-frames:v", "1", "-vf", "scale=64:36", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
  assert.equal(frame.length, 64 * 36 * 3);
  const px = [...frame.subarray((9 * 64 + 16) * 3, (9 * 64 + 16) * 3 + 3)];
  assert.ok(near(px, QUADRANTS[0]), `the copy's top-left quadrant: ${px}`);
  // Long enough for more than one fragment, with a click and some typing in it, which the
  // probe's window sees land (so the agent has them before the stop).
  await page.waitForTimeout(500);
  const mark = loop.probe.lines.all.length;
  const p = await pagePoint(page, 400, 300);
  await page.mouse.click(p.x, p.y);
  await page.keyboard.type("abc");
  await loop.probe.waitEvent(mark, () => loop.probe.events(mark).filter((e) => e.event === "key_press" && e.text).length >= 3, "three typed characters");
  await page.waitForTimeout(1000);
  at = loop.agent.lines.all.length;
  await page.getByRole("button", { name: "■ Stop recording" }).click();
  await badge.waitFor({ state: "detached" });
  await loop.agent.lines.waitFrom(at, (l) => /stopped recording this session/.test(l), "the person told of the stop");

  // Sealed while the session goes on.
  const deadline = Date.now() + WAIT_MS;
  let recordings = [];
  while (Date.now() < deadline) {
    recordings = await asOwner("GET", "/api/v1/recordings");
    if (recordings.length > before.length && recordings[0].sealed_at) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(recordings.length, before.length + 1, JSON.stringify(recordings));
  assert.ok(recordings[0].sealed_at && recordings[0].segment_count >= 2, JSON.stringify(recordings[0]));
  await page.getByRole("button", { name: "● Record" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Keep a copy" }).count(), 0, "no copy of an unrecorded session");
  await waitForScene(page);
  await shot(page, "on-request-2-stopped");

  // The audit log has who started and stopped it.
  const audit = await asOwner("GET", "/api/v1/audit?limit=50");
  const entries = audit.filter((e) => e.action === "recording_start" || e.action === "recording_stop");
  assert.deepEqual(
    entries.map((e) => e.action).slice(0, 2).sort(),
    ["recording_start", "recording_stop"],
    JSON.stringify(entries),
  );
  await loop.endSession(page);

  // Beside the player: what the supporter did, never which keys; a moment in it plays from
  // just before.
  await page.getByRole("link", { name: "Recordings" }).click();
  await page.getByRole("heading", { name: "Session recordings" }).waitFor();
  await page.getByRole("button", { name: "Play" }).first().click();
  const events = page.locator("aside.timeline li");
  await events.first().waitFor();
  const lines = await events.allTextContents();
  assert.ok(lines.some((l) => /Click$/.test(l)), JSON.stringify(lines));
  const keys = lines.find((l) => /3 keys pressed$/.test(l));
  assert.ok(keys, JSON.stringify(lines));
  assert.ok(!lines.some((l) => /abc/i.test(l)), "no key is named");
  await page.locator("aside.timeline li", { hasText: "keys pressed" }).getByRole("button").click();
  const [m, s] = keys.split(" ")[0].split(":").map(Number);
  const seekedTo = await page.evaluate(async () => {
    const v = document.querySelector("video");
    if (v.seeking) await new Promise((resolve) => v.addEventListener("seeked", resolve, { once: true }));
    return v.currentTime;
  });
  assert.ok(Math.abs(seekedTo - Math.max(0, m * 60 + s - 1)) <= 1.5, `seeked to ${seekedTo} for ${keys}`);
  await shot(page, "on-request-3-timeline");

});
