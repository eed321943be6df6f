// The desktop app's words (desktop-ui/ui/strings.js): every language has every key, non-empty,
// with English's placeholders, and no sentence is English left in place.
import assert from "node:assert/strict";
import { test } from "node:test";

import { STRINGS } from "../../desktop-ui/ui/strings.js";

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

test("the desktop app speaks en, fr, de and nl, each completely", () => {
  const en = STRINGS["en"]!;
  assert.deepEqual(Object.keys(STRINGS).sort(), ["de", "en", "fr", "nl"]);
  for (const [lang, table] of Object.entries(STRINGS)) {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(en).sort(), lang);
    for (const [k, v] of Object.entries(en)) {
      assert.ok(table[k]!.trim().length > 0, `${lang} ${k} is empty`);
      assert.deepEqual(placeholders(table[k]!), placeholders(v), `${lang} ${k}`);
      if (lang !== "en" && v.split(" ").length > 3) assert.notEqual(table[k], v, `${lang} ${k} is English`);
    }
  }
});

test("every missing-permission kind has a title and steps", () => {
  for (const kind of ["screen_recording", "accessibility", "wayland_session", "no_display", "no_input_extension"]) {
    for (const part of ["title", "steps"]) assert.ok(`perm.${kind}.${part}` in STRINGS["en"]!, `${kind} ${part}`);
  }
});
