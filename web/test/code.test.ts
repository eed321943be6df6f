import assert from "node:assert/strict";
import { test } from "node:test";

import { groupShareCode, parseShareCode, regroupTyped } from "../src/code";

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

test("typing a code digit by digit groups it 3-3-4 with the caret at the end", () => {
  let field = { value: "", caret: 0 };
  for (const d of "9533602387") {
    const now = field.value.slice(0, field.caret) + d + field.value.slice(field.caret);
    field = regroupTyped(field.value, now, field.caret + 1);
  }
  assert.deepEqual(field, { value: "953 360 2387", caret: 12 });
});

test("an edit in the middle keeps the caret after the same digit", () => {
  // A digit typed after the 6 of "953 602 387".
  assert.deepEqual(regroupTyped("953 602 387", "953 6002 387", 6), { value: "953 600 2387", caret: 6 });
  // Backspace right after a space removes the digit before it, not only the space.
  assert.deepEqual(regroupTyped("953 360 2387", "953360 2387", 3), { value: "953 602 387", caret: 2 });
  // Deleting a digit regroups the rest; the caret stays after the 3.
  assert.deepEqual(regroupTyped("953 360 2387", "953 60 2387", 4), { value: "953 602 387", caret: 3 });
});

test("a code typed with dashes or pasted with other separators is left as typed", () => {
  assert.deepEqual(regroupTyped("953-", "953-3", 5), { value: "953-3", caret: 5 });
});
