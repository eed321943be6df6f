//! Capture + encode cost per 1080p frame by kind of screen content (a bench binary that prints a
//! table), beside ffmpeg's x11grab + libx264 (`-preset ultrafast -tune zerolatency`) on the same
//! Xvfb in the same run, when Debian's ffmpeg is installed.
//!
//! Content, drawn on the X server between frames: static; typing (one glyph-sized box per
//! frame); scrolling (the screen moves up a line and a new line appears); video-like (a 640×360
//! block of fresh noise every frame).
//!
//! Ours is the wall time of capture + damage + encode on one thread (≈ its CPU time). ffmpeg's
//! is CPU time (user + system, all threads) per frame from `-benchmark`, with the same content
//! animated at 30 fps while it records 150 frames.
//!
//! Run: `cargo bench -p tether-agent --bench content`.
// Linux only; elsewhere an empty program, so that the workspace builds on every OS.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

use tether_tests::x11 as xvfb;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tether_agent::capture::damage::DamageTracker;
use tether_agent::capture::{self, Frame};
use tether_agent::encode::{Codec, Settings};
use tether_tests::percentile_ms;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::*;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const W: u16 = 1920;
const H: u16 = 1080;

#[derive(Clone, Copy, Debug)]
enum Content {
    Static,
    Typing,
    Scrolling,
    Video,
}

/// Draws step `n` of `content` on the root window.
struct Painter {
    conn: RustConnection,
    root: u32,
    gc: u32,
    depth: u8,
    noise: Vec<u8>,
    seed: u32,
}

impl Painter {
    fn new(x: &xvfb::Xvfb) -> Painter {
        let (conn, root) = x.connect();
        let depth = conn.setup().roots[0].root_depth;
        let gc = conn.generate_id().unwrap();
        conn.create_gc(gc, root, &CreateGCAux::new().foreground(0xffffff))
            .unwrap();
        conn.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x: 0,
                y: 0,
                width: W,
                height: H,
            }],
        )
        .unwrap();
        conn.sync().unwrap();
        Painter {
            conn,
            root,
            gc,
            depth,
            noise: vec![0; 640 * 360 * 4],
            seed: 1,
        }
    }

    fn fill(&self, color: u32, x: i16, y: i16, w: u16, h: u16) {
        self.conn
            .change_gc(self.gc, &ChangeGCAux::new().foreground(color))
            .unwrap();
        self.conn
            .poly_fill_rectangle(
                self.root,
                self.gc,
                &[Rectangle {
                    x,
                    y,
                    width: w,
                    height: h,
                }],
            )
            .unwrap();
    }

    fn step(&mut self, content: Content, n: u32) {
        match content {
            Content::Static => {}
            Content::Typing => {
                let col = (n % 150) as i16;
                let row = (n / 150 % 50) as i16;
                self.fill(0x202020, 20 + col * 12, 20 + row * 20, 9, 14);
            }
            Content::Scrolling => {
                self.conn
                    .copy_area(self.root, self.root, self.gc, 0, 20, 0, 0, W, H - 20)
                    .unwrap();
                self.fill(0xffffff, 0, (H - 20) as i16, W, 20);
                // A "line of text": words of varying length.
                let mut x = 20i16;
                let mut k = n;
                while x < 1800 {
                    k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let word = 24 + (k >> 16) % 90;
                    self.fill(0x303030, x, (H - 16) as i16, word as u16, 12);
                    x += word as i16 + 10;
                }
            }
            Content::Video => {
                for b in self.noise.iter_mut() {
                    self.seed ^= self.seed << 13;
                    self.seed ^= self.seed >> 17;
                    self.seed ^= self.seed << 5;
                    *b = self.seed as u8;
                }
                self.conn
                    .put_image(
                        ImageFormat::Z_PIXMAP,
                        self.root,
                        self.gc,
                        640,
                        360,
                        640,
                        360,
                        0,
                        self.depth,
                        &self.noise,
                    )
                    .unwrap();
            }
        }
        self.conn.sync().unwrap();
    }
}

/// (p50, p99) ms of capture + damage + encode, and mean bytes per frame.
fn ours(x: &xvfb::Xvfb, content: Content, codec: Codec) -> ((f64, f64), usize) {
    let mut painter = Painter::new(x);
    let mut cap = capture::open(Some(&x.display)).unwrap();
    let mut frame = Frame::default();
    let mut damage = DamageTracker::new();
    let cfg = Settings {
        bitrate: 2_500_000,
        max_fps: 30.0,
    };
    let mut enc = codec.open(u32::from(W), u32::from(H), cfg).unwrap();
    let (mut times, mut bytes) = (Vec::new(), 0usize);
    for n in 0..120u32 {
        painter.step(content, n);
        let start = Instant::now();
        cap.capture(0, &mut frame).unwrap();
        let changed = !damage.update(&frame).is_empty();
        let out = if changed || n == 0 {
            enc.encode(&frame, Duration::from_millis(u64::from(n) * 33))
                .unwrap()
        } else {
            None
        };
        let took = start.elapsed();
        if n >= 20 {
            // The first frames are the keyframe and the encoder's warm-up.
            times.push(took);
            bytes += out.map_or(0, |o| o.data.len());
        }
    }
    times.sort();
    (
        (percentile_ms(&times, 0.5), percentile_ms(&times, 0.99)),
        bytes / 100,
    )
}

/// ffmpeg's CPU ms per frame, if ffmpeg is installed.
fn ffmpeg(x: &xvfb::Xvfb, content: Content) -> Option<f64> {
    Command::new("ffmpeg").arg("-version").output().ok()?;
    let stop = Arc::new(AtomicBool::new(false));
    let animator = {
        let stop = stop.clone();
        let mut painter = Painter::new(x);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                painter.step(content, n);
                n += 1;
                std::thread::sleep(Duration::from_millis(33));
            }
        })
    };
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-benchmark", "-f", "x11grab"])
        .args([
            "-framerate",
            "30",
            "-video_size",
            "1920x1080",
            "-i",
            &x.display,
        ])
        .args([
            "-frames:v",
            "150",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .args(["-tune", "zerolatency", "-b:v", "2500k", "-f", "null", "-"])
        .output()
        .ok()?;
    stop.store(true, Ordering::Relaxed);
    animator.join().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| -> Option<f64> {
        let line = log.lines().find(|l| l.starts_with("bench: utime="))?;
        let v = line.split(&format!("{name}=")).nth(1)?;
        v.trim_end_matches(|c: char| !c.is_ascii_digit())
            .split('s')
            .next()?
            .parse()
            .ok()
    };
    let cpu = field("utime")? + field("stime")?;
    Some(cpu * 1000.0 / 150.0)
}

fn main() {
    let x = xvfb::Xvfb::start(u32::from(W), u32::from(H));
    println!(
        "machine: {}; Xvfb 1920x1080x24; 2.5 Mbit/s",
        tether_tests::machine()
    );
    println!();
    println!(
        "| content | H.264: capture + encode p50 | p99 | bytes/frame | VP8: p50 | p99 | bytes/frame | ffmpeg x11grab + libx264 ultrafast, CPU/frame |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for content in [
        Content::Static,
        Content::Typing,
        Content::Scrolling,
        Content::Video,
    ] {
        let ((p50, p99), bytes) = ours(&x, content, Codec::H264);
        let ((v50, v99), vbytes) = ours(&x, content, Codec::Vp8);
        let theirs = ffmpeg(&x, content).map_or_else(
            || "ffmpeg not installed".to_owned(),
            |ms| format!("{ms:.1} ms"),
        );
        println!(
            "| {content:?} | {p50:.1} ms | {p99:.1} ms | {bytes} | {v50:.1} ms | {v99:.1} ms | {vbytes} | {theirs} |"
        );
    }
}
