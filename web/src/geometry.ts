// Where the remote picture sits inside the video element, and pointer mapping from the page to
// the protocol's normalised display coordinates (0 = left/top edge, 65535 = right/bottom edge).

/** A rectangle in CSS pixels. */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The picture's rectangle inside `box` when a `vw`×`vh` video is letterboxed (object-fit: contain). */
export function contentRect(box: Rect, vw: number, vh: number): Rect {
  if (vw <= 0 || vh <= 0 || box.width <= 0 || box.height <= 0) {
    return { left: box.left, top: box.top, width: 0, height: 0 };
  }
  const scale = Math.min(box.width / vw, box.height / vh);
  const width = vw * scale;
  const height = vh * scale;
  return {
    left: box.left + (box.width - width) / 2,
    top: box.top + (box.height - height) / 2,
    width,
    height,
  };
}

/** Normalised coordinate of remote pixel `px` on an axis `len` pixels long; the agent maps it back exactly. */
export function normalise(px: number, len: number): number {
  if (len <= 1) return 0;
  const p = Math.min(len - 1, Math.max(0, Math.floor(px)));
  return Math.round((p * 65535) / (len - 1));
}

/**
 * Maps a page point to normalised coordinates of a `vw`×`vh` remote display shown letterboxed in
 * `box`. Points in the black bars clamp to the nearest edge, so a drag that leaves the picture
 * still ends on the screen.
 */
export function toRemote(
  clientX: number,
  clientY: number,
  box: Rect,
  vw: number,
  vh: number,
): { x: number; y: number } | null {
  const r = contentRect(box, vw, vh);
  if (r.width === 0 || r.height === 0) return null;
  const px = ((clientX - r.left) / r.width) * vw;
  const py = ((clientY - r.top) / r.height) * vh;
  return { x: normalise(px, vw), y: normalise(py, vh) };
}

/** WheelEvent.deltaMode values. */
export const DOM_DELTA_PIXEL = 0;
export const DOM_DELTA_LINE = 1;
export const DOM_DELTA_PAGE = 2;

/**
 * Converts a wheel delta to the protocol's 1/120ths of a detent. Browsers report one notch as
 * about 100 pixels (Chromium), 3 lines (Firefox) or a page; all become 120.
 */
export function wheelUnits(delta: number, mode: number): number {
  switch (mode) {
    case DOM_DELTA_LINE:
      return delta * 40;
    case DOM_DELTA_PAGE:
      return delta * 120;
    default:
      return delta * 1.2;
  }
}
