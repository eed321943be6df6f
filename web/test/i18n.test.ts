import assert from "node:assert/strict";
import { test } from "node:test";

import { LANGUAGES, format, pickLanguage } from "../src/i18n";
import { en } from "../src/strings";

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

test("every language has every string, non-empty, with the same placeholders as English", () => {
  const keys = Object.keys(en) as Array<keyof typeof en>;
  for (const [lang, { strings }] of Object.entries(LANGUAGES)) {
    assert.deepEqual(Object.keys(strings).sort(), [...keys].sort(), lang);
    for (const k of keys) {
      assert.ok(strings[k].trim().length > 0, `${lang} ${k} is empty`);
      assert.deepEqual(placeholders(strings[k]), placeholders(en[k]), `${lang} ${k}`);
    }
  }
});

test("translations are not English left in place", () => {
  // Short labels may legitimately match (Tether, Details, Computer); sentences must not.
  for (const [lang, { strings }] of Object.entries(LANGUAGES)) {
    if (lang === "en") continue;
    const same = (Object.keys(en) as Array<keyof typeof en>).filter((k) => en[k].split(" ").length > 3 && strings[k] === en[k]);
    assert.deepEqual(same, [], lang);
  }
});

test("the browser's languages pick the first supported one", () => {
  assert.equal(pickLanguage(["fr-CA", "en"]), "fr");
  assert.equal(pickLanguage(["es", "nl-BE", "de"]), "nl");
  assert.equal(pickLanguage(["ja"]), "en");
  assert.equal(pickLanguage([]), "en");
});

test("placeholders fill in, unknown ones stay visible", () => {
  assert.equal(format("{a} and {b}", { a: 1 }), "1 and {b}");
});
