import assert from "node:assert/strict";
import { test } from "node:test";

import { join } from "../src/remote-files";

test("a name joins a folder with the separator of the other computer's paths", () => {
  assert.equal(join("/home/ann", "notes.txt"), "/home/ann/notes.txt");
  assert.equal(join("/", "etc"), "/etc");
  assert.equal(join("C:\\Users\\Ann", "notes.txt"), "C:\\Users\\Ann\\notes.txt");
  assert.equal(join("C:\\", "Users"), "C:\\Users");
  // A Unix folder whose name holds a backslash is still a Unix path.
  assert.equal(join("/srv/a\\b", "c"), "/srv/a\\b/c");
});
