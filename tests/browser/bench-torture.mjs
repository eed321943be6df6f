// Torture bench: for each codec, a live control session in headless Chromium on a 1080p screen
// split into two displays goes through `BENCH_TORTURE_S` seconds (default 600) of seeded random
// phases — toolbar quality and frame-rate choices, floods of screen changes and of input, idle
// spells past Chromium's keyframe timer, display switches — and after each phase a fresh change
// must show. Prints, per phase kind, how long that change took to show, and the phases after
// which none showed within 10 s. Run it inside a private network namespace like the suite:
//   cargo build --release -p tether-relay -p tether-agent -p tether-tests --bins
//   unshare -n -- bash -c 'ip link set lo up && TETHER_BIN_DIR=target/release node tests/browser/bench-torture.mjs'

import { cpus } from "node:os";

import { ARTIFACTS, shot, startAgent, startBrowser, startProbe, startRelay, startXvfb } from "./harness.mjs";
import { saveShown } from "./content.mjs";
import { liveSession, pct, watchVideo } from "./screen.mjs";
import { torture } from "./torture.mjs";

const SECONDS = Number(process.env.BENCH_TORTURE_S ?? 600);
const CODECS = (process.env.BENCH_CODECS ?? "h264,vp8").split(",");
const SEED = Number(process.env.BENCH_SEED ?? 1);

const xvfb = await startXvfb(3840, 1080);
const probe = await startProbe(xvfb.display);
await probe.monitors(2);
const relay = await startRelay();
const browser = await startBrowser();

const results = {};
for (const codec of CODECS) {
  const agent = await startAgent(relay.url, xvfb.display, ["--codec", codec, "--name", `${codec}-torture`]);
  const { context, page } = await liveSession(browser, relay.url, agent, { width: 1600, height: 1000 });
  await page.getByLabel("Display").locator("option", { hasText: "probe-2" }).waitFor({ state: "attached" });
  const [x, y] = [900, 500];
  await watchVideo(page, x, y);
  const started = Date.now();
  const r = await torture(page, probe, { seconds: SECONDS, monitors: 2, x, y, seed: SEED });
  r.seconds = (Date.now() - started) / 1000;
  r.alive = await page.getByRole("button", { name: "End session" }).isVisible();
  await shot(page, `bench-torture-${codec}-end`);
  await page.waitForTimeout(1500);
  await saveShown(page, ARTIFACTS, `bench-torture-${codec}-settled`);
  results[codec] = r;
  await context.close();
  agent.stop();
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`\nTorture, headless Chromium, ${cpus().length} cores, ${cpu}; 3840×1080 Xvfb as two 1920×1080 displays; seed ${SEED}\n`);
console.log("| codec | phase | runs | next change shown p50 | p95 | p99 | max | none within 10 s |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [codec, r] of Object.entries(results)) {
  for (const [kind, p] of Object.entries(r.phases)) {
    const ms = (q) => (p.latencies.length ? `${pct(p.latencies, q).toFixed(0)} ms` : "–");
    const lost = r.lost.filter((l) => l.after === kind).length;
    console.log(`| ${codec} | ${kind} | ${p.n} | ${ms(50)} | ${ms(95)} | ${ms(99)} | ${ms(100)} | ${lost} |`);
  }
  console.log(`| ${codec} | **session after ${r.seconds.toFixed(0)} s** | | | | | | ${r.alive ? "alive" : "**lost**"} |`);
}
for (const [codec, r] of Object.entries(results)) if (r.lost.length) console.log(`${codec}: no change shown after`, JSON.stringify(r.lost));

await browser.close();
relay.stop();
xvfb.proc.kill();
process.exit(0);
