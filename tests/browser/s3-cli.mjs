// An S3-compatible object store for tests: the npm `s3rver` package (its account `S3RVER`, secret
// `S3RVER`; it checks a request's access key, not its SigV4 signature). Started with its options as
// JSON in the first argument (`directory` for its files, `buckets` to create), it prints
// `{"endpoint": …}` on one line once it listens, and stops when its standard input closes (when
// the test that started it ends, however it ends).

import { createRequire } from "node:module";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const S3rver = require("s3rver");

const { directory, buckets = [] } = JSON.parse(process.argv[2] ?? "{}");
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ endpoint: `http://127.0.0.1:${port}` })}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await server.close();
  process.exit(0);
});
