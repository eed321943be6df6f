//! Test support for the encoders: a desktop-like scene, frame times and PSNR.

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
