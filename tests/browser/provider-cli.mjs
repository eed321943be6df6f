// The test OpenID provider (./provider.mjs) for tests written in other languages: started with
// its options as JSON in the first argument (`clientId`, `clientSecret`, `redirectUri`,
// `accounts`), it prints `{"issuer": …}` on one line once it listens, and stops when its
// standard input closes (when the test that started it ends, however it ends).

import { startProvider } from "./provider.mjs";

const options = JSON.parse(process.argv[2] ?? "{}");
const provider = await startProvider(options);
process.stdout.write(`${JSON.stringify({ issuer: provider.issuer })}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await provider.stop();
  process.exit(0);
});
