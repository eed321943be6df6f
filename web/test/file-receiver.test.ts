import assert from "node:assert/strict";
import { test } from "node:test";

import { safeName } from "../src/file-receiver";

test("a name from the other computer is offered without folders or control characters", () => {
  assert.equal(safeName("rapport été.pdf"), "rapport été.pdf");
  assert.equal(safeName("../../etc/passwd"), "passwd");
  assert.equal(safeName("C:\\Windows\\system32\\evil.dll"), "evil.dll");
  assert.equal(safeName("a\u0000b\u001b[31mc.txt"), "ab[31mc.txt");
  // A right-to-left override would show `invoice\u202Egpj.exe` as `invoiceexe.jpg`.
  assert.equal(safeName("invoice\u202Egpj.exe"), "invoicegpj.exe");
  for (const nothing of ["", "..", ".", "/", 42, null]) assert.equal(safeName(nothing), "file", String(nothing));
  assert.equal(Array.from(safeName("é".repeat(300))).length, 255);
});
