//! Agent micro-benchmarks on a 1920×1080 Xvfb (a bench binary that prints a table):
//! XShm capture per frame, damage tracking on a static and a fully changed screen, and pointer
//! injection through the agent's XTEST injector and through enigo's, beside each other (each
//! move confirmed by a QueryPointer round trip).
//!
//! Run: `cargo bench -p tether-agent --bench capture_input`.
// Linux only; elsewhere an empty program, so that the workspace builds on every OS.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

use tether_tests::x11 as xvfb;

use std::time::{Duration, Instant};

use tether_agent::capture::damage::DamageTracker;
use tether_agent::capture::{self, Frame};
use tether_agent::encode::Encoder;
use tether_agent::encode::Settings;
use tether_agent::encode::h264::H264Encoder;
use tether_agent::input::{EnigoInjector, InputInjector, NativeInjector};
use tether_tests::percentile_ms;
use x11rb::protocol::xproto::ConnectionExt as _;

/// (p50, p99) in milliseconds.
fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    (percentile_ms(&v, 0.50), percentile_ms(&v, 0.99))
}

fn main() {
    let x = xvfb::Xvfb::start(1920, 1080);
    let mut cap = capture::open(Some(&x.display)).unwrap();
    let mut f = Frame::default();
    cap.capture(0, &mut f).unwrap();

    let mut t = Vec::new();
    for _ in 0..300 {
        let s = Instant::now();
        cap.capture(0, &mut f).unwrap();
        t.push(s.elapsed());
    }
    let capture = stats(t);

    let mut d = DamageTracker::new();
    d.update(&f);
    let mut t = Vec::new();
    for _ in 0..300 {
        let s = Instant::now();
        assert!(d.update(&f).is_empty());
        t.push(s.elapsed());
    }
    let damage_static = stats(t);

    let mut g = f.clone();
    let mut t = Vec::new();
    for i in 0..300u32 {
        // A different value on every pixel each time: every tile differs from the last frame.
        g.data.fill((i % 250) as u8 + 1);
        let s = Instant::now();
        assert!(!d.update(&g).is_empty());
        t.push(s.elapsed());
    }
    let damage_changed = stats(t);

    // BGRA -> I420 (openh264's converter) and H.264 encode at 1080p, 4 Mbit/s.
    let (w, h) = (f.width as usize, f.height as usize);
    let mut yuv = openh264::formats::YUVBuffer::new(w, h);
    let mut t = Vec::new();
    for _ in 0..100 {
        let s = Instant::now();
        yuv.read_bgra8(openh264::formats::BgraSliceU8::new(&f.data, (w, h)));
        t.push(s.elapsed());
    }
    let convert = stats(t);
    let mut enc = H264Encoder::new(f.width, f.height, Settings::default()).unwrap();
    let mut frame_no = 0u64;
    let mut encode = |frame: &Frame| {
        frame_no += 1;
        let s = Instant::now();
        let out = enc
            .encode(frame, Duration::from_millis(frame_no * 33))
            .unwrap();
        (s.elapsed(), out.map_or(0, |o| o.data.len()))
    };
    encode(&f); // keyframe
    let (mut t, mut bytes) = (Vec::new(), 0);
    for _ in 0..60 {
        let (d, n) = encode(&f);
        t.push(d);
        bytes += n;
    }
    let enc_static = (stats(t), bytes / 60);
    // Changing content: a 480x270 block of moving stripes (like scrolling text) in the frame.
    let mut g = f.clone();
    let (mut t, mut bytes) = (Vec::new(), 0);
    for i in 0..60usize {
        for y in 300..570 {
            for x in 600..1080 {
                let v = if (y + i * 3) % 14 < 3 || (x + y) % 97 < 2 {
                    30
                } else {
                    235
                };
                let p = y * g.stride + x * 4;
                g.data[p..p + 3].copy_from_slice(&[v, v, v]);
            }
        }
        let (d, n) = encode(&g);
        t.push(d);
        bytes += n;
    }
    let enc_changing = (stats(t), bytes / 60);

    let (conn, root) = x.connect();
    let moves = |inj: &mut dyn InputInjector| {
        let mut t = Vec::new();
        for i in 0..1000 {
            let (px, py) = (100 + (i % 800), 100 + (i % 600));
            let s = Instant::now();
            inj.move_to(px, py).unwrap();
            let r = conn.query_pointer(root).unwrap().reply().unwrap();
            t.push(s.elapsed());
            assert_eq!((i32::from(r.root_x), i32::from(r.root_y)), (px, py));
        }
        stats(t)
    };
    let inject = moves(&mut NativeInjector::new(Some(&x.display)).unwrap());
    let inject_enigo = moves(&mut EnigoInjector::new(Some(&x.display)).unwrap());

    println!("machine: {}; Xvfb 1920x1080x24", tether_tests::machine());
    println!();
    println!("| measure | p50 | p99 |");
    println!("| --- | --- | --- |");
    println!(
        "| XShm capture, 1080p frame (into reused buffer) | {:.3} ms | {:.3} ms |",
        capture.0, capture.1
    );
    println!(
        "| damage tracking, static 1080p screen | {:.3} ms | {:.3} ms |",
        damage_static.0, damage_static.1
    );
    println!(
        "| damage tracking, every tile changed | {:.3} ms | {:.3} ms |",
        damage_changed.0, damage_changed.1
    );
    println!(
        "| BGRA -> I420, 1080p (openh264 converter) | {:.3} ms | {:.3} ms |",
        convert.0, convert.1
    );
    let (st, sb) = enc_static;
    println!(
        "| H.264 encode 1080p, static screen, 4 Mbit/s | {:.3} ms | {:.3} ms | {sb} B/frame",
        st.0, st.1
    );
    let (ct, cb) = enc_changing;
    println!(
        "| H.264 encode 1080p, 480x270 region changing | {:.3} ms | {:.3} ms | {cb} B/frame",
        ct.0, ct.1
    );
    println!(
        "| pointer move injected (the agent's XTEST injector) and confirmed by QueryPointer | {:.3} ms | {:.3} ms |",
        inject.0, inject.1
    );
    println!(
        "| the same through enigo (it lists the input devices first) | {:.3} ms | {:.3} ms |",
        inject_enigo.0, inject_enigo.1
    );
}
