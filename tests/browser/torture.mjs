// The torture run shared by the bench (10 minutes) and the suite (under a minute): a live
// control session in Chromium put through phases in a seeded random order — quality and frame
// rate choices from the toolbar, floods of screen changes, floods of pointer moves and keys, idle
// spells longer than Chromium's keyframe timer, and switches between displays — with a check after
// every phase that the session is alive: a fresh change on the shown display reaches the page.

import { COLOURS, PATCH, hex, shownAfter, videoGeometry } from "./screen.mjs";

/** Phase kinds, and how often each is drawn (weights). */
export const PHASES = { quality: 3, flood: 2, input: 2, idle: 1, display: 2 };

/** A small seeded generator (mulberry32), so a failing order can be replayed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The values of a toolbar select (looked up afresh: the toolbar re-renders). */
const optionsOf = (page, label) => page.getByLabel(label).evaluate((s) => [...s.options].map((o) => o.value));

/**
 * Runs phases for `seconds` on the live session in `page` (after `watchVideo(page, x, y)`), on a
 * screen the probe split into `monitors` displays of equal width. Returns, per phase kind, how
 * many ran and how long the next change took to show after each (ms), and every phase after which
 * no change showed within `limitMs` (a session lost, or a display that never came).
 */
export async function torture(page, probe, { seconds, monitors = 1, x, y, seed = 1, limitMs = 10_000, log = () => {} }) {
  const rand = random(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const weighted = Object.entries(PHASES).flatMap(([k, w]) => Array(w).fill(k));
  const width = Math.floor(probe.width / monitors);
  const out = { phases: {}, lost: [] };
  let display = 0;
  let colour = 0;
  let changes = 0;
  const until = Date.now() + seconds * 1000;

  // A change on the shown display, and how long the page took to show it.
  const alive = async (after) => {
    colour ^= 1;
    changes++;
    const at = await probe.paint(display * width + x, y, PATCH, PATCH, hex(COLOURS[colour]));
    const shown = await shownAfter(page, COLOURS[colour], at, limitMs);
    const r = (out.phases[after] ??= { n: 0, latencies: [] });
    r.n++;
    if (shown) r.latencies.push(shown.at - at);
    else out.lost.push({ after, display, change: changes, at: new Date(at).toISOString() });
    return Boolean(shown);
  };

  // Displays are the probe's monitors `probe-1`… (the X server keeps its own whole-screen one
  // in the list too).
  const show = async (n) => {
    const sel = page.getByLabel("Display");
    const value = await sel.evaluate((s, name) => [...s.options].find((o) => o.textContent.includes(name))?.value, `probe-${n + 1}`);
    if (value == null) throw new Error(`no display probe-${n + 1} offered`);
    await sel.selectOption(value);
    display = n;
  };
  if (monitors > 1) await show(0);
  if (!(await alive("start"))) throw new Error("the session showed nothing to start with");
  const kinds = Object.keys(PHASES).filter((k) => monitors > 1 || k !== "display");
  // Every kind once, in a random order, then random draws by weight.
  const first = [...kinds].sort(() => rand() - 0.5);
  while (Date.now() < until || first.length) {
    const kind = first.shift() ?? pick(weighted.filter((k) => kinds.includes(k)));
    log(kind);
    switch (kind) {
      case "quality": {
        await page.getByLabel("Quality").selectOption(pick(await optionsOf(page, "Quality")));
        await page.getByLabel("Frame rate").selectOption(pick(await optionsOf(page, "Frame rate")));
        break;
      }
      case "flood": {
        // Rectangles of every size and colour, as fast as the X server draws them.
        const end = Date.now() + 1500 + rand() * 2000;
        while (Date.now() < end) {
          const w = 8 + Math.floor(rand() * (width - 8));
          const h = 8 + Math.floor(rand() * (probe.height - 8));
          const px = display * width + Math.floor(rand() * (width - w));
          const py = Math.floor(rand() * (probe.height - h));
          await probe.paint(px, py, w, h, Math.floor(rand() * 0xffffff).toString(16).padStart(6, "0"));
        }
        break;
      }
      case "input": {
        const g = await videoGeometry(page);
        // A click gives the remote screen the keyboard (keys must not reach the toolbar).
        await page.mouse.click(g.left + (width / 2) * g.scale, g.top + (probe.height / 2) * g.scale);
        for (let i = 0; i < 150; i++) {
          await page.mouse.move(g.left + rand() * width * g.scale, g.top + rand() * probe.height * g.scale);
        }
        for (let i = 0; i < 20; i++) await page.keyboard.press(pick(["KeyA", "KeyZ", "Digit5", "Space", "ArrowLeft"]));
        break;
      }
      case "idle":
        await sleep(3500 + rand() * 1500);
        break;
      case "display":
        await show((display + 1) % monitors);
        break;
    }
    await alive(kind);
  }
  return out;
}
