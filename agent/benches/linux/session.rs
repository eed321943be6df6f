//! Whole-loop benchmarks (a bench binary that prints a table): the relay in process, the release
//! `tether-agent` binary sharing a 1920×1080 Xvfb, and the Rust test viewer over loopback WebRTC.
//!
//! * glass-to-glass: a rectangle is painted on the X server → the viewer has decoded a picture
//!   showing it;
//! * pointer: the viewer sends a move → the X server reports the pointer there;
//! * static screen: the agent's CPU (from /proc) and the bitrate it reports while nothing moves.
//!
//! Run: `cargo bench -p tether-agent --bench session`.
// Linux only; elsewhere an empty program, so that the workspace builds on every OS.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

#[path = "../../tests/linux/support.rs"]
#[allow(dead_code)]
mod support;
use tether_tests::x11 as xvfb;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tether_protocol::control::Control;
use tether_protocol::input::{COORD_MAX, InputEvent};
use tether_tests::percentile_ms;
use tether_tests::viewer::{Viewer, ViewerOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::*;
use x11rb::wrapper::ConnectionExt as _;

const W: u16 = 1920;
const H: u16 = 1080;

/// (p50, p99) in milliseconds.
fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    (percentile_ms(&v, 0.50), percentile_ms(&v, 0.99))
}

/// User + system CPU time of a process, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let x = xvfb::Xvfb::start(u32::from(W), u32::from(H));
    let dir = tempfile::tempdir().unwrap();
    support::seed_technician(dir.path());
    let addr = tether_tests::free_addr();
    let _relay = support::start_relay(dir.path(), addr).await;
    let mut agent = Command::new(env!("CARGO_BIN_EXE_tether-agent"))
        .args([
            "share",
            "--relay",
            &format!("http://{addr}"),
            "--display",
            &x.display,
            "--bind",
            "127.0.0.1:0",
        ])
        .env("DISPLAY", &x.display)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = agent.id().unwrap();
    let mut stdin = agent.stdin.take().unwrap();
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();
    let code = support::code_of(&support::line_containing(&mut out, "Your share code:").await);
    let token = tether_tests::token(addr, "jane@acme.example", "correct horse battery").await;
    let answer = async {
        support::line_containing(&mut out, "Allow?").await;
        stdin.write_all(b"c\n").await.unwrap();
    };
    let (viewer, ()) = tokio::join!(
        Viewer::connect(addr, &token, &code, ViewerOptions::default()),
        answer
    );
    let mut viewer = viewer.unwrap();
    viewer.picture().await;

    // Glass to glass.
    let (conn, root) = x.connect();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    let mut g2g = Vec::new();
    for i in 0..120u32 {
        let (color, rgb) = if i % 2 == 0 {
            (0xffffff, [255u8, 255, 255])
        } else {
            (0x000000, [0u8, 0, 0])
        };
        conn.change_gc(gc, &ChangeGCAux::new().foreground(color))
            .unwrap();
        viewer.clear_pictures();
        conn.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x: 800,
                y: 400,
                width: 320,
                height: 240,
            }],
        )
        .unwrap();
        conn.sync().unwrap();
        let painted = Instant::now();
        let pic = viewer
            .picture_where(|p| {
                let px = p.pixel(960, 520);
                px.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) < 24)
            })
            .await;
        g2g.push(pic.decoded_at - painted);
        // Let the encoder settle between changes, as a person's actions are spaced.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Pointer: send → visible in X.
    let mut pointer = Vec::new();
    for i in 0..300u32 {
        let (px, py) = (100 + (i * 37) % 1700, 100 + (i * 53) % 900);
        let norm = |v: u32, len: u16| (v * u32::from(COORD_MAX) / (u32::from(len) - 1)) as u16;
        let sent = Instant::now();
        viewer
            .send_input(&InputEvent::PointerMove {
                display: 0,
                x: norm(px, W),
                y: norm(py, H),
            })
            .await;
        loop {
            let p = conn.query_pointer(root).unwrap().reply().unwrap();
            if (p.root_x as u32, p.root_y as u32) == (px, py) {
                break;
            }
        }
        pointer.push(sent.elapsed());
    }

    // Static screen: 10 s with nothing moving (the pointer is still too).
    tokio::time::sleep(Duration::from_secs(2)).await;
    viewer.clear_events();
    let cpu0 = cpu_time(pid);
    let t0 = Instant::now();
    let mut bits = 0u64;
    let mut seconds = 0u32;
    while seconds < 10 {
        if let Control::Stats(s) = viewer
            .control_where(|c| matches!(c, Control::Stats(_)))
            .await
        {
            bits += s.bitrate_bps;
            seconds += 1;
        }
    }
    let cpu = cpu_time(pid) - cpu0;
    let wall = t0.elapsed();

    let (g50, g99) = stats(g2g);
    let (p50, p99) = stats(pointer);
    println!("{}", tether_tests::machine());
    println!("| loop (1920×1080, loopback, release build) | p50 | p99 |");
    println!("| --- | --- | --- |");
    println!("| glass to glass: paint → decoded at viewer | {g50:.1} ms | {g99:.1} ms |");
    println!("| pointer: viewer send → X pointer there | {p50:.2} ms | {p99:.2} ms |");
    println!(
        "| static screen: agent CPU | {:.2} % of a core | |",
        cpu.as_secs_f64() * 100.0 / wall.as_secs_f64()
    );
    println!(
        "| static screen: video bitrate | {:.2} kbit/s | |",
        bits as f64 / f64::from(seconds) / 1000.0
    );
}
