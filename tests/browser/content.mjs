// Real screen content for the browser bench, and the anchor beside it: an xterm covering the
// screen that prints a directory listing over and over (a busy terminal), a long web page
// scrolling in a second, headed Chromium, ffmpeg's x11grab +
// libx264 (ultrafast, zerolatency) on the same display, CPU time from /proc, and the PSNR of what
// the page shows against the X screen. Needs Debian's xterm and ffmpeg (bench only).

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const TICKS = 100; // USER_HZ on Linux

/** CPU time (user + system) of process `pid` and its threads so far, in ms. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** Whether a program is installed. */
export const installed = (prog) => spawnSync("sh", ["-c", `command -v ${prog}`]).status === 0;

/**
 * An xterm covering a `width`×`height` screen (6×13 font), running a shell that prints a long
 * listing in a loop while `busy` is on. Returns controls; the xterm stays, still, when busy stops.
 */
export async function startTerminal(display, width, height) {
  const cols = Math.floor(width / 6);
  const rows = Math.floor(height / 13);
  // The shell prints while /tmp flag file exists; `busy(false)` removes it.
  const flag = `/tmp/tether-bench-busy-${process.pid}`;
  const script = `while :; do while [ -e ${flag} ]; do ls -l --color=always /usr/lib/x86_64-linux-gnu /usr/share/doc; done; sleep 0.05; done`;
  const x = spawn("xterm", ["-fn", "fixed", "-geometry", `${cols}x${rows}+0+0`, "-bg", "white", "-fg", "black", "-e", "sh", "-c", script], {
    env: { ...process.env, DISPLAY: display },
    stdio: "ignore",
  });
  // Mapped and drawn: wait until the X server lists the window.
  for (let i = 0; i < 100; i++) {
    const tree = spawnSync("xwininfo", ["-root", "-children"], { env: { ...process.env, DISPLAY: display }, encoding: "utf8" });
    if (/xterm|XTerm/i.test(tree.stdout ?? "")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  return {
    busy(on) {
      if (on) spawnSync("touch", [flag]);
      else spawnSync("rm", ["-f", flag]);
    },
    stop() {
      spawnSync("rm", ["-f", flag]);
      x.kill();
    },
  };
}

/** A long article: headings, paragraphs of text, a table and coloured figures, as a web page. */
function article() {
  const words = "remote support session screen viewer agent relay consent codec keyframe latency pointer keyboard clipboard network packet encoder decoder bitrate quality frame".split(" ");
  let seed = 7;
  const word = () => words[(seed = (seed * 1103515245 + 12345) % 2147483648) % words.length];
  const sentence = () => Array.from({ length: 8 + (seed % 9) }, word).join(" ") + ".";
  const parts = [];
  for (let i = 0; i < 120; i++) {
    parts.push(`<h2>${i + 1}. ${sentence()}</h2>`);
    parts.push(`<p>${Array.from({ length: 6 }, sentence).join(" ")}</p>`);
    if (i % 5 === 0) parts.push(`<div class="fig" style="background:hsl(${(i * 37) % 360} 60% 55%)">Figure ${i / 5 + 1}</div>`);
    if (i % 7 === 0) parts.push(`<table>${Array.from({ length: 4 }, (_, r) => `<tr>${Array.from({ length: 5 }, (_, c) => `<td>${r * 5 + c} ${word()}</td>`).join("")}</tr>`).join("")}</table>`);
  }
  return `<!doctype html><meta charset="utf-8"><style>
    body { font: 16px/1.5 sans-serif; margin: 0 auto; max-width: 1100px; padding: 20px; background: #fff; color: #222 }
    h2 { font-size: 22px; color: #123 } .fig { height: 160px; margin: 12px 0; color: #fff; font-size: 28px; padding: 12px }
    table { border-collapse: collapse } td { border: 1px solid #999; padding: 4px 10px }
  </style><body>${parts.join("\n")}</body>`;
}

/**
 * A long web page in a second, headed Chromium window covering the screen of `display` (tab strip
 * and address bar included), scrolling smoothly (4 px a frame, as a reader's wheel would) while
 * busy.
 */
export async function startScrollingPage(display, width, height) {
  const { startHeadedBrowser } = await import("./harness.mjs");
  const browser = await startHeadedBrowser(display, width, height);
  const page = await browser.newPage({ viewport: null });
  await page.setContent(article());
  await page.evaluate(() => {
    window.__scroll = false;
    const step = () => {
      if (window.__scroll) {
        if (window.scrollY + innerHeight >= document.body.scrollHeight) window.scrollTo(0, 0);
        else window.scrollBy(0, 4);
      }
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  await new Promise((r) => setTimeout(r, 500));
  return {
    pid: browser.process?.()?.pid,
    async busy(on) {
      await page.evaluate((v) => (window.__scroll = v), on);
    },
    async stop() {
      await browser.close();
    },
  };
}

/**
 * ffmpeg x11grab + libx264 ultrafast zerolatency at `kbps` on `display` for `seconds`, as the
 * anchor: frames encoded per second, kbit/s produced and CPU (% of one core).
 */
export function ffmpegAnchor(display, width, height, seconds, kbps = 2500) {
  return new Promise((resolve) => {
    const args = [
      "-hide_banner", "-nostats", "-f", "x11grab", "-framerate", "30", "-video_size", `${width}x${height}`, "-i", display,
      "-t", String(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-b:v", `${kbps}k`,
      "-f", "h264", "-",
    ];
    const p = spawn("ffmpeg", args, { stdio: ["ignore", "pipe", "pipe"] });
    let bytes = 0;
    let cpu = 0;
    let err = "";
    p.stdout.on("data", (d) => (bytes += d.length));
    p.stderr.on("data", (d) => (err += d));
    const poll = setInterval(() => {
      try {
        cpu = cpuMs(p.pid);
      } catch {
        // It has exited; the last reading stands.
      }
    }, 100);
    p.on("close", () => {
      clearInterval(poll);
      const frames = Number(/frame=\s*(\d+)/.exec(err)?.[1] ?? 0);
      resolve({ fps: frames / seconds, kbps: (bytes * 8) / seconds / 1000, cpuPct: (cpu / (seconds * 1000)) * 100 });
    });
  });
}

/**
 * PSNR (luma, dB) of the frame the page shows now against the X screen now. The page's video is
 * drawn at its own size; the screen is read with ImageMagick's `import`.
 */
export async function screenPsnr(page, display) {
  const shot = spawnSync("import", ["-window", "root", "-depth", "8", "rgb:-"], {
    env: { ...process.env, DISPLAY: display },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (shot.status !== 0) throw new Error(`import failed: ${shot.stderr}`);
  return page.evaluate((b64) => {
    const ref = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const v = document.querySelector("video");
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext("2d");
    g.drawImage(v, 0, 0);
    const img = g.getImageData(0, 0, c.width, c.height).data;
    const luma = (r, gr, b) => 0.299 * r + 0.587 * gr + 0.114 * b;
    let se = 0;
    const n = c.width * c.height;
    for (let i = 0; i < n; i++) {
      const d = luma(img[i * 4], img[i * 4 + 1], img[i * 4 + 2]) - luma(ref[i * 3], ref[i * 3 + 1], ref[i * 3 + 2]);
      se += d * d;
    }
    const mse = se / n;
    return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse);
  }, shot.stdout.toString("base64"));
}

/** Saves the top-left `w`×`h` of the picture the page shows, at the video's own resolution. */
export async function saveShown(page, dir, name, w = 960, h = 540) {
  const url = await page.evaluate(
    ([w, h]) => {
      const v = document.querySelector("video");
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      c.getContext("2d").drawImage(v, 0, 0, w, h, 0, 0, w, h);
      return c.toDataURL("image/png");
    },
    [w, h],
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.png`), Buffer.from(url.split(",")[1], "base64"));
}
