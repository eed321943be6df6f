// Session recordings in real headless Chromium against the real relay binary: a recording made
// of fragmented MP4 segments (ffmpeg, libx264) is uploaded with its own credential, then a
// supporter finds it on the Recordings page, plays it, seeks, and the frame shown is the one
// recorded at that time; downloaded piece by piece it passes `tether-relay recording verify`,
// and one changed byte is named. Screenshots go to target/e2e-artifacts/browser/.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { BIN, EMAIL, OWNER_EMAIL, PASSWORD, WAIT_MS, a11yViolations, shot, startBrowser, startRelay } from "./harness.mjs";

/** What the recording shows: two seconds of each colour, in this order. */
const COLOURS = [
  ["red", [255, 0, 0]],
  ["lime", [0, 255, 0]],
  ["blue", [0, 0, 255]],
];

let relay, browser, work;

before(async () => {
  relay = await startRelay();
  browser = await startBrowser();
  work = mkdtempSync(join(tmpdir(), "tether-recording-"));
});

after(async () => {
  await browser?.close();
  relay?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A 6 s fragmented MP4 (a fragment a second), cut into segments at its top-level boxes: the
 * header (`ftyp`, `moov`), then each fragment (`moof`, `mdat`), as a recorder uploads them. */
function segments() {
  const file = join(work, "source.mp4");
  const inputs = COLOURS.map(([c], i) => `color=c=${c}:s=640x360:r=10:d=2[v${i}]`).join(";");
  const made = spawnSync(
    "ffmpeg",
    ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `${inputs};[v0][v1][v2]concat=n=3:v=1:a=0`,
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10",
      "-movflags", "+frag_keyframe+empty_moov+default_base_moof", file],
    { encoding: "utf8" },
  );
  assert.equal(made.status, 0, `ffmpeg: ${made.stderr}`);
  const bytes = readFileSync(file);
  const boxes = [];
  for (let at = 0; at < bytes.length; ) {
    const size = bytes.readUInt32BE(at);
    boxes.push({ type: bytes.toString("latin1", at + 4, at + 8), bytes: bytes.subarray(at, at + size) });
    at += size;
  }
  const out = [];
  for (const b of boxes) {
    if (b.type === "ftyp" || b.type === "moof" || out.length === 0) out.push([b.bytes]);
    else out.at(-1).push(b.bytes);
  }
  return { whole: bytes, pieces: out.map((parts) => Buffer.concat(parts)) };
}

/** Starts a recording owned by `email` the way an external recorder gets one. */
function startRecording(email, session) {
  const r = spawnSync(join(BIN, "tether-relay"), ["--data-dir", relay.dir, "recording", "start", "--owner", email, "--session", session], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function upload(rec, pieces) {
  const auth = { authorization: `Bearer ${rec.upload_token}` };
  for (const [i, piece] of pieces.entries()) {
    const r = await fetch(`${relay.url}/api/v1/recordings/${rec.id}/segments/${i + 1}`, { method: "PUT", headers: auth, body: piece });
    assert.equal(r.status, 200, await r.text());
  }
  const done = await fetch(`${relay.url}/api/v1/recordings/${rec.id}/finish`, { method: "POST", headers: auth });
  assert.equal(done.status, 200, await done.text());
}

/** Content Security Policy errors any page logged. */
const cspErrors = [];

/** A signed-in page; `bypassCSP` only for the accessibility check, which injects a script. */
async function signIn(email, { bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", bypassCSP });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (e) => console.error(`[page] ${e.message}`));
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  await page.goto(relay.url);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  return page;
}

/** The colour at the middle of the video's frame at time `t` (seconds), after seeking there. */
async function colourAt(page, t) {
  return page.evaluate(async (t) => {
    const v = document.querySelector("video");
    v.currentTime = t;
    await new Promise((resolve) => v.addEventListener("seeked", resolve, { once: true }));
    const c = document.createElement("canvas");
    c.width = 64;
    c.height = 36;
    const g = c.getContext("2d");
    g.drawImage(v, 0, 0, 64, 36);
    return Array.from(g.getImageData(32, 18, 1, 1).data.slice(0, 3));
  }, t);
}

const near = (got, want) => got.every((v, i) => Math.abs(v - want[i]) <= 24);

test("a recording plays in the browser, seeks to the frame recorded then, and verifies once downloaded", async () => {
  const { whole, pieces } = segments();
  assert.ok(pieces.length >= 7, `a header and six fragments: ${pieces.length}`);
  const mine = startRecording(EMAIL, "s_helped_bob");
  await upload(mine, pieces);
  // The owner's own recording is not Jane's to see.
  const other = startRecording(OWNER_EMAIL, "s_audit_only");
  await upload(other, pieces.slice(0, 2));

  const page = await signIn(EMAIL);
  await page.getByRole("link", { name: "Recordings" }).click();
  await page.getByRole("heading", { name: "Session recordings" }).waitFor();
  const rows = page.locator("tbody tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1, "only the recording Jane owns");
  assert.match(await rows.first().innerText(), /s_helped_bob/);
  await shot(page, "recordings-1-list");

  await page.getByRole("button", { name: "Play" }).click();
  const video = page.locator("video");
  await video.waitFor();
  const duration = await page.evaluate(async () => {
    const v = document.querySelector("video");
    if (v.readyState < 1) await new Promise((resolve) => v.addEventListener("loadedmetadata", resolve, { once: true }));
    return v.duration;
  });
  assert.ok(Math.abs(duration - 6) < 0.5, `duration ${duration}`);
  // Forward, back, and into the middle: each shows the colour recorded at that time.
  for (const [t, i] of [[5.2, 2], [0.5, 0], [3.1, 1]]) {
    const got = await colourAt(page, t);
    assert.ok(near(got, COLOURS[i][1]), `at ${t} s: ${got} (want ${COLOURS[i][0]})`);
  }
  await shot(page, "recordings-2-playing");

  // Its owner may download it: the signed pieces, checked offline by the relay's verifier.
  const downloaded = await page.evaluate(async (id) => {
    const get = async (path) => Array.from(new Uint8Array(await (await fetch(path)).arrayBuffer()));
    const manifest = await (await fetch(`/api/v1/recordings/${id}/manifest`)).text();
    const segs = [];
    for (let n = 1; ; n++) {
      const r = await fetch(`/api/v1/recordings/${id}/segments/${n}`);
      if (r.status === 404) break;
      segs.push(await get(`/api/v1/recordings/${id}/segments/${n}`));
    }
    return { manifest, segs };
  }, mine.id);
  assert.deepEqual(Buffer.concat(downloaded.segs.map((s) => Buffer.from(s))), whole, "the segments are the recording");
  const folder = mkdtempSync(join(work, "download-"));
  writeFileSync(join(folder, "manifest.json"), downloaded.manifest);
  downloaded.segs.forEach((s, i) => writeFileSync(join(folder, `${String(i + 1).padStart(6, "0")}.m4s`), Buffer.from(s)));
  const key = spawnSync(join(BIN, "tether-relay"), ["--data-dir", relay.dir, "recording", "public-key"], { encoding: "utf8" }).stdout.trim();
  const verify = () => spawnSync(join(BIN, "tether-relay"), ["recording", "verify", folder, "--public-key", key], { encoding: "utf8" });
  const intact = verify();
  assert.equal(intact.status, 0, intact.stderr);
  assert.match(intact.stdout, /intact: 7 segments|intact: \d+ segments/);
  const third = join(folder, "000003.m4s");
  const bytes = readFileSync(third);
  bytes[bytes.length - 10] ^= 0x40;
  writeFileSync(third, bytes);
  const altered = verify();
  assert.notEqual(altered.status, 0);
  assert.match(altered.stderr, /segment 3 \(000003\.m4s\) is not as recorded/);
  await page.context().close();
  assert.deepEqual(cspErrors, [], "the page and its player run under the relay's CSP");

  // The list and the player, for the accessibility check, as the owner (who sees both and the
  // sharing controls).
  const admin = await signIn(OWNER_EMAIL, { bypassCSP: true });
  await admin.getByRole("link", { name: "Recordings" }).click();
  await admin.locator("tbody tr").nth(1).waitFor();
  assert.equal(await admin.locator("tbody tr").count(), 2, "the owner sees every recording");
  await admin.getByRole("button", { name: "Play" }).first().click();
  await admin.getByRole("group", { name: "Who else may watch it" }).scrollIntoViewIfNeeded();
  await shot(admin, "recordings-3-owner");
  assert.deepEqual(await a11yViolations(admin), []);
  await admin.context().close();
});
