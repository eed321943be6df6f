// Browser benchmark: consent → first frame, and browser input event → delivered on the agent's
// X server, measured in headless Chromium against release builds. Prints a table; run it inside a
// private network namespace like the suite:
//   cargo build --release -p tether-relay -p tether-agent -p tether-tests --bins
//   unshare -n -- bash -c 'ip link set lo up && TETHER_BIN_DIR=target/release node tests/browser/bench.mjs'
// Clocks: the harness, Chromium and the X probe all read this machine's wall clock
// (performance.timeOrigin + now / SystemTime), so cross-process differences are real latencies.

import { cpus } from "node:os";
import { performance } from "node:perf_hooks";

import { EMAIL, PASSWORD, WAIT_MS, startAgent, startBrowser, startProbe, startRelay, startXvfb } from "./harness.mjs";
import { PATCH, glassToGlass, pct as percentile, watchVideo } from "./screen.mjs";

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 15);
const MOVES = Number(process.env.BENCH_MOVES ?? 400);
/** Idle gaps before a single change, in ms, and how many changes after each. */
const GAPS = [
  [50, 40],
  [150, 30],
  [400, 20],
  [1000, 12],
  [3000, 8],
];
const CODECS = (process.env.BENCH_CODECS ?? "h264,vp8").split(",");
const now = () => performance.timeOrigin + performance.now();

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const row = (name, xs, goal) => {
  const s = [...xs].sort((a, b) => a - b);
  return `| ${name} | ${s.length} | ${pct(s, 50).toFixed(2)} ms | ${pct(s, 99).toFixed(2)} ms | ${goal} |`;
};

const xvfb = await startXvfb(1920, 1080);
const probe = await startProbe(xvfb.display);
const relay = await startRelay();
const agent = await startAgent(relay.url, xvfb.display);
await agent.code();
const browser = await startBrowser();
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
page.setDefaultTimeout(WAIT_MS);
await page.goto(relay.url);
await page.getByLabel("Email").fill(EMAIL);
await page.getByLabel("Password").fill(PASSWORD);
await page.getByRole("button", { name: "Sign in" }).click();

const firstFrame = [];
for (let i = 0; i < SESSIONS; i++) {
  await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
  const from = agent.lines.all.length;
  await page.getByLabel("Share code").fill(await agent.code());
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await agent.lines.waitFrom(from, (l) => l.includes("Allow?"), "consent prompt");
  await page.evaluate(() => performance.clearMarks());
  const consentAt = now();
  agent.answer(from, "c");
  await page.waitForFunction(() => performance.getEntriesByName("tether:first_frame").length > 0);
  const frameAt = await page.evaluate(() => performance.timeOrigin + performance.getEntriesByName("tether:first_frame")[0].startTime);
  firstFrame.push(frameAt - consentAt);
  if (i < SESSIONS - 1) {
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByRole("button", { name: "New connection" }).click();
  }
}

// Input: each move goes to a fresh remote pixel; the latency is the browser event's timestamp to
// the probe reading the X motion event at that pixel.
await page.evaluate(() => {
  // The app listens to pointerrawupdate where it exists; both carry the OS event's timestamp.
  window.__moves = [];
  const rec = (ev) => {
    const last = window.__moves.at(-1);
    if (!last || last.x !== ev.clientX || last.y !== ev.clientY) window.__moves.push({ x: ev.clientX, y: ev.clientY, t: performance.timeOrigin + ev.timeStamp });
  };
  for (const type of ["pointerrawupdate", "pointermove"]) window.addEventListener(type, rec, { capture: true });
});
const geom = await page.evaluate(() => {
  const v = document.querySelector("video");
  const b = v.getBoundingClientRect();
  const scale = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
  return { left: b.left + (b.width - v.videoWidth * scale) / 2, top: b.top + (b.height - v.videoHeight * scale) / 2, scale };
});
const input = [];
for (let i = 0; i < MOVES; i++) {
  const rx = 100 + (i % 800);
  const ry = 100 + Math.floor(i / 800) * 2 + (i % 2) * 500;
  const mark = probe.lines.all.length;
  await page.mouse.move(geom.left + (rx + 0.5) * geom.scale, geom.top + (ry + 0.5) * geom.scale);
  const { event } = await probe.waitEvent(mark, (e) => e.event === "motion" && e.x === rx && e.y === ry, `motion to ${rx},${ry}`);
  const sent = await page.evaluate(() => window.__moves.at(-1).t);
  input.push(event.t_us / 1000 - sent);
}

// Glass to glass, per codec: a single change after each idle gap, from the X server drawing it to
// Chromium presenting the frame that shows it.
const g2g = {};
for (const codec of CODECS) {
  const a = codec === "h264" ? agent : await startAgent(relay.url, xvfb.display, ["--codec", codec, "--name", `${codec}-agent`]);
  if (a !== agent) {
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByRole("button", { name: "New connection" }).click();
    await page.getByRole("heading", { name: "Connect to a computer" }).waitFor();
    const from = a.lines.all.length;
    await page.getByLabel("Share code").fill(await a.code());
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await a.answer(from, "c");
    await page.waitForFunction(() => performance.getEntriesByName("tether:first_frame").length > 0);
  }
  const x = Math.floor(probe.width / 2 - PATCH / 2);
  const y = Math.floor(probe.height / 2 - PATCH / 2);
  await watchVideo(page, x, y);
  g2g[codec] = await glassToGlass(page, probe, { x, y, gaps: GAPS });
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`\nBrowser viewer, headless Chromium, ${cpus().length} cores, ${cpu}; binaries from ${process.env.TETHER_BIN_DIR ?? "target/debug"}\n`);
console.log("| measure | samples | p50 | p99 | goal |");
console.log("| --- | --- | --- | --- | --- |");
console.log(row("consent → first frame shown (1080p)", firstFrame, "≤ 250 ms"));
console.log(row("pointer move: browser event → X server delivers it", input, "p99 ≤ 3 ms"));
if (process.env.BENCH_DETAIL) {
  const s = [...input].sort((a, b) => a - b);
  console.log("input percentiles 10..100:", [10, 25, 50, 75, 90, 95, 97, 99, 100].map((p) => `${p}:${pct(s, p).toFixed(2)}`).join(" "));
}
console.log("\nGlass to glass: a single change after an idle gap, X server drawn → Chromium presents it (goal p50 ≤ 30 ms, p95 ≤ 60 ms)\n");
console.log("| codec | idle gap | changes | not shown within 2 s | p50 | p95 | p99 |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const [codec, gaps] of Object.entries(g2g)) {
  for (const [gap, r] of Object.entries(gaps)) {
    const ms = (p) => (r.latencies.length ? `${percentile(r.latencies, p).toFixed(1)} ms` : "–");
    console.log(`| ${codec} | ${gap} ms | ${r.latencies.length + r.held} | ${r.held} | ${ms(50)} | ${ms(95)} | ${ms(99)} |`);
  }
}

await browser.close();
agent.stop();
relay.stop();
xvfb.proc.kill();
process.exit(0);
