// What the page actually shows: a sampler on the viewer's <video> that reads a patch of every
// frame Chromium presents (requestVideoFrameCallback + a canvas), and glass-to-glass timing of
// changes the probe paints on the X server. Shared by the suite (loose bounds) and the bench.

import { EMAIL, PASSWORD, WAIT_MS } from "./harness.mjs";

/** Keeps the page's peer connection within reach of `inbound` (an init script of `context`). */
export async function exposePeer(context) {
  await context.addInitScript(() => {
    const Native = globalThis.RTCPeerConnection;
    globalThis.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        globalThis.__tetherPeer = this;
      }
    };
  });
}

/**
 * A page in a new context of `browser` (with `exposePeer`), signed in at `url` and connected to
 * `agent` with control, once it has shown the first frame.
 */
export async function liveSession(browser, url, agent, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, locale: "en-US" });
  await exposePeer(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(url);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  await page.getByLabel("Share code").fill(await agent.code());
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await agent.answer(0, "c");
  await page.waitForFunction(() => performance.getEntriesByName("tether:first_frame").length > 0);
  return { context, page };
}

/** The browser's own figures for the video it receives (after `exposePeer`). */
export function inbound(page) {
  return page.evaluate(async () => {
    let out = null;
    (await globalThis.__tetherPeer.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out = {
          bytes: s.bytesReceived,
          keyframes: s.keyFramesDecoded,
          plis: s.pliCount,
          firs: s.firCount,
          frames: s.framesDecoded,
          received: s.framesReceived,
          dropped: s.framesDropped,
        };
      }
    });
    return out;
  });
}

/** The patch the probe repaints: a square in the middle of the screen. */
export const PATCH = 96;

/**
 * Installs the sampler: each presented frame's colour at the centre of the patch at (x, y) of the
 * remote screen, with its presentation time on this machine's wall clock, lands in
 * `window.__shown`.
 */
export async function watchVideo(page, x, y) {
  await page.evaluate(
    ([x, y, size]) => {
      const v = document.querySelector("video");
      const c = document.createElement("canvas");
      c.width = 4;
      c.height = 4;
      const g = c.getContext("2d", { willReadFrequently: true });
      window.__shown = [];
      const onFrame = (_now, meta) => {
        // The middle of the patch, away from edges the encoder may blur.
        const m = size / 4;
        g.drawImage(v, x + m, y + m, size / 2, size / 2, 0, 0, 4, 4);
        const d = g.getImageData(1, 1, 1, 1).data;
        window.__shown.push({
          rgb: [d[0], d[1], d[2]],
          at: performance.timeOrigin + meta.presentationTime,
          received: meta.receiveTime != null ? performance.timeOrigin + meta.receiveTime : null,
          frames: meta.presentedFrames,
        });
        if (window.__shown.length > 20_000) window.__shown.splice(0, 10_000);
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    },
    [x, y, PATCH],
  );
}

/** `rgb` as the probe's `rrggbb`. */
export const hex = (rgb) => rgb.map((v) => v.toString(16).padStart(2, "0")).join("");

/**
 * Waits until a frame presented at or after wall-clock `since` shows `rgb` in the patch;
 * resolves with that frame, or `null` after `timeoutMs`.
 */
export async function shownAfter(page, rgb, since, timeoutMs) {
  const handle = await page
    .waitForFunction(
      ([rgb, since]) =>
        window.__shown.find((f) => f.at >= since && f.rgb.every((v, i) => Math.abs(v - rgb[i]) <= 40)) ?? null,
      [rgb, since],
      { timeout: timeoutMs, polling: 5 },
    )
    .catch(() => null);
  return handle ? handle.jsonValue() : null;
}

/** Two colours far apart in every channel, so a half-decoded patch never passes for either. */
export const COLOURS = [
  [0xf0, 0xf0, 0xf0],
  [0x10, 0x10, 0x10],
];

/**
 * Paints single changes after idle gaps and times each from the X server having drawn it to the
 * page presenting it. `gaps` maps a gap in ms to how many changes to make after it. A change not
 * shown within `limitMs` counts as held (it would wait for the next change to appear) and the next
 * change is made anyway. Returns `{ gap: { latencies: [ms], held: n } }`.
 */
export async function glassToGlass(page, probe, { x, y, gaps, limitMs = 2_000 }) {
  // Start from a known colour that the page shows.
  let colour = 0;
  let paintedAt = await probe.paint(x, y, PATCH, PATCH, hex(COLOURS[colour]));
  const first = await shownAfter(page, COLOURS[colour], 0, 20_000);
  if (!first) throw new Error("the patch never showed");
  const out = {};
  for (const [gap, count] of gaps) {
    const r = { latencies: [], held: 0 };
    out[gap] = r;
    for (let i = 0; i < count; i++) {
      const wait = paintedAt + gap - Date.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      colour ^= 1;
      paintedAt = await probe.paint(x, y, PATCH, PATCH, hex(COLOURS[colour]));
      // Frames presented before the paint cannot show it (the page and the probe read one clock).
      const shown = await shownAfter(page, COLOURS[colour], paintedAt, limitMs);
      if (shown) r.latencies.push(shown.at - paintedAt);
      else r.held++;
    }
  }
  return out;
}

/** The p-th percentile of `xs` (nearest rank). */
export function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
}

/** Where remote pixel (0, 0) is on the page, and page pixels per remote pixel. */
export function videoGeometry(page) {
  return page.evaluate(() => {
    const v = document.querySelector("video");
    const b = v.getBoundingClientRect();
    const scale = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
    return { left: b.left + (b.width - v.videoWidth * scale) / 2, top: b.top + (b.height - v.videoHeight * scale) / 2, scale };
  });
}

/** The candidate pair the browser sends on (after `exposePeer`): local and remote candidate types, and its round-trip time in ms. */
export function selectedPair(page) {
  return page.evaluate(async () => {
    const stats = await globalThis.__tetherPeer.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) return null;
    return {
      local: stats.get(pair.localCandidateId)?.candidateType,
      remote: stats.get(pair.remoteCandidateId)?.candidateType,
      rttMs: pair.currentRoundTripTime != null ? pair.currentRoundTripTime * 1000 : null,
    };
  });
}
