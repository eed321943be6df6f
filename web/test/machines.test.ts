import assert from "node:assert/strict";
import { test } from "node:test";

import { installCommands, matchesQuery } from "../src/machines";

test("install commands carry the relay and the token for every system", () => {
  const cmds = installCommands("https://relay.example", "tet_abc-123");
  assert.deepEqual(
    cmds.map((c) => c.system),
    ["Debian / Ubuntu", "Windows", "macOS"],
  );
  for (const c of cmds) {
    assert.ok(c.command.includes("https://relay.example"), c.command);
    assert.ok(c.command.includes("tet_abc-123"), c.command);
  }
  // The Debian line preseeds both debconf questions the package asks.
  const deb = cmds[0]!.command;
  assert.match(deb, /tether-agent\/relay_url string/);
  assert.match(deb, /tether-agent\/enroll_token password/);
  assert.match(cmds[1]!.command, /\/qn RELAY_URL=https:\/\/relay\.example ENROLL_TOKEN=tet_abc-123$/);
});

test("the machine search needs every word somewhere in the name, system or tags", () => {
  const m = { hostname: "Reception-PC", os: "windows", tags: ["lobby", "floor-2"] };
  for (const q of ["", "  ", "recep", "RECEPTION", "lobby win", "floor-2 pc"]) {
    assert.equal(matchesQuery(m, q), true, q);
  }
  for (const q of ["kiosk", "lobby mac", "floor-3"]) {
    assert.equal(matchesQuery(m, q), false, q);
  }
});
