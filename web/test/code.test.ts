import assert from "node:assert/strict";
import { test } from "node:test";

import { groupShareCode, parseShareCode } from "../src/code";

test("share codes are accepted grouped or plain", () => {
  for (const s of ["123 456 7890", "1234567890", "123-456-7890", " 123 4567 890 "]) {
    assert.equal(parseShareCode(s), "1234567890", s);
  }
});

test("anything but ten digits is refused", () => {
  for (const s of ["", "123456789", "12345678901", "123 456 789O", "１２３４５６７８９０", "123_456_7890"]) {
    assert.equal(parseShareCode(s), null, s);
  }
});

test("digits are grouped as they are read out", () => {
  assert.equal(groupShareCode("1234567890"), "123 456 7890");
  assert.equal(groupShareCode("1234"), "123 4");
  assert.equal(groupShareCode("12"), "12");
});
