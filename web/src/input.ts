// The binary input frames of docs/PROTOCOL.md ("Input data channels"): one event per data-channel
// message, a tag byte and a fixed little-endian payload. protocol/tests/vectors/input.json holds
// the exact bytes both this encoder and the Rust decoder are tested against.

/** Mouse buttons, numbered like `MouseEvent.button`. */
export type ButtonName = "left" | "middle" | "right" | "back" | "forward";

const BUTTONS: readonly ButtonName[] = ["left", "middle", "right", "back", "forward"];

/** One input event, in the JSON shape of the Rust `InputEvent`. */
export type InputEvent =
  | { type: "pointer_move"; display: number; x: number; y: number }
  | { type: "button_down"; button: ButtonName }
  | { type: "button_up"; button: ButtonName }
  | { type: "wheel"; dx: number; dy: number }
  | { type: "key_down"; usage: number }
  | { type: "key_up"; usage: number }
  | { type: "text"; text: string }
  | { type: "release_all" };

/** Largest UTF-8 payload of one text event. */
export const MAX_TEXT_BYTES = 1024;

/** The button named by a DOM `MouseEvent.button`, or null for buttons the protocol lacks. */
export function buttonFromDom(button: number): ButtonName | null {
  return BUTTONS[button] ?? null;
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(v)));
}

const utf8 = new TextEncoder();

/** Encodes one event. Throws on values the protocol cannot carry (an oversize text). */
export function encode(ev: InputEvent): Uint8Array {
  switch (ev.type) {
    case "pointer_move": {
      const b = new Uint8Array(6);
      const v = new DataView(b.buffer);
      b[0] = 0x01;
      b[1] = clampInt(ev.display, 0, 255);
      v.setUint16(2, clampInt(ev.x, 0, 65535), true);
      v.setUint16(4, clampInt(ev.y, 0, 65535), true);
      return b;
    }
    case "button_down":
    case "button_up":
      return Uint8Array.of(ev.type === "button_down" ? 0x02 : 0x03, BUTTONS.indexOf(ev.button));
    case "wheel": {
      const b = new Uint8Array(5);
      const v = new DataView(b.buffer);
      b[0] = 0x04;
      v.setInt16(1, clampInt(ev.dx, -32768, 32767), true);
      v.setInt16(3, clampInt(ev.dy, -32768, 32767), true);
      return b;
    }
    case "key_down":
    case "key_up": {
      const b = new Uint8Array(5);
      b[0] = ev.type === "key_down" ? 0x05 : 0x06;
      new DataView(b.buffer).setUint32(1, ev.usage >>> 0, true);
      return b;
    }
    case "text": {
      const bytes = utf8.encode(ev.text);
      if (bytes.length > MAX_TEXT_BYTES) {
        throw new RangeError(`text event of ${bytes.length} bytes (at most ${MAX_TEXT_BYTES})`);
      }
      const b = new Uint8Array(3 + bytes.length);
      b[0] = 0x07;
      new DataView(b.buffer).setUint16(1, bytes.length, true);
      b.set(bytes, 3);
      return b;
    }
    case "release_all":
      return Uint8Array.of(0x08);
  }
}

/**
 * Splits text into events of at most MAX_TEXT_BYTES each, never inside a character (so each
 * event is valid UTF-8 on its own).
 */
export function textEvents(text: string): InputEvent[] {
  const out: InputEvent[] = [];
  let chunk = "";
  let size = 0;
  for (const ch of text) {
    const n = utf8.encode(ch).length;
    if (size + n > MAX_TEXT_BYTES) {
      out.push({ type: "text", text: chunk });
      chunk = "";
      size = 0;
    }
    chunk += ch;
    size += n;
  }
  if (chunk) out.push({ type: "text", text: chunk });
  return out;
}
