//! Video encoding: an [`Encoder`] turns captured BGRA frames into a compressed stream for the
//! WebRTC video track. H.264 constrained baseline through openh264 ([`h264`]) is the default,
//! because every browser decodes it.
//!
//! Encoders run on the capture/encode thread, never on the async runtime. Deciding *whether* to
//! encode (nothing when nothing changed) is the pipeline's job, with
//! [`crate::capture::damage::DamageTracker`].

pub mod h264;

use crate::capture::Frame;
use crate::error::Result;

/// A compressed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The bitstream (H.264: Annex-B NAL units).
    pub data: Vec<u8>,
    /// Whether a decoder can start here.
    pub keyframe: bool,
}

/// Encodes frames of one size; a new size means a new encoder.
pub trait Encoder: Send {
    /// Encodes `frame`, captured `at` after the stream began (rate control paces by it);
    /// `None` when the encoder chose to skip it.
    fn encode(&mut self, frame: &Frame, at: std::time::Duration) -> Result<Option<EncodedFrame>>;
    /// Makes the next frame a keyframe (the viewer lost packets: PLI/FIR).
    fn request_keyframe(&mut self);
    /// Changes the target bitrate, in bits per second, from the next frame on.
    fn set_bitrate(&mut self, bps: u32) -> Result<()>;
    /// The current target bitrate.
    fn bitrate(&self) -> u32;
}
