//! H.264 through openh264 (built from its bundled source; with `nasm` present its assembly is
//! used, 3–4x faster). Constrained baseline, realtime bitrate control, no B-frames.
//!
//! openh264's camera real-time mode is used: its screen-content mode, with bitrate rate control
//! as configured here, emitted an IDR frame for every input frame (16 KB each at 320×240 where a
//! delta frame is a few hundred bytes), so it is not offered until that is understood.

use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, EncoderConfig, FrameRate, FrameType, MatrixCoefficients, RateControlMode, UsageType,
    VuiConfig,
};
use openh264::formats::YUVBuffer;

use super::{EncodedFrame, Encoder, Settings, even_size, to_i420};
use crate::capture::Frame;
use crate::error::{Error, Result};

/// The openh264 encoder for one frame size.
pub struct H264Encoder {
    enc: openh264::encoder::Encoder,
    yuv: YUVBuffer,
    packed: Vec<u8>,
    width: u32,
    height: u32,
    bitrate: u32,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Encode(e.to_string())
}

impl H264Encoder {
    /// An encoder for `width`×`height` frames (odd sizes are cropped to even; I420 needs it).
    pub fn new(width: u32, height: u32, cfg: Settings) -> Result<Self> {
        let (w, h) = even_size(width, height)?;
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(cfg.bitrate))
            .max_frame_rate(FrameRate::from_hz(cfg.max_fps))
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(true)
            // Low: ~10 % faster per frame on screen content, no worse in the PSNR test here
            // (37.4 dB worst case against 35.6 at the default Medium).
            .complexity(openh264::encoder::Complexity::Low)
            // Say how to turn the pixels back into RGB. The BGRA→I420 conversion uses BT.601
            // coefficients at limited range; without this VUI, browsers assume BT.709 for HD
            // sizes and every colour comes out shifted (red 208 → 222, green 192 → 169).
            .vui(VuiConfig::bt709().matrix_coefficients(MatrixCoefficients::Smpte170M));
        let enc = openh264::encoder::Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(err)?;
        Ok(H264Encoder {
            enc,
            yuv: YUVBuffer::new(w as usize, h as usize),
            packed: Vec::new(),
            width: w,
            height: h,
            bitrate: cfg.bitrate,
        })
    }
}

impl Encoder for H264Encoder {
    fn encode(&mut self, frame: &Frame, at: std::time::Duration) -> Result<Option<EncodedFrame>> {
        to_i420(
            frame,
            (self.width, self.height),
            &mut self.packed,
            &mut self.yuv,
        )?;
        let ts =
            openh264::Timestamp::from_millis(u64::try_from(at.as_millis()).unwrap_or(u64::MAX));
        let bits = self.enc.encode_at(&self.yuv, ts).map_err(err)?;
        let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
        if matches!(bits.frame_type(), FrameType::Skip) {
            return Ok(None);
        }
        let data = bits.to_vec();
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(EncodedFrame { data, keyframe }))
    }

    fn request_keyframe(&mut self) {
        self.enc.force_intra_frame();
    }

    fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        let mut info = openh264_sys2::SBitrateInfo {
            iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
            iBitrate: i32::try_from(bps)
                .map_err(|_| Error::Encode(format!("bitrate {bps} too high")))?,
        };
        // SAFETY: ENCODER_OPTION_BITRATE takes a pointer to an SBitrateInfo that lives for the
        // call; the encoder is initialised (constructed above) and the option is one openh264
        // documents as changeable at runtime.
        let rc = unsafe {
            self.enc.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_BITRATE,
                (&raw mut info).cast(),
            )
        };
        if rc != 0 {
            return Err(Error::Encode(format!(
                "openh264 refused bitrate {bps} (code {rc})"
            )));
        }
        self.bitrate = bps;
        Ok(())
    }

    fn bitrate(&self) -> u32 {
        self.bitrate
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use openh264::decoder::Decoder;
    use openh264::formats::{BgraSliceU8, YUVSource};

    use super::super::testing::{ms, psnr_y, scene};
    use super::*;

    /// The round trip keeps PSNR-Y above 34 dB at 4 Mbit/s on desktop-like content (stated
    /// threshold; measured 35.6 dB worst over the four frames).
    #[test]
    fn encode_decode_round_trip_keeps_quality() {
        let (w, h) = (640, 360);
        let mut enc = H264Encoder::new(w, h, Settings::default()).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut worst = f64::INFINITY;
        for i in 0..4 {
            let f = scene(w, h, i);
            let out = enc.encode(&f, ms(i)).unwrap().expect("a frame");
            assert_eq!(out.keyframe, i == 0, "only the first frame is a keyframe");
            let reference =
                YUVBuffer::from_bgra8_source(BgraSliceU8::new(&f.data, (w as usize, h as usize)));
            let decoded = dec.decode(&out.data).unwrap().expect("a picture");
            worst = worst.min(psnr_y(
                (reference.y(), reference.strides().0),
                (decoded.y(), decoded.strides().0),
                w as usize,
                h as usize,
            ));
        }
        assert!(worst > 34.0, "PSNR-Y {worst:.1} dB");
    }
}
