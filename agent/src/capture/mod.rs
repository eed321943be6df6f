//! Screen capture: a [`Capturer`] lists displays and captures one into a reused [`Frame`];
//! [`damage::DamageTracker`] says which parts changed since the last frame, so unchanged screens
//! cost nothing downstream.
//!
//! The per-OS implementations are leaf modules; [`open`] picks the one for this platform.

pub mod damage;
mod platform;

use crate::error::Result;

/// One display (monitor) as the agent shows it to the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayInfo {
    /// Index in the display list (what `pointer` events name).
    pub index: usize,
    /// Human-readable name (`HDMI-1`, `screen`, …).
    pub name: String,
    /// Left edge in the virtual desktop, in pixels.
    pub x: i32,
    /// Top edge in the virtual desktop, in pixels.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Device pixels per logical pixel, in percent (100 = no scaling).
    pub scale_percent: u32,
    /// Whether this is the primary display.
    pub primary: bool,
}

/// A captured image: BGRA, 4 bytes per pixel, rows `stride` bytes apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Pixel data, `stride * height` bytes.
    pub data: Vec<u8>,
}

impl Frame {
    /// The BGRA pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = y as usize * self.stride + x as usize * 4;
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }
}

/// Captures displays. Implementations are not `Send` on every OS (X11 connections are
/// thread-bound), so a capturer lives on the capture thread that created it.
pub trait Capturer {
    /// The displays, in a stable order (primary first where the OS says which it is).
    fn displays(&mut self) -> Result<Vec<DisplayInfo>>;

    /// Captures display `index` as it is now into `frame`, reusing its buffer.
    fn capture(&mut self, index: usize, frame: &mut Frame) -> Result<()>;

    /// Whether display `index` may have changed since it was last captured. `false` only when
    /// the OS says for certain that nothing was drawn there, so a still screen costs no
    /// capture at all. The default cannot tell, and says `true`.
    fn may_have_changed(&mut self, index: usize) -> bool {
        let _ = index;
        true
    }
}

/// Opens this platform's capturer. `display` names the display server where that means
/// something (X11: `:0`); `None` uses the session's default.
pub fn open(display: Option<&str>) -> Result<Box<dyn Capturer>> {
    platform::open(display)
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted capturer for unit tests.
    use super::*;

    /// Serves frames from a closure of the frame number.
    pub struct FakeCapturer<F: FnMut(u64, &mut Frame)> {
        /// The displays it claims.
        pub displays: Vec<DisplayInfo>,
        /// Paints frame `n`.
        pub paint: F,
        /// Frames served so far.
        pub count: u64,
    }

    /// The primary display 0, `w`×`h`, unscaled.
    pub fn display(w: u32, h: u32) -> DisplayInfo {
        DisplayInfo {
            index: 0,
            name: "fake".into(),
            x: 0,
            y: 0,
            width: w,
            height: h,
            scale_percent: 100,
            primary: true,
        }
    }

    impl<F: FnMut(u64, &mut Frame)> Capturer for FakeCapturer<F> {
        fn displays(&mut self) -> Result<Vec<DisplayInfo>> {
            Ok(self.displays.clone())
        }

        fn capture(&mut self, index: usize, frame: &mut Frame) -> Result<()> {
            let d = self
                .displays
                .get(index)
                .ok_or(crate::Error::UnknownDisplay(index))?;
            frame.width = d.width;
            frame.height = d.height;
            frame.stride = d.width as usize * 4;
            frame.data.resize(frame.stride * d.height as usize, 0);
            (self.paint)(self.count, frame);
            self.count += 1;
            Ok(())
        }
    }
}
