import assert from "node:assert/strict";
import { test } from "node:test";

import { DOM_DELTA_LINE, DOM_DELTA_PAGE, DOM_DELTA_PIXEL, contentRect, normalise, toRemote, wheelUnits } from "../src/geometry";

/** The agent's mapping (agent/src/input/mod.rs): normalised → pixel, rounding to nearest. */
const agentPixel = (n: number, len: number): number => Math.floor((n * (len - 1) + 32767) / 65535);

test("a letterboxed picture is centred with bars on the long side", () => {
  // 1920×1080 in an 800×600 box: scaled to 800×450, bars of 75 above and below.
  assert.deepEqual(contentRect({ left: 10, top: 20, width: 800, height: 600 }, 1920, 1080), {
    left: 10,
    top: 95,
    width: 800,
    height: 450,
  });
  // 1280×1024 in a 1000×500 box: pillarboxed, 625 wide.
  const r = contentRect({ left: 0, top: 0, width: 1000, height: 500 }, 1280, 1024);
  assert.equal(r.width, 625);
  assert.equal(r.left, 187.5);
});

test("every remote pixel round-trips through the agent's mapping", () => {
  for (const len of [2, 720, 1080, 1366, 1920, 3840]) {
    for (let p = 0; p < len; p++) {
      assert.equal(agentPixel(normalise(p + 0.5, len), len), p, `pixel ${p} of ${len}`);
    }
  }
});

test("a click on a scaled picture lands on the pixel under it, and bars clamp to the edge", () => {
  const box = { left: 0, top: 0, width: 960, height: 600 }; // 1920×1080 → 960×540, bars of 30
  const p = toRemote(480.25, 30 + 270.25, box, 1920, 1080)!;
  assert.equal(agentPixel(p.x, 1920), 960);
  assert.equal(agentPixel(p.y, 1080), 540);
  assert.deepEqual(toRemote(5, 2, box, 1920, 1080), { x: normalise(10, 1920), y: 0 });
  assert.deepEqual(toRemote(959.9, 599, box, 1920, 1080), { x: 65535, y: 65535 });
  assert.equal(toRemote(1, 1, box, 0, 0), null);
});

test("wheel deltas of one notch in each mode become one detent", () => {
  assert.equal(wheelUnits(100, DOM_DELTA_PIXEL), 120);
  assert.equal(wheelUnits(3, DOM_DELTA_LINE), 120);
  assert.equal(wheelUnits(-1, DOM_DELTA_PAGE), -120);
});
