//! What recording adds to a session: the H.264 frames the session already encodes cut into
//! fragmented MP4 (a fragment every 2 s), beside what encoding those frames cost, on the
//! capture thread. A bench binary that prints a table.
//!
//! The content is a busy 1080p terminal: every frame, the text moves up a line and a new line
//! appears, so every frame is a full change (the most frames, and the largest, a session sends).
//!
//! Run: `cargo bench -p tether-agent --bench recording`.

use std::time::{Duration, Instant};

use tether_agent::capture::Frame;
use tether_agent::encode::h264::H264Encoder;
use tether_agent::encode::{Encoder, Settings};
use tether_agent::recording::mp4::Fragmenter;
use tether_tests::percentile_ms;

const W: u32 = 1920;
const H: u32 = 1080;
const FRAMES: u32 = 150;
const FPS: u32 = 30;

/// A terminal scrolled by `n` lines: dark background, rows of light "glyphs" of varying width.
fn terminal(n: u32) -> Frame {
    let mut data = vec![0u8; (W * H * 4) as usize];
    for y in 0..H {
        let line = y / 18 + n;
        let in_glyph_row = y % 18 < 13;
        for x in 0..W {
            let col = x / 9;
            let lit = in_glyph_row
                && x % 9 < 7
                && (line.wrapping_mul(2_654_435_761) ^ col.wrapping_mul(40_503)) % 7 > 1
                && col < 40 + (line * 37) % 160;
            let v = if lit { 220 } else { 24 };
            let i = ((y * W + x) * 4) as usize;
            data[i..i + 4].copy_from_slice(&[v, v, v, 255]);
        }
    }
    Frame {
        width: W,
        height: H,
        stride: W as usize * 4,
        data,
    }
}

fn main() {
    let frames: Vec<Frame> = (0..FRAMES).map(terminal).collect();
    let mut enc = H264Encoder::new(W, H, Settings::default()).expect("openh264");
    let mut encoded = Vec::new();
    let mut encode_times = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let at = Duration::from_millis(i as u64 * 1000 / u64::from(FPS));
        let t = Instant::now();
        let out = enc.encode(f, at).expect("encodes");
        encode_times.push(t.elapsed());
        if let Some(out) = out {
            encoded.push((out, at));
        }
    }
    // Recording: the header at the first keyframe, a fragment every 2 s, the last at the end.
    let mut record_times = Vec::new();
    let mut bytes = 0usize;
    let mut fragments = 0;
    for _round in 0..20 {
        let mut mp4 = Fragmenter::new(W, H);
        let mut last_cut = Duration::ZERO;
        for (n, (out, at)) in encoded.iter().enumerate() {
            let t = Instant::now();
            if n == 0 {
                bytes += mp4.header(&out.data).expect("keyframe first").len();
            }
            if at.saturating_sub(last_cut) >= Duration::from_secs(2)
                && let Some(f) = mp4.cut().expect("cuts")
            {
                bytes += f.len();
                fragments += 1;
                last_cut = *at;
            }
            mp4.push(&out.data, *at, out.keyframe);
            record_times.push(t.elapsed());
        }
        let t = Instant::now();
        if let Some(f) = mp4.finish(Duration::from_secs(6)).expect("finishes") {
            bytes += f.len();
            fragments += 1;
        }
        record_times.push(t.elapsed());
    }
    encode_times.sort();
    record_times.sort();
    let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1e3 / v.len() as f64;
    let encode_mean = mean(&encode_times);
    let record_mean = mean(&record_times);
    let stream_bytes: usize = encoded.iter().map(|(o, _)| o.data.len()).sum();
    println!(
        "\nRecording beside encoding, 1920×1080 busy terminal (every frame changes), H.264 at the stream's default bitrate, {} frames at {FPS} fps; {}\n",
        encoded.len(),
        tether_tests::machine()
    );
    println!("| step | mean per frame | p99 per frame | share of one core at {FPS} fps |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| encode (what the session costs already) | {encode_mean:.2} ms | {:.2} ms | {:.1} % |",
        percentile_ms(&encode_times, 0.99),
        encode_mean * f64::from(FPS) / 10.0
    );
    println!(
        "| record (cut into fragmented MP4) | {:.1} µs | {:.1} µs | {:.3} % |",
        record_mean * 1e3,
        percentile_ms(&record_times, 0.99) * 1e3,
        record_mean * f64::from(FPS) / 10.0
    );
    println!(
        "\nMP4 overhead: {} bytes of recording for {} bytes of stream ({:+.2} %), {} fragments a round.",
        bytes / 20,
        stream_bytes,
        (bytes as f64 / 20.0 / stream_bytes as f64 - 1.0) * 100.0,
        fragments / 20
    );
}
