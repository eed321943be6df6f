// File transfer benchmark: a file sent from headless Chromium to the agent's Downloads (the
// Files panel, over loopback) and back (`/send` at the agent's terminal, into Chromium's
// downloads), beside scp of the same file to and from a private sshd on loopback in the same
// run, with the agent's peak memory. Prints a table. Needs sshd
// (openssh-server); run it inside a private network namespace like the suite:
//   cargo build --release -p tether-relay -p tether-agent -p tether-tests --bins
//   unshare -n -- bash -c 'ip link set lo up && TETHER_BIN_DIR=target/release node tests/browser/bench-files.mjs'
// BENCH_FILE_MB sets the size (default 1024).

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

import { EMAIL, PASSWORD, WAIT_MS, startAgent, startBrowser, startProbe, startRelay, startXvfb } from "./harness.mjs";

const MB = Number(process.env.BENCH_FILE_MB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = mkdtempSync(join(tmpdir(), "tether-bench-files-"));
const downloads = join(work, "downloads");
const source = join(work, "payload.bin");

// The payload: random, so nothing on the way can compress it.
{
  const fd = openSync(source, "w");
  const block = randomBytes(1 << 20);
  for (let i = 0; i < MB; i++) writeSync(fd, block);
  closeSync(fd);
}
const size = statSync(source).size;

/** Datagrams the kernel dropped for want of socket receive buffer, in this network namespace. */
function udpDrops() {
  const [names, values] = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("Udp:"))
    .map((l) => l.split(/\s+/));
  return Number(values[names.indexOf("RcvbufErrors")]);
}

/** Peak resident memory of a process, in MiB. */
function peakMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}
/** CPU seconds a process has used so far (user + system). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
/** CPU seconds used so far by every Chromium process, and by its busiest thread. */
function chromiumCpu() {
  let total = 0;
  const threads = new Map();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let comm;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (!comm.startsWith("chrom")) continue;
    try {
      total += cpuSeconds(pid);
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const fields = f.split(") ")[1].split(" ");
        threads.set(`${pid}/${tid}:${f.slice(f.indexOf("(") + 1, f.indexOf(")"))}`, (Number(fields[11]) + Number(fields[12])) / 100);
      }
    } catch {
      // The process ended meanwhile.
    }
  }
  return { total, threads };
}
/** The busiest threads between two `chromiumCpu` readings: "name N %" over `secs`, top three. */
function busiest(a, b, secs) {
  const byName = new Map();
  for (const [k, v] of b.threads) {
    const name = k.split(":")[1];
    byName.set(name, (byName.get(name) ?? 0) + v - (a.threads.get(k) ?? 0));
  }
  return [...byName]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 3)
    .map(([n, v]) => `${n} ${((v / secs) * 100).toFixed(0)} %`)
    .join(", ");
}
function residentMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

// The anchor: scp to an sshd of our own on loopback, key authentication, same file.
async function scpSeconds(fetch = false) {
  const sshDir = join(work, "ssh");
  spawnSync("mkdir", ["-p", sshDir]);
  for (const k of ["host", "user"]) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(sshDir, k)]);
  writeFileSync(join(sshDir, "authorized_keys"), readFileSync(join(sshDir, "user.pub")));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const config = join(sshDir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(sshDir, "host")}`,
      `AuthorizedKeysFile ${join(sshDir, "authorized_keys")}`,
      "PasswordAuthentication no",
      "Subsystem sftp internal-sftp",
      "StrictModes no",
      `PidFile ${join(sshDir, "sshd.pid")}`,
    ].join("\n") + "\n",
  );
  spawnSync("mkdir", ["-p", "/run/sshd"]);
  const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  sshd.stderr.on("data", (d) => (log += d));
  const deadline = Date.now() + WAIT_MS;
  while (!log.includes("listening") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const target = join(work, "scp-target.bin");
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    rmSync(target, { force: true });
    const t0 = performance.now();
    const r = spawnSync("scp", [
      "-q", "-i", join(sshDir, "user"), "-P", String(port),
      "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${join(sshDir, "known")}`,
      ...(fetch ? [`root@127.0.0.1:${source}`, target] : [source, `root@127.0.0.1:${target}`]),
    ]);
    if (r.status !== 0) throw new Error(`scp failed: ${r.stderr}`);
    times.push((performance.now() - t0) / 1000);
  }
  sshd.kill();
  return times;
}

const xvfb = await startXvfb(1280, 720);
await startProbe(xvfb.display);
const relay = await startRelay();
const agent = await startAgent(relay.url, xvfb.display, ["--downloads", downloads]);
await agent.code();
const browser = await startBrowser();
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
page.setDefaultTimeout(WAIT_MS);
await page.goto(relay.url);
await page.getByLabel("Email").fill(EMAIL);
await page.getByLabel("Password").fill(PASSWORD);
await page.getByRole("button", { name: "Sign in", exact: true }).click();
const from = agent.lines.all.length;
await page.getByLabel("Share code").fill(await agent.code());
await page.getByRole("button", { name: "Connect", exact: true }).click();
await agent.answer(from, "c");
await page.getByRole("button", { name: "Files" }).waitFor();
await page.getByRole("button", { name: "Files" }).click();

const rssBefore = residentMiB(agent.pid);
const dropsBefore = udpDrops();
const cpuIn = cpuSeconds(agent.pid);
const chromeIn = chromiumCpu();
const tether = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  await page.getByLabel("Choose files").setInputFiles(source);
  // Each run's file is removed after it, so each is saved under the same name: count them.
  await page.waitForFunction((n) => document.querySelectorAll('.transfers li[data-state="saved"]').length === n, i + 1, {
    timeout: 30 * 60_000,
  });
  tether.push((performance.now() - t0) / 1000);
  if (statSync(join(downloads, "payload.bin")).size !== size) throw new Error("size differs");
  rmSync(join(downloads, "payload.bin"));
}
const rssAfter = residentMiB(agent.pid);
const drops = udpDrops() - dropsBefore;
const cpuOut = cpuSeconds(agent.pid);
const chromeOut = chromiumCpu();
// The other way: the person sends the file from the agent's terminal; done when Chromium has
// checked it and written the download to disk.
const back = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  agent.write(`/send ${source}\n`);
  // Checked in the browser, then saved with the supporter's click.
  const save = page.locator(".transfers li").nth(RUNS + i).getByRole("link", { name: "Save" });
  await save.waitFor({ timeout: 30 * 60_000 });
  const download = page.waitForEvent("download", { timeout: 30 * 60_000 });
  await save.click();
  const got = await download;
  const path = await got.path().catch(async (e) => {
    throw new Error(`download ${i + 1} failed: ${await got.failure()} (${e.message}); free disk: ${spawnSync("df", ["-h", tmpdir()]).stdout}`);
  });
  back.push((performance.now() - t0) / 1000);
  if (statSync(path).size !== size) throw new Error("downloaded size differs");
  await got.delete();
}
const cpuBack = cpuSeconds(agent.pid) - cpuOut;
const chromeBack = chromiumCpu();
const peak = peakMiB(agent.pid);
const scp = await scpSeconds();
const scpBack = await scpSeconds(true);

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (s) => (size / 1e6 / s).toFixed(0);
console.log(`\nFile transfer, ${(size / 2 ** 20).toFixed(0)} MiB, ${RUNS} runs each, median; ${cpus().length} × ${cpus()[0]?.model}`);
console.log("| path | seconds | MB/s | of scp |");
console.log("| --- | --- | --- | --- |");
console.log(`| Chromium → agent (Files panel, loopback) | ${med(tether).toFixed(2)} | ${rate(med(tether))} | ${((med(scp) / med(tether)) * 100).toFixed(0)} % |`);
console.log(`| scp → sshd (loopback) | ${med(scp).toFixed(2)} | ${rate(med(scp))} | 100 % |`);
console.log(`| agent → Chromium (\`/send\`, into downloads) | ${med(back).toFixed(2)} | ${rate(med(back))} | ${((med(scpBack) / med(back)) * 100).toFixed(0)} % |`);
console.log(`| scp ← sshd (loopback) | ${med(scpBack).toFixed(2)} | ${rate(med(scpBack))} | 100 % |`);
console.log(`\nagent resident memory: ${rssBefore.toFixed(0)} MiB before, ${rssAfter.toFixed(0)} MiB after receiving, peak ${peak.toFixed(0)} MiB over both directions`);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
console.log(`agent CPU while receiving: ${(((cpuOut - cpuIn) / sum(tether)) * 100).toFixed(0)} % of a core; while sending: ${((cpuBack / sum(back)) * 100).toFixed(0)} %`);
console.log(
  `Chromium CPU while sending: ${(((chromeOut.total - chromeIn.total) / sum(tether)) * 100).toFixed(0)} % of a core (threads: ${busiest(chromeIn, chromeOut, sum(tether))}); ` +
    `while receiving: ${(((chromeBack.total - chromeOut.total) / sum(back)) * 100).toFixed(0)} % (threads: ${busiest(chromeOut, chromeBack, sum(back))})`,
);
console.log(`UDP datagrams dropped for a full receive buffer during the Tether runs: ${drops}`);

await browser.close();
agent.stop();
relay.stop();
xvfb.proc.kill();
rmSync(work, { recursive: true, force: true });
process.exit(0);
