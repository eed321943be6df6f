// Files between the supporter's browser and the person's computer, end to end: real Chromium,
// relay and agent on a private Xvfb (run inside `unshare -n` by scripts/test.sh). Each state is
// saved as a screenshot under target/e2e-artifacts/browser/.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";

import { OWNER_EMAIL, shot } from "./harness.mjs";
import { Loop, waitForScene } from "./loop.mjs";

const loop = new Loop();
let agent, downloads;
/** Files the person at the computer sends from. */
let outbox;

before(async () => {
  ({ agent, downloads } = await loop.start());
  outbox = mkdtempSync(join(tmpdir(), "tether-outbox-"));
});

afterEach(() => loop.closePages());

after(async () => {
  await loop.stop();
  if (outbox) rmSync(outbox, { recursive: true, force: true });
});

const signedIn = (...args) => loop.signedIn(...args);
const enterCode = (...args) => loop.enterCode(...args);
const endSession = (page) => loop.endSession(page);
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

/** The audit log's file transfers of these names: name, direction, outcome, size, SHA-256. */
async function audited(names) {
  const owner = await signedIn("files-audit", "", { email: OWNER_EMAIL });
  const audit = await owner.evaluate(() => fetch("/api/v1/audit?action=file_transfer").then((r) => r.json()));
  await owner.context().close();
  return audit
    .filter((e) => names.includes(e.detail.name))
    .map((e) => [e.detail.name, e.detail.direction, e.outcome, e.detail.size, e.detail.sha256 ?? null])
    .sort();
}

test("files go to the other computer's Downloads, checked on arrival, never over another file", async () => {
  const page = await signedIn("files");
  const from = await enterCode(page);
  await agent.answer(from, "c");
  await waitForScene(page);
  // The person is told where files will land.
  await agent.lines.waitFrom(from, (l) => l.includes(`Files Jane Doe sends land in ${downloads}.`), "where files land");
  writeFileSync(join(downloads, "notes.txt"), "the person's own");

  // Two files at once: a small one whose name is taken, and 24 MiB in hundreds of pieces.
  await page.getByRole("button", { name: "Files" }).click();
  const big = randomBytes(24 * 1024 * 1024 + 123);
  await page.getByLabel("Choose files").setInputFiles([
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("from the supporter") },
    { name: "big.bin", mimeType: "application/octet-stream", buffer: big },
  ]);
  await page.getByText("Saved as notes (1).txt").waitFor();
  await page.getByText("Saved as big.bin").waitFor({ timeout: 60_000 });
  await shot(page, "files-1-saved");
  assert.equal(readFileSync(join(downloads, "notes.txt"), "utf8"), "the person's own");
  assert.equal(readFileSync(join(downloads, "notes (1).txt"), "utf8"), "from the supporter");
  assert.ok(readFileSync(join(downloads, "big.bin")).equals(big), "big.bin arrived whole");
  assert.deepEqual(readdirSync(downloads).sort(), ["big.bin", "notes (1).txt", "notes.txt"], "no temporary file left");
  await agent.lines.waitFrom(from, (l) => l === `[file] Received from Jane Doe: ${join(downloads, "big.bin")} (25.2 MB).`, "the arrival at the terminal");

  // A name the other computer cannot use is refused with the reason, and nothing is written.
  await page.getByLabel("Choose files").setInputFiles([{ name: "aux.txt", mimeType: "text/plain", buffer: Buffer.from("x") }]);
  await page.getByText("Not sent: that name cannot be used on the other computer").waitFor();
  assert.ok(!existsSync(join(downloads, "aux.txt")));
  assert.equal(readdirSync(downloads).length, 3);
  await endSession(page);
  await page.context().close();

  // The organisation's audit log has each transfer as the computer saw it: name, size, SHA-256,
  // outcome (never the content).
  assert.deepEqual(await audited(["notes.txt", "big.bin", "aux.txt"]), [
    ["aux.txt", "to_agent", "failed", 1, null],
    ["big.bin", "to_agent", "ok", big.length, sha256(big)],
    ["notes.txt", "to_agent", "ok", 18, sha256("from the supporter")],
  ]);
});

test("a file cut short by the session's end goes on from where it stopped when sent again", async () => {
  const body = randomBytes(160 * 1024 * 1024);
  const path = join(outbox, "resume.bin");
  writeFileSync(path, body);
  const visible = () => readdirSync(downloads).filter((n) => !n.startsWith("."));

  let page = await signedIn("files-resume");
  let from = await enterCode(page);
  await agent.answer(from, "c");
  await waitForScene(page);
  await page.getByRole("button", { name: "Files" }).click();
  await page.getByLabel("Choose files").setInputFiles(path);
  // Well under way, then the session ends.
  await page.waitForFunction(() => Number(document.querySelector(".transfers progress")?.getAttribute("value")) > 20e6);
  await endSession(page);
  await agent.lines.waitFrom(from, (l) => l === "[file] Not received: resume.bin (the session ended before it arrived; sent again, it goes on from there).", "the cut at the terminal");
  assert.ok(!visible().includes("resume.bin"), "nothing under the final name");
  await page.context().close();

  // The same supporter sends it again: it goes on from there, and arrives whole.
  page = await signedIn("files-resume-again");
  from = await enterCode(page);
  await agent.answer(from, "c");
  await waitForScene(page);
  await page.getByRole("button", { name: "Files" }).click();
  await page.getByLabel("Choose files").setInputFiles(path);
  // Whatever the transfer ends as is shown in full when it is not the resume expected.
  const row = page.locator(".transfers li", { hasText: "resume.bin" });
  await row
    .getByText(/^(Saved as|Not sent|Cancelled)/)
    .waitFor({ timeout: 180_000 })
    .catch(async (e) => assert.fail(`${e.message}\nthe transfer's row then said: ${await row.textContent()}`));
  await shot(page, "files-resume-1-saved");
  const status = await row.getByText(/^(Saved as|Not sent|Cancelled)/).textContent();
  const resumed = /^Saved as resume\.bin · resumed at ([\d.]+) MB$/.exec(status);
  assert.ok(resumed, `the second attempt ended as: ${status}`);
  // The browser counts what it handed to its channel: the agent had written at least that
  // less what the channel may buffer (4 MiB in the viewer, and SCTP's own window).
  const at = Number(resumed[1]) * 1e6;
  assert.ok(at > 12e6 && at < body.length, `resumed at ${at}`);
  assert.ok(readFileSync(join(downloads, "resume.bin")).equals(body), "whole and in order");
  assert.ok(!readdirSync(downloads).some((n) => n.endsWith(".tether-part")), "no temporary file left");
  await endSession(page);
  await page.context().close();
});

test("the person sends files from the terminal; they reach the supporter's downloads checked", async () => {
  const page = await signedIn("files-out");
  const from = await enterCode(page);
  await agent.answer(from, "c");
  await waitForScene(page);
  await agent.lines.waitFrom(from, (l) => l.includes("To send a file, type /send and its path (or drag the file here) and press Enter."), "how to send");

  // As a terminal writes a dragged file: quoted, with a space and an accent in its name.
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const path = join(outbox, "rapport été.bin");
  writeFileSync(path, body);
  let mark = agent.lines.all.length;
  let downloaded = 0;
  page.on("download", () => downloaded++);
  agent.write(`/send '${path}'\n`);
  // Checked, then saved only when the supporter asks: nothing lands on their disk by itself.
  const row = page.locator("li", { hasText: "rapport été.bin" });
  await row.getByText("Checked, ready to save").waitFor();
  await shot(page, "files-out-1-received");
  assert.equal(downloaded, 0);
  const download = page.waitForEvent("download");
  await row.getByRole("link", { name: "Save" }).click();
  const got = await download;
  assert.equal(got.suggestedFilename(), "rapport été.bin");
  assert.ok(readFileSync(await got.path()).equals(body), "the download is the file");
  await row.getByText("Saved to your downloads").waitFor();
  await agent.lines.waitFrom(mark, (l) => l === "[file] Sending rapport été.bin (3.1 MB) to Jane Doe…", "sending");
  await agent.lines.waitFrom(mark, (l) => l === "[file] Sent to Jane Doe: rapport été.bin.", "sent");

  // What cannot be sent is said at the terminal, in words.
  mark = agent.lines.all.length;
  agent.write(`/send ${join(outbox, "nothing.txt")}\n`);
  await agent.lines.waitFrom(mark, (l) => l === `[file] Not sent: nothing.txt (there is no file ${join(outbox, "nothing.txt")}).`, "a missing file");
  agent.write(`/send ${outbox}\n`);
  await agent.lines.waitFrom(mark, (l) => l.endsWith("is a folder; send the files in it one by one)."), "a folder");
  agent.write("/send\n");
  await agent.lines.waitFrom(mark, (l) => l === "To send a file, type /send and its path (or drag the file here) and press Enter.", "the hint");

  // The supporter can stop a file on its way; the person is told, nothing is downloaded.
  const huge = join(outbox, "disk.img");
  writeFileSync(huge, "");
  truncateSync(huge, 1024 * 1024 * 1024);
  mark = agent.lines.all.length;
  agent.write(`/send ${huge}\n`);
  const disk = page.locator("li", { hasText: "disk.img" });
  await disk.getByText("received ·").waitFor();
  await shot(page, "files-out-2-receiving");
  await disk.getByRole("button", { name: "Cancel" }).click();
  await disk.getByText("Cancelled").waitFor();
  await agent.lines.waitFrom(mark, (l) => l === "[file] Not sent: disk.img (the supporter cancelled it).", "the cancel at the terminal");
  assert.equal(await disk.getByRole("link", { name: "Save" }).count(), 0);
  assert.equal(downloaded, 1);

  // The session ending midway: the person is told that file did not arrive.
  mark = agent.lines.all.length;
  agent.write(`/send ${huge}\n`);
  await page.locator("li", { hasText: "disk.img" }).nth(1).getByText("received ·").waitFor();
  await endSession(page);
  await agent.lines.waitFrom(mark, (l) => l === "[file] Not sent: disk.img (the session ended before it arrived).", "the unfinished file at the terminal");
  await page.context().close();

  assert.deepEqual(await audited(["rapport été.bin", "disk.img"]), [
    ["disk.img", "to_viewer", "cancelled", 1024 * 1024 * 1024, null],
    ["disk.img", "to_viewer", "failed", 1024 * 1024 * 1024, null],
    ["rapport été.bin", "to_viewer", "ok", body.length, sha256(body)],
  ]);
});

test("in a view-only session the person can still send a file; nothing goes the other way", async () => {
  const page = await signedIn("files-view");
  const from = await enterCode(page, "view");
  await agent.answer(from, "v");
  await waitForScene(page);
  // Looking is not changing: no files to that computer.
  assert.equal(await page.getByRole("button", { name: "Files" }).count(), 0);
  const body = Buffer.from("journal of the day\n");
  const path = join(outbox, "journal.txt");
  writeFileSync(path, body);
  agent.write(`/send ${path}\n`);
  // The panel opened by itself, and has no way to send.
  await page.getByText("Checked, ready to save").waitFor();
  assert.equal(await page.getByLabel("Choose files").count(), 0);
  await page.getByRole("button", { name: "Files" }).waitFor();
  await shot(page, "files-view-1-received");
  // Not saved before the session ended: the ended page still offers it.
  await endSession(page);
  await page.getByText("Files received in the session and not saved yet:").waitFor();
  await shot(page, "files-view-2-unsaved-after-end");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Save" }).click();
  const got = await download;
  assert.equal(got.suggestedFilename(), "journal.txt");
  assert.ok(readFileSync(await got.path()).equals(body));
  await page.context().close();
});

test("the organisation's file limit and the person's 'control without files' hold at both ends", async () => {
  // An administrator limits files to 1 MB.
  const owner = await signedIn("files-limit", "", { email: OWNER_EMAIL });
  await owner.getByRole("link", { name: "Admin" }).click();
  await owner.getByLabel("Largest file, in MB").fill("1");
  await owner.getByRole("button", { name: "Save", exact: true }).click();
  await owner.getByText("Saved. New sessions follow it.").waitFor();
  await shot(owner, "files-limit-1-admin");

  const over = join(outbox, "over.bin");
  writeFileSync(over, randomBytes(1_000_001));
  const fits = join(outbox, "fits.bin");
  writeFileSync(fits, randomBytes(1_000_000));
  try {
    let page = await signedIn("files-limit-session");
    let from = await enterCode(page);
    await agent.answer(from, "c");
    await waitForScene(page);
    await page.getByRole("button", { name: "Files" }).click();
    await page.getByText("Up to 1.0 MB per file.").waitFor();
    // Over the limit, refused on each side before a byte goes; at the limit, it passes.
    await page.getByLabel("Choose files").setInputFiles([{ name: "over.bin", mimeType: "application/octet-stream", buffer: randomBytes(1_000_001) }]);
    await page.getByText("Not sent: larger than the 1.0 MB your organisation allows").waitFor();
    let mark = agent.lines.all.length;
    agent.write(`/send ${over}\n`);
    await agent.lines.waitFrom(mark, (l) => l === "[file] Not sent: over.bin (it is larger than the 1.0 MB the organisation allows).", "over the limit at the terminal");
    agent.write(`/send ${fits}\n`);
    await page.locator("li", { hasText: "fits.bin" }).getByText("Checked, ready to save").waitFor();
    await shot(page, "files-limit-2-refused");
    await endSession(page);
    await page.context().close();

    // The person allows control without files: no Files button, nothing leaves the computer.
    page = await signedIn("files-without");
    from = await enterCode(page);
    const ask = await agent.answer(from, "w");
    assert.match(ask, /\[w\] control without files/);
    await waitForScene(page);
    await agent.lines.waitFrom(from, (l) => l.includes("No files can be transferred in this session."), "no files said at the start");
    await page.getByText("Control", { exact: true }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Files" }).count(), 0);
    mark = agent.lines.all.length;
    agent.write(`/send ${fits}\n`);
    await agent.lines.waitFrom(mark, (l) => l === "[file] Not sent: fits.bin (files may not be transferred in this session).", "no files at the terminal");
    await shot(page, "files-limit-3-without-files");
    await endSession(page);
    await page.context().close();
  } finally {
    await owner.evaluate(() => fetch("/api/v1/org/files", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ allowed: true }) }));
    await owner.context().close();
  }
});
