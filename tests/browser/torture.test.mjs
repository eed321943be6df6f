// The torture run in the suite, short: a live session on a screen split into two displays goes
// through every kind of phase (toolbar quality and frame-rate choices, floods of changes and of
// input, idle spells past Chromium's keyframe timer, display switches) and must show the next
// change after each one. The bench runs the same for 10 minutes (`tests/browser/bench.mjs`).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { shot, startAgent, startBrowser, startProbe, startRelay, startXvfb } from "./harness.mjs";
import { liveSession, watchVideo } from "./screen.mjs";
import { PHASES, torture } from "./torture.mjs";

let xvfb, probe, relay, browser;

before(async () => {
  xvfb = await startXvfb(2560, 720);
  probe = await startProbe(xvfb.display);
  await probe.monitors(2);
  relay = await startRelay();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  relay?.stop();
  xvfb?.proc.kill();
});

for (const [codec, seconds, seed] of [
  ["h264", 40, 7],
  ["vp8", 25, 11],
]) {
  test(`${codec}: a session survives quality switches, floods, idle spells and display switches`, async () => {
    const agent = await startAgent(relay.url, xvfb.display, ["--codec", codec, "--name", `${codec}-torture`]);
    let context;
    try {
      const live = await liveSession(browser, relay.url, agent);
      context = live.context;
      const page = live.page;
      // Both displays are offered.
      await page.getByLabel("Display").locator("option", { hasText: "probe-2" }).waitFor({ state: "attached" });
      const [x, y] = [600, 300];
      await watchVideo(page, x, y);
      const r = await torture(page, probe, { seconds, monitors: 2, x, y, seed });
      await shot(page, `torture-${codec}-end`);
      assert.deepEqual(r.lost, [], `phases after which no change showed within 10 s (seed ${seed})`);
      for (const kind of Object.keys(PHASES)) assert.ok(r.phases[kind]?.n > 0, `no ${kind} phase ran`);
      await page.getByRole("button", { name: "End session" }).waitFor();
    } finally {
      await context?.close();
      agent.stop();
    }
  });
}
