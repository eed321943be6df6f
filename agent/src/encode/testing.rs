//! Test support for the encoders: a desktop-like scene, frame times and PSNR, and the behaviour
//! every [`super::Codec`] must have.

use super::{Codec, Settings};
use crate::capture::Frame;

/// A desktop-like scene: white page, black one-pixel "text" strokes, coloured blocks and a
/// gradient bar; `shift` moves the text to make a changed frame.
pub fn scene(w: u32, h: u32, shift: u32) -> Frame {
    let mut f = Frame {
        width: w,
        height: h,
        stride: w as usize * 4,
        data: vec![255; (w * h * 4) as usize],
    };
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) as usize * 4;
            let px: [u8; 3] = if y % 12 < 7 && (x + shift) % 9 < 2 && y > 20 {
                [20, 20, 20]
            } else if x < w / 4 && y < h / 3 {
                [200, 80, 30]
            } else if y > h - 16 {
                [(x * 255 / w) as u8, 128, 255 - (x * 255 / w) as u8]
            } else {
                [250, 250, 250]
            };
            f.data[i..i + 3].copy_from_slice(&px);
        }
    }
    f
}

/// The picture a still-screen test ends on, and its luma reference (openh264's converter, as
/// the encoders use).
pub fn still(w: u32, h: u32) -> (Frame, openh264::formats::YUVBuffer) {
    use openh264::formats::{BgraSliceU8, YUVBuffer};
    let frame = scene(w, h, 4);
    let reference =
        YUVBuffer::from_bgra8_source(BgraSliceU8::new(&frame.data, (w as usize, h as usize)));
    (frame, reference)
}

/// The n-th frame's timestamp at 30 fps.
pub fn ms(n: u32) -> std::time::Duration {
    std::time::Duration::from_millis(u64::from(n) * 33)
}

/// PSNR of two luma planes, each given as (samples, stride).
pub fn psnr_y(a: (&[u8], usize), b: (&[u8], usize), w: usize, h: usize) -> f64 {
    let ((a, sa), (b, sb)) = (a, b);
    let mut se = 0f64;
    for y in 0..h {
        for x in 0..w {
            let d = f64::from(a[y * sa + x]) - f64::from(b[y * sb + x]);
            se += d * d;
        }
    }
    let mse = se / (w * h) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Keyframes first and on request only; the bitrate changes at runtime; odd sizes are cropped to
/// even and frames of another size refused. Every codec must pass.
#[test]
fn every_codec_keeps_the_encoder_contract() {
    for codec in Codec::built() {
        let (w, h) = (320, 240);
        let mut enc = codec.open(w, h, Settings::default()).unwrap();
        let mut key = |i: u32| {
            enc.encode(&scene(w, h, i), ms(i))
                .unwrap()
                .expect("a frame")
                .keyframe
        };
        assert_eq!([key(0), key(1)], [true, false], "{codec:?}");
        let mut enc = codec.open(w, h, Settings::default()).unwrap();
        enc.encode(&scene(w, h, 0), ms(0)).unwrap();
        enc.request_keyframe();
        let forced = enc
            .encode(&scene(w, h, 1), ms(1))
            .unwrap()
            .unwrap()
            .keyframe;
        let after = enc
            .encode(&scene(w, h, 2), ms(2))
            .unwrap()
            .unwrap()
            .keyframe;
        assert_eq!([forced, after], [true, false], "{codec:?}");
        enc.set_bitrate(500_000).unwrap();
        assert_eq!(enc.bitrate(), 500_000, "{codec:?}");
        assert!(
            enc.encode(&scene(w, h, 3), ms(3)).unwrap().is_some(),
            "{codec:?}"
        );

        let mut odd = codec.open(321, 241, Settings::default()).unwrap();
        assert_eq!(odd.size(), (320, 240), "{codec:?}");
        assert!(
            odd.encode(&scene(321, 241, 0), ms(0)).unwrap().is_some(),
            "{codec:?}"
        );
        assert!(odd.encode(&scene(640, 480, 0), ms(1)).is_err(), "{codec:?}");
        assert!(codec.open(1, 1, Settings::default()).is_err(), "{codec:?}");
    }
    assert_eq!("VP8".parse::<Codec>().ok(), Some(Codec::Vp8));
    assert_eq!("h264".parse::<Codec>().ok(), Some(Codec::H264));
    assert!("av1".parse::<Codec>().is_err());
}
