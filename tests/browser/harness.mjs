// Real parts for the browser suite: a private Xvfb with the test X client on it, the relay and
// agent binaries, and Debian's Chromium driven by playwright-core. Every wait ends on the awaited
// event, with a bound; nothing sleeps and hopes.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(ROOT, "web/package.json"));
const { chromium } = require("playwright-core");

/** Longest wait for anything expected. */
export const WAIT_MS = 20_000;
export const BIN = process.env.TETHER_BIN_DIR ?? join(ROOT, "target/debug");
export const ARTIFACTS = process.env.TETHER_ARTIFACTS ?? join(ROOT, "target/e2e-artifacts/browser");
export const EMAIL = "jane@acme.example";
export const PASSWORD = "correct horse battery";
/** An owner of the same organisation, for the admin page. */
export const OWNER_EMAIL = "olive@acme.example";

/** The flags Chromium needs for WebRTC on loopback (../shared/WEBRTC-NOTES.md). */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function track(child, name) {
  children.push(child);
  child.on("error", (e) => {
    throw new Error(`${name}: ${e.message}`);
  });
  return child;
}

/** Lines of a child's stdout, kept, with waits for the next one that matches. */
export class Lines {
  /** With `echo`, every line is also written to the test's standard error. */
  constructor(stream, name, echo = false) {
    this.name = name;
    this.all = [];
    this.waiters = [];
    this.closed = false;
    const rl = createInterface({ input: stream });
    rl.on("line", (line) => {
      this.all.push(line);
      if (echo || process.env.TETHER_E2E_VERBOSE) console.error(`[${name}] ${line}`);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
    rl.on("close", () => {
      this.closed = true;
      for (const w of this.waiters) w.fail(new Error(`${name} exited`));
      this.waiters = [];
    });
  }

  /** Resolves with the first line at index ≥ `from` for which `pred` holds. */
  waitFrom(from, pred, what) {
    return new Promise((resolveLine, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no ${what} within ${WAIT_MS} ms; last lines:\n${this.all.slice(-8).join("\n")}`));
      }, WAIT_MS);
      const waiter = {
        check: () => {
          for (let i = from; i < this.all.length; i++) {
            if (pred(this.all[i])) {
              clearTimeout(timer);
              resolveLine({ line: this.all[i], index: i });
              return true;
            }
          }
          return false;
        },
        fail: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (!waiter.check()) {
        if (this.closed) waiter.fail(new Error(`${this.name} exited`));
        else this.waiters.push(waiter);
      }
    });
  }
}

/** A private Xvfb; `-displayfd` reports the display once it is ready. */
export async function startXvfb(width, height) {
  const x = track(
    spawn("Xvfb", ["-displayfd", "1", "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp", "-noreset"], {
      stdio: ["ignore", "pipe", "ignore"],
    }),
    "Xvfb",
  );
  const lines = new Lines(x.stdout, "Xvfb");
  const { line } = await lines.waitFrom(0, (l) => /^\d+$/.test(l.trim()), "display number");
  return { display: `:${line.trim()}`, proc: x };
}

/** The test X client: a known scene, and every event it receives as JSON. */
export async function startProbe(display) {
  const p = track(spawn(join(BIN, "tether-xprobe"), [], { env: { ...process.env, DISPLAY: display }, stdio: ["pipe", "pipe", "inherit"] }), "xprobe");
  const lines = new Lines(p.stdout, "xprobe");
  const { line } = await lines.waitFrom(0, (l) => l.includes('"ready"'), "ready line");
  const ready = JSON.parse(line);
  let paints = 0;
  return {
    width: ready.width,
    height: ready.height,
    lines,
    /** Events from index `from` on, parsed. */
    events(from = 0) {
      return lines.all.slice(from).map((l) => JSON.parse(l));
    },
    /** Waits for an event (from index `from`) matching `pred`. */
    async waitEvent(from, pred, what) {
      const { line, index } = await lines.waitFrom(from, (l) => pred(JSON.parse(l)), what);
      return { event: JSON.parse(line), index };
    },
    /** Splits the screen into `n` RandR monitors side by side (before an agent starts). */
    async monitors(n) {
      const from = lines.all.length;
      p.stdin.write(`monitors ${n}\n`);
      await this.waitEvent(from, (e) => e.event === "monitors" && e.n === n, `${n} monitors`);
    },
    /** Paints a `rgb` (hex `rrggbb`) rectangle and resolves with the wall-clock ms the X server had drawn it. */
    async paint(x, y, w, h, rgb) {
      const id = ++paints;
      const from = lines.all.length;
      p.stdin.write(`fill ${id} ${x} ${y} ${w} ${h} ${rgb}\n`);
      const { event } = await this.waitEvent(from, (e) => e.event === "painted" && e.id === id, `paint ${id}`);
      return event.t_us / 1000;
    },
  };
}

export async function freeTcpPort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

async function freeUdpPort() {
  return new Promise((res, rej) => {
    const s = createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

/**
 * The relay binary on loopback with its embedded TURN server (which relays on loopback by default).
 * `env(turnPort)` adds environment variables, e.g. TURN settings naming the port.
 */
export async function startRelay({ env: extraEnv = () => ({}) } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tether-e2e-"));
  const relayBin = join(BIN, "tether-relay");
  for (const [email, role, name] of [
    [EMAIL, "technician", "Jane Doe"],
    [OWNER_EMAIL, "owner", "Olive Owner"],
  ]) {
    const args = ["--data-dir", dir, "admin", "create-user", "--email", email, "--org", "Acme IT", "--role", role, "--name", name];
    const created = spawnSync(relayBin, args, { input: `${PASSWORD}\n`, encoding: "utf8" });
    if (created.status !== 0) throw new Error(`create-user ${email} failed: ${created.stderr}`);
  }
  const port = await freeTcpPort();
  const turnPort = await freeUdpPort();
  const env = {
    ...process.env,
    TETHER_TURN_PORT: String(turnPort),
    RUST_LOG: process.env.RUST_LOG ?? "error",
    TETHER_LOG: process.env.TETHER_LOG ?? "warn",
    ...extraEnv(turnPort),
  };
  const serve = async () => {
    const r = track(spawn(relayBin, ["--data-dir", dir, "serve", "--listen", `127.0.0.1:${port}`], { env, stdio: ["ignore", "pipe", "inherit"] }), "relay");
    const lines = new Lines(r.stdout, "relay");
    await lines.waitFrom(0, (l) => l.includes("listening on"), "listening line");
    return r;
  };
  const relay = {
    url: `http://127.0.0.1:${port}`,
    dir,
    proc: await serve(),
    /** Stops the relay as a service manager would (SIGTERM) and starts it again on the same data. */
    async restart() {
      const exited = new Promise((res) => relay.proc.once("exit", res));
      relay.proc.kill("SIGTERM");
      await exited;
      relay.proc = await serve();
    },
    stop() {
      relay.proc.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return relay;
}

/** `tether-agent share` on `display` (with `extraArgs`), answering consent at its terminal prompt. */
export async function startAgent(relayUrl, display, extraArgs = []) {
  const a = track(
    // The agent's own logging defaults: what its terminal shows is part of what is tested.
    spawn(join(BIN, "tether-agent"), ["share", "--relay", relayUrl, "--display", display, ...extraArgs], {
      stdio: ["pipe", "pipe", "pipe"],
    }),
    "agent",
  );
  const lines = new Lines(a.stdout, "agent");
  const errors = new Lines(a.stderr, "agent stderr", true);
  const codeAt = (l) => /Your share code: /.test(l);
  return {
    lines,
    /** What the agent wrote to standard error: the person's terminal too. */
    errors,
    pid: a.pid,
    /** The newest share code printed at or after line `from`, as ten digits. */
    async code(from = 0) {
      await lines.waitFrom(from, codeAt, "share code");
      const last = lines.all.filter(codeAt).at(-1);
      return last.split("code: ")[1].split("  ")[0].replace(/ /g, "");
    },
    /** Types `text` at the agent's terminal. */
    write(text) {
      a.stdin.write(text);
    },
    /** Waits for the consent prompt after line `from` and answers `c`, `v` or `d`. */
    async answer(from, choice) {
      const { line } = await lines.waitFrom(from, (l) => l.includes("Allow?"), "consent prompt");
      a.stdin.write(`${choice}\n`);
      return line;
    },
    stop() {
      a.kill("SIGTERM");
    },
  };
}

/**
 * Enrolls a machine with `token` (`tether-agent enroll`, key in a file under a fresh folder) and
 * runs it (`tether-agent run`) on `display`, reporting nobody signed in, as the user `nobody`
 * (when the tests run as root) with a home folder of its own (`home`).
 */
export async function startMachineAgent(relayUrl, display, token, name) {
  const dir = mkdtempSync(join(tmpdir(), "tether-machine-"));
  const config = join(dir, "agent.toml");
  const env = { ...process.env, TETHER_LOG: process.env.TETHER_LOG ?? "warn" };
  const enrolled = spawnSync(
    join(BIN, "tether-agent"),
    ["enroll", "--relay", relayUrl, "--token", token, "--config", config, "--key-store", "file", "--name", name],
    { env, encoding: "utf8" },
  );
  if (enrolled.status !== 0) throw new Error(`enroll failed: ${enrolled.stdout}${enrolled.stderr}`);
  const home = join(dir, "home");
  mkdirSync(home);
  // As a user of its own, as the service's session worker runs: a supporter may not browse
  // through root. The enrollment's files become theirs.
  const runEnv = { ...env, HOME: home, USER: "nobody", LOGNAME: "nobody" };
  delete runEnv.XDG_RUNTIME_DIR;
  const asNobody = process.getuid?.() === 0;
  if (asNobody) {
    const owned = spawnSync("chown", ["-R", "nobody:nogroup", dir], { encoding: "utf8" });
    if (owned.status !== 0) throw new Error(`chown failed: ${owned.stderr}`);
  }
  const [program, args] = asNobody
    ? ["setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", join(BIN, "tether-agent")]]
    : [join(BIN, "tether-agent"), []];
  const a = track(
    spawn(program, [...args, "run", "--config", config, "--display", display, "--local-user", "no"], {
      env: runEnv,
      stdio: ["ignore", "pipe", "inherit"],
    }),
    "machine agent",
  );
  const lines = new Lines(a.stdout, "machine agent");
  await lines.waitFrom(0, (l) => /Your share code: /.test(l), "sign-in");
  return {
    lines,
    home,
    stop() {
      a.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Debian Chromium with a fresh profile. */
export async function startBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
}

/** A headed Chromium on X `display`, its window at the top left, `width`×`height`: screen content. */
export async function startHeadedBrowser(display, width, height) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: false,
    env: { ...process.env, DISPLAY: display },
    args: [...CHROMIUM_ARGS, "--window-position=0,0", `--window-size=${width},${height}`],
  });
}

/** Saves a screenshot of the page as a test artifact. */
export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/**
 * Serious and critical accessibility violations on the page, by axe-core (labels, names, contrast,
 * roles). The page's context needs `bypassCSP`, since axe is injected as a script.
 */
export async function a11yViolations(page) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
