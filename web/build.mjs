// Builds the web app into dist/ (embedded in the relay binary) and, with --tests, the unit tests
// into dist-test/ for `node --test`. No network access: esbuild and TypeScript come from
// node_modules (`npm ci`).
import { build } from "esbuild";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";

const tests = process.argv.includes("--tests");

if (tests) {
  await rm("dist-test", { recursive: true, force: true });
  const entries = (await readdir("test")).filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`);
  await build({
    entryPoints: entries,
    outdir: "dist-test",
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
} else {
  await rm("dist", { recursive: true, force: true });
  await mkdir("dist", { recursive: true });
  await build({
    entryPoints: { app: "src/main.ts" },
    outdir: "dist",
    bundle: true,
    minify: true,
    sourcemap: false,
    format: "esm",
    target: ["chrome110", "firefox115", "safari16"],
    logLevel: "warning",
  });
  // The hashing worker of the Files panel: a classic script of its own.
  await build({
    entryPoints: { "hash-worker": "src/hash-worker.ts" },
    outdir: "dist",
    bundle: true,
    minify: true,
    format: "iife",
    target: ["chrome110", "firefox115", "safari16"],
    logLevel: "warning",
  });
  await copyFile("src/app.css", "dist/app.css");
  await copyFile("index.html", "dist/index.html");
}
