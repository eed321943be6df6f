//! The Windows agent under Wine, end to end: `tether-agent.exe`, cross-built by
//! `scripts/cross.sh`, runs under Wine on an Xvfb display against the real relay (in this
//! process, real sockets), prints a share code, asks consent at its terminal, and the Rust viewer
//! gets frames through its GDI capture and moves the pointer through its Windows injector.
//!
//! Ignored unless `TETHER_WINE_AGENT` names the .exe; `TETHER_WINE_RUN` is the command that runs
//! a Windows program (default `wine`). `scripts/cross.sh test` sets both and runs it.

use tether_protocol::input::{COORD_MAX, InputEvent};
use tether_tests::viewer::ViewerOptions;
use tether_tests::x11::Xvfb;
use tokio::process::Command;
use x11rb::protocol::xproto::*;

use crate::e2e::{paint_quadrants, shows_quadrants, start_agent_loop};
use crate::support::repeat_until;

/// The command that runs `exe` with `args` under Wine.
fn wine(exe: &str, args: &[&str]) -> Command {
    let run = std::env::var("TETHER_WINE_RUN").unwrap_or_else(|_| "wine".into());
    let mut words = run.split_whitespace();
    let mut cmd = Command::new(words.next().expect("TETHER_WINE_RUN names a command"));
    cmd.args(words).arg(exe).args(args);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the cross-built agent and Wine: scripts/cross.sh test"]
async fn the_windows_agent_under_wine_streams_its_screen_and_takes_the_pointer() {
    let exe = std::env::var("TETHER_WINE_AGENT").expect("TETHER_WINE_AGENT names tether-agent.exe");
    let (w, h) = (800u16, 600u16);
    let x = Xvfb::start(u32::from(w), u32::from(h));
    paint_quadrants(&x, w, h);
    let (mut viewer, _out, _guard) = start_agent_loop(
        |relay_url| {
            let mut agent = wine(
                &exe,
                &["share", "--relay", relay_url, "--bind", "127.0.0.1:0"],
            );
            agent.env("DISPLAY", &x.display).env("TETHER_LOG", "info");
            agent
        },
        ViewerOptions::default(),
    )
    .await;

    // Frames arrive, of the whole Windows screen, which Wine makes the X screen: the quadrants
    // painted on it. Wine has no desktop duplication, so this is the GDI path.
    let wait = std::time::Duration::from_secs(60);
    let pic = tokio::time::timeout(wait, viewer.picture_where(shows_quadrants))
        .await
        .expect("a picture of the X screen from the GDI capture");
    assert_eq!((pic.width, pic.height), (usize::from(w), usize::from(h)));

    // The pointer: the Windows injector's move reaches the X server at the matching pixel.
    let (conn, root) = x.connect();
    let (px, py) = (600u32, 150u32);
    let norm = |v: u32, len: u16| (v * u32::from(COORD_MAX) / (u32::from(len) - 1)) as u16;
    let mv = InputEvent::PointerMove {
        display: 0,
        x: norm(px, w),
        y: norm(py, h),
    };
    repeat_until(
        "pointer position",
        || viewer.send_input(&mv),
        || {
            let p = conn.query_pointer(root).unwrap().reply().unwrap();
            (p.root_x, p.root_y)
        },
        |p| *p == (px as i16, py as i16),
    )
    .await;
    viewer.end();
}
