// Hashes the pieces of a file being sent, off the page's main thread: the sender posts each
// piece (a copy), then "done"; the worker answers each piece with its size, and "done" with the
// digest, and is ready for the next file.

import { Sha256 } from "./sha256";

/** The worker's side of `postMessage`, which the DOM typings give only to windows. */
const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<Uint8Array | "done">) => void) | null;
  postMessage(m: { got: number } | { hex: string }): void;
};

let hash = new Sha256();
scope.onmessage = (ev) => {
  if (ev.data === "done") {
    scope.postMessage({ hex: hash.hex() });
    hash = new Sha256();
  } else {
    hash.update(ev.data);
    scope.postMessage({ got: ev.data.length });
  }
};
