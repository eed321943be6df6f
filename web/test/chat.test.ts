import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_CHAT, chatProblem } from "../src/chat";

test("a chat message must say something and fit the protocol's limit in bytes", () => {
  assert.equal(chatProblem("  \n "), "empty");
  assert.equal(chatProblem("Bonjour"), null);
  assert.equal(chatProblem("x".repeat(MAX_CHAT)), null);
  // Counted in UTF-8 bytes, as the agent counts them: 2,049 é are 4,098 bytes.
  assert.equal(chatProblem("é".repeat(MAX_CHAT / 2 + 1)), "tooLong");
  // Surrounding white space is not sent, so it does not count.
  assert.equal(chatProblem(` ${"x".repeat(MAX_CHAT)} `), null);
});
