//! Video encoding: an [`Encoder`] turns captured BGRA frames into a compressed stream for the
//! WebRTC video track. H.264 constrained baseline through openh264 ([`h264`]) is the default,
//! because every browser decodes it; VP8 through libvpx (`vp8`, the `vp8` cargo feature, on by
//! default) is the second codec.
//!
//! Encoders run on the capture/encode thread, never on the async runtime. Deciding *whether* to
//! encode (nothing when nothing changed) is the pipeline's job, with
//! [`crate::capture::damage::DamageTracker`].

pub mod h264;
#[cfg(test)]
mod testing;
#[cfg(feature = "vp8")]
pub mod vp8;

use openh264::formats::{BgraSliceU8, YUVBuffer};

use crate::capture::Frame;
use crate::error::{Error, Result};

/// The video codecs the agent can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// H.264 constrained baseline (openh264).
    #[default]
    H264,
    /// VP8 (libvpx).
    Vp8,
}

impl Codec {
    /// An encoder of this codec for `width`×`height` frames.
    pub fn open(self, width: u32, height: u32, settings: Settings) -> Result<Box<dyn Encoder>> {
        Ok(match self {
            Codec::H264 => Box::new(h264::H264Encoder::new(width, height, settings)?),
            Codec::Vp8 => open_vp8(width, height, settings)?,
        })
    }

    /// The codecs this build can encode (VP8 needs the `vp8` feature and libvpx).
    pub fn built() -> Vec<Codec> {
        let mut codecs = vec![Codec::H264];
        if cfg!(feature = "vp8") {
            codecs.push(Codec::Vp8);
        }
        codecs
    }
}

#[cfg(feature = "vp8")]
fn open_vp8(width: u32, height: u32, settings: Settings) -> Result<Box<dyn Encoder>> {
    Ok(Box::new(vp8::Vp8Encoder::new(width, height, settings)?))
}

#[cfg(not(feature = "vp8"))]
fn open_vp8(_width: u32, _height: u32, _settings: Settings) -> Result<Box<dyn Encoder>> {
    Err(Error::Encode(
        "this agent was built without VP8 (the vp8 feature and libvpx); use H.264".into(),
    ))
}

impl std::str::FromStr for Codec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Codec> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "h.264" | "avc" => Ok(Codec::H264),
            "vp8" => Ok(Codec::Vp8),
            _ => Err(Error::Encode(format!("unknown codec {s:?} (h264 or vp8)"))),
        }
    }
}

/// Encoder settings shared by every codec.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Target bitrate, bits per second.
    pub bitrate: u32,
    /// Highest frame rate the stream will carry.
    pub max_fps: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bitrate: 4_000_000,
            max_fps: 30.0,
        }
    }
}

/// The size an encoder works at: rounded down to even (I420 halves both axes), never zero.
fn even_size(width: u32, height: u32) -> Result<(u32, u32)> {
    let (w, h) = (width & !1, height & !1);
    if w == 0 || h == 0 {
        return Err(Error::Encode(format!(
            "cannot encode a {width}x{height} frame"
        )));
    }
    Ok((w, h))
}

/// Converts `frame` to I420 in `yuv` at the encoder's even `size`, packing rows through
/// `packed` when the capture's stride has padding.
fn to_i420(
    frame: &Frame,
    size: (u32, u32),
    packed: &mut Vec<u8>,
    yuv: &mut YUVBuffer,
) -> Result<()> {
    let (w, h) = (size.0 as usize, size.1 as usize);
    if frame.width & !1 != size.0 || frame.height & !1 != size.1 {
        return Err(Error::Encode(format!(
            "frame is {}x{}, encoder is {}x{}",
            frame.width, frame.height, size.0, size.1
        )));
    }
    // BGRA rows must be tightly packed at the encoded width.
    let bgra: &[u8] = if frame.stride == w * 4 && frame.data.len() >= w * h * 4 {
        &frame.data[..w * h * 4]
    } else {
        packed.clear();
        for y in 0..h {
            let row = y * frame.stride;
            packed.extend_from_slice(&frame.data[row..row + w * 4]);
        }
        packed
    };
    yuv.read_bgra8(BgraSliceU8::new(bgra, (w, h)));
    Ok(())
}

/// A compressed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The bitstream (H.264: Annex-B NAL units; VP8: one frame).
    pub data: Vec<u8>,
    /// Whether a decoder can start here.
    pub keyframe: bool,
}

/// Encodes frames of one size; a new size means a new encoder.
pub trait Encoder: Send {
    /// Encodes `frame`, captured `at` after the stream began (rate control paces by it);
    /// `None` when the encoder chose to skip it.
    fn encode(&mut self, frame: &Frame, at: std::time::Duration) -> Result<Option<EncodedFrame>>;
    /// Encodes `frame` — the picture last encoded, unchanged since — again at a higher quality
    /// than the bitrate gave it, so a still screen sharpens; `pass` counts from 0 since the last
    /// change, and later passes may be finer. `None` when there is nothing to add.
    fn refine(
        &mut self,
        frame: &Frame,
        at: std::time::Duration,
        pass: u8,
    ) -> Result<Option<EncodedFrame>> {
        let _ = pass;
        self.encode(frame, at)
    }
    /// Encodes `frame` — unchanged since the last frame — as cheaply as the codec allows, only
    /// so that the stream is not silent.
    fn keepalive(
        &mut self,
        frame: &Frame,
        at: std::time::Duration,
    ) -> Result<Option<EncodedFrame>> {
        self.encode(frame, at)
    }
    /// Makes the next frame a keyframe (the viewer lost packets: PLI/FIR).
    fn request_keyframe(&mut self);
    /// Changes the target bitrate, in bits per second, from the next frame on.
    fn set_bitrate(&mut self, bps: u32) -> Result<()>;
    /// The current target bitrate.
    fn bitrate(&self) -> u32;
    /// The encoded size (the frame size rounded down to even).
    fn size(&self) -> (u32, u32);
}
