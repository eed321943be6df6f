import assert from "node:assert/strict";
import { test } from "node:test";

import { endText, failureText, reasonText } from "../src/errors";
import { en } from "../src/strings";

test("a session the computer ended over a failed connection names TURN when the page saw it", () => {
  assert.equal(endText("connection_failed", "turn_refused"), en["err.turnRefused"]);
  assert.equal(endText("connection_failed", "turn_unreachable"), en["err.turnUnreachable"]);
  assert.equal(endText("connection_failed", null), en["reason.connection_failed"]);
  // Any other reason is told as it is, whatever the page saw.
  assert.equal(endText("ended_by_agent", "turn_refused"), reasonText("ended_by_agent"));
  assert.equal(failureText(null), en["err.network"]);
});
