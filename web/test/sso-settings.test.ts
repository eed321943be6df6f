import assert from "node:assert/strict";
import { test } from "node:test";

import { formatRules, parseDomains, parseRules } from "../src/sso-settings";

test("the role mapping reads one rule a line, and the last '=' separates the role", () => {
  const rules = parseRules(" it-admins = admin\n\nhelp=desk = Technician \r\nEveryone=viewer");
  assert.deepEqual(rules, [
    { value: "it-admins", role: "admin" },
    { value: "help=desk", role: "technician" },
    { value: "Everyone", role: "viewer" },
  ]);
  assert.deepEqual(parseRules(formatRules(rules)), rules);
  assert.deepEqual(parseRules("  \n"), []);
});

test("a rule without a value, or naming owner or an unknown role, is refused with its line", () => {
  for (const line of ["= admin", "it-admins = owner", "it-admins", "it-admins = boss"]) {
    assert.throws(() => parseRules(`ok = viewer\n${line}`), (e: Error) => e.message.includes(line.trim()), line);
  }
});

test("e-mail domains are split on commas and spaces, without '@', in lower case", () => {
  assert.deepEqual(parseDomains(" Acme.com, @acme.de;acme.fr\n  "), ["acme.com", "acme.de", "acme.fr"]);
  assert.deepEqual(parseDomains(""), []);
});
