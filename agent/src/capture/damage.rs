//! What changed between two frames, by comparing fixed tiles (64×64 pixels) against a copy of
//! the previous frame. Each tile row is one `memcmp`, and only changed tiles are copied back, so
//! an unchanged 1080p screen costs one pass of comparisons and nothing else.

use super::Frame;

/// Tile edge in pixels.
pub const TILE: u32 = 64;

/// A changed area, in pixels of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Remembers the previous frame and reports changed tiles.
#[derive(Debug, Default)]
pub struct DamageTracker {
    prev: Frame,
    dirty: Vec<bool>,
}

impl DamageTracker {
    /// A tracker with no previous frame (the first frame is all damage).
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the previous frame, so the next one is reported whole (after a keyframe request
    /// or a display switch).
    pub fn reset(&mut self) {
        self.prev = Frame::default();
    }

    /// The areas of `frame` that differ from the previous frame; horizontally adjacent changed
    /// tiles are merged into one rectangle per tile row. Empty when nothing changed.
    pub fn update(&mut self, frame: &Frame) -> Vec<Rect> {
        let (w, h) = (frame.width, frame.height);
        if self.prev.width != w || self.prev.height != h || self.prev.stride != frame.stride {
            self.prev = frame.clone();
            return if w == 0 || h == 0 {
                Vec::new()
            } else {
                vec![Rect { x: 0, y: 0, w, h }]
            };
        }
        let cols = w.div_ceil(TILE) as usize;
        let mut out = Vec::new();
        for band in 0..h.div_ceil(TILE) {
            let y0 = band * TILE;
            let y1 = (y0 + TILE).min(h);
            self.dirty.clear();
            self.dirty.resize(cols, false);
            for y in y0..y1 {
                let row = y as usize * frame.stride;
                for (c, dirty) in self.dirty.iter_mut().enumerate() {
                    if *dirty {
                        continue;
                    }
                    let a = row + c * TILE as usize * 4;
                    let b = row + ((c as u32 + 1) * TILE).min(w) as usize * 4;
                    *dirty = frame.data[a..b] != self.prev.data[a..b];
                }
            }
            let mut c = 0;
            while c < cols {
                if !self.dirty[c] {
                    c += 1;
                    continue;
                }
                let start = c;
                while c < cols && self.dirty[c] {
                    c += 1;
                }
                let x0 = start as u32 * TILE;
                let x1 = (c as u32 * TILE).min(w);
                for y in y0..y1 {
                    let row = y as usize * frame.stride;
                    let (a, b) = (row + x0 as usize * 4, row + x1 as usize * 4);
                    self.prev.data[a..b].copy_from_slice(&frame.data[a..b]);
                }
                out.push(Rect {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Capturer;
    use crate::capture::fake::{FakeCapturer, display};

    fn fill(frame: &mut Frame, x: u32, y: u32, w: u32, h: u32, v: u8) {
        for yy in y..y + h {
            for xx in x..x + w {
                let i = yy as usize * frame.stride + xx as usize * 4;
                frame.data[i..i + 4].copy_from_slice(&[v, v, v, 255]);
            }
        }
    }

    #[test]
    fn first_frame_is_whole_then_static_is_empty() {
        let mut cap = FakeCapturer {
            displays: vec![display(200, 100)],
            paint: |_, _: &mut Frame| {},
            count: 0,
        };
        let (mut f, mut d) = (Frame::default(), DamageTracker::new());
        cap.capture(0, &mut f).unwrap();
        assert_eq!(
            d.update(&f),
            [Rect {
                x: 0,
                y: 0,
                w: 200,
                h: 100
            }]
        );
        cap.capture(0, &mut f).unwrap();
        assert!(d.update(&f).is_empty());
    }

    #[test]
    fn a_moving_square_damages_exactly_its_old_and_new_tiles() {
        // A 10x10 square moves 100 px right each frame across a 320x192 screen.
        let mut cap = FakeCapturer {
            displays: vec![display(320, 192)],
            paint: |n, f: &mut Frame| {
                f.data.fill(0);
                fill(f, 5 + n as u32 * 100, 70, 10, 10, 200);
            },
            count: 0,
        };
        let (mut f, mut d) = (Frame::default(), DamageTracker::new());
        cap.capture(0, &mut f).unwrap();
        d.update(&f);
        cap.capture(0, &mut f).unwrap();
        // From tile column 0 (x 5..15) to column 1 (x 105..115), both in tile row 1 (y 64..128).
        assert_eq!(
            d.update(&f),
            [Rect {
                x: 0,
                y: 64,
                w: 128,
                h: 64
            }]
        );
        cap.capture(0, &mut f).unwrap();
        // From column 1 to column 3 (x 205..215): two separate runs.
        assert_eq!(
            d.update(&f),
            [
                Rect {
                    x: 64,
                    y: 64,
                    w: 64,
                    h: 64
                },
                Rect {
                    x: 192,
                    y: 64,
                    w: 64,
                    h: 64
                }
            ]
        );
    }

    #[test]
    fn edge_tiles_are_clipped_and_resize_is_whole() {
        let mut f = Frame {
            width: 100,
            height: 70,
            stride: 400,
            data: vec![0; 400 * 70],
        };
        let mut d = DamageTracker::new();
        d.update(&f);
        fill(&mut f, 99, 69, 1, 1, 9);
        assert_eq!(
            d.update(&f),
            [Rect {
                x: 64,
                y: 64,
                w: 36,
                h: 6
            }]
        );
        let g = Frame {
            width: 50,
            height: 50,
            stride: 200,
            data: vec![0; 200 * 50],
        };
        assert_eq!(
            d.update(&g),
            [Rect {
                x: 0,
                y: 0,
                w: 50,
                h: 50
            }]
        );
    }
}
