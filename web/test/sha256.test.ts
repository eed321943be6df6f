import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";

import { Sha256 } from "../src/sha256";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test("the FIPS 180-4 examples", () => {
  assert.equal(new Sha256().hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(new Sha256().update(text("abc")).hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(
    new Sha256().update(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex(),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

test("any split of the input gives the digest of the whole, as node's own", () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 200_000]) {
    const data = randomBytes(size);
    const h = new Sha256();
    for (let at = 0; at < size; ) {
      const n = Math.min(size - at, 1 + Math.floor(Math.random() * 70_000));
      h.update(data.subarray(at, at + n));
      at += n;
    }
    assert.equal(h.hex(), createHash("sha256").update(data).digest("hex"), `${size} bytes`);
  }
});
