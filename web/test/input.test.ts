// The encoder must produce exactly the bytes of protocol/tests/vectors/input.json, the same file
// the Rust decoder is tested against.
import assert from "node:assert/strict";
import { test } from "node:test";

import vectors from "../../protocol/tests/vectors/input.json";
import { MAX_TEXT_BYTES, buttonFromDom, encode, type InputEvent, textEvents } from "../src/input";

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

test("every shared vector encodes to its exact bytes", () => {
  assert.ok(vectors.length >= 10, "the vector file is populated");
  for (const v of vectors) {
    assert.equal(hex(encode(v.event as InputEvent)), v.hex, v.name);
  }
});

test("out-of-range numbers clamp to what the frame can carry", () => {
  assert.equal(hex(encode({ type: "pointer_move", display: 0, x: -5, y: 70000 })), "01 00 00 00 ff ff");
  assert.equal(hex(encode({ type: "wheel", dx: 40000, dy: -40000 })), "04 ff 7f 00 80");
});

test("an oversize text event is refused, and long text splits on character boundaries", () => {
  assert.throws(() => encode({ type: "text", text: "a".repeat(MAX_TEXT_BYTES + 1) }), RangeError);
  const text = "é".repeat(MAX_TEXT_BYTES); // 2 bytes each
  const events = textEvents(text);
  assert.equal(events.length, 2);
  for (const e of events) {
    const bytes = encode(e);
    assert.ok(bytes.length - 3 <= MAX_TEXT_BYTES);
    assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(3)).length > 0, true);
  }
  assert.equal(events.map((e) => (e.type === "text" ? e.text : "")).join(""), text);
  assert.deepEqual(textEvents(""), []);
});

test("DOM button numbers map to protocol buttons", () => {
  assert.deepEqual([0, 1, 2, 3, 4].map(buttonFromDom), ["left", "middle", "right", "back", "forward"]);
  assert.equal(buttonFromDom(5), null);
});
