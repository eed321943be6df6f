//! The whole loop with real parts: the relay (in process, real sockets), the `tether-agent`
//! binary on a private Xvfb, and the Rust test viewer over real WebRTC on loopback. The viewer
//! must see the scene painted on the X server, and its input must land there.

use std::process::Stdio;

use tether_protocol::control::{Control, Path};
use tether_protocol::input::{COORD_MAX, InputEvent};
use tether_protocol::keymap;
use tether_tests::viewer::{Picture, Viewer, ViewerOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::*;
use x11rb::wrapper::ConnectionExt as _;

use crate::support::{WAIT, code_of, line_containing, seed_technician, start_relay, until};
use tether_tests::x11::{Xvfb, keys_down};

/// Four solid quadrants: big flat areas survive compression, so colours can be checked tightly.
const QUADRANTS: [(u32, [u8; 3]); 4] = [
    (0xd02020, [0xd0, 0x20, 0x20]),
    (0x20c040, [0x20, 0xc0, 0x40]),
    (0x3040e0, [0x30, 0x40, 0xe0]),
    (0xf0e030, [0xf0, 0xe0, 0x30]),
];

pub(crate) fn paint_quadrants(x: &Xvfb, w: u16, h: u16) {
    let (conn, root) = x.connect();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    for (i, (pixel, _)) in QUADRANTS.iter().enumerate() {
        conn.change_gc(gc, &ChangeGCAux::new().foreground(*pixel))
            .unwrap();
        let r = Rectangle {
            x: (i % 2) as i16 * (w / 2) as i16,
            y: (i / 2) as i16 * (h / 2) as i16,
            width: w / 2,
            height: h / 2,
        };
        conn.poly_fill_rectangle(root, gc, &[r]).unwrap();
    }
    conn.sync().unwrap();
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

pub(crate) fn shows_quadrants(p: &Picture) -> bool {
    let (w, h) = (p.width, p.height);
    QUADRANTS.iter().enumerate().all(|(i, (_, rgb))| {
        let x = (i % 2) * w / 2 + w / 4;
        let y = (i / 2) * h / 2 + h / 4;
        close(p.pixel(x, y), *rgb)
    })
}

/// The CLIPBOARD selection's text, read with xclip (empty if none).
fn xclip_out(x: &Xvfb) -> String {
    let out = std::process::Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .env("DISPLAY", &x.display)
        .output()
        .expect("xclip is installed (scripts/install-deps.sh test)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies `text` to the CLIPBOARD selection as a local application would (xclip keeps serving
/// it in the background until the X server goes away).
fn xclip_in(x: &Xvfb, text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("xclip")
        .args(["-selection", "clipboard", "-i"])
        .env("DISPLAY", &x.display)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xclip is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    // xclip forks a server for the selection and the parent exits.
    child.wait().unwrap();
}

/// What must live as long as the loop: the agent process, the relay and its data directory.
pub type Guard = (
    tokio::process::Child,
    crate::support::Relay,
    tempfile::TempDir,
);

/// A relay, an agent sharing `x`, and a viewer connected to it with control granted; also the
/// agent's terminal output.
async fn start_loop(
    x: &Xvfb,
    relay_only: bool,
) -> (
    Viewer,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    Guard,
) {
    start_agent_loop(
        |relay_url| {
            let mut args = vec![
                "share",
                "--relay",
                relay_url,
                "--display",
                &x.display,
                "--bind",
                "127.0.0.1:0",
            ];
            if relay_only {
                args.push("--relay-only");
            }
            let mut agent = Command::new(env!("CARGO_BIN_EXE_tether-agent"));
            agent.args(&args).env("DISPLAY", &x.display);
            agent
        },
        ViewerOptions {
            relay_only,
            ..ViewerOptions::default()
        },
    )
    .await
}

/// Starts a relay with a technician, then the agent that `agent` makes for the relay's URL
/// (`share`), answers its consent question at its terminal, and connects the Rust viewer with
/// `opts` by the share code it printed.
pub async fn start_agent_loop(
    agent: impl FnOnce(&str) -> Command,
    opts: ViewerOptions,
) -> (
    Viewer,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    Guard,
) {
    let dir = tempfile::tempdir().unwrap();
    seed_technician(dir.path());
    let addr = tether_tests::free_addr();
    let relay = start_relay(dir.path(), addr).await;
    let mut agent = agent(&format!("http://{addr}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = agent.stdin.take().unwrap();
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();
    let code = code_of(&line_containing(&mut out, "Your share code:").await);
    let token = tether_tests::token(addr, "jane@acme.example", "correct horse battery").await;

    let answer = async {
        line_containing(&mut out, "Allow?").await;
        // What a terminal sends on Windows, and what every agent accepts.
        stdin.write_all(b"c\r\n").await.unwrap();
    };
    let (viewer, ()) = tokio::join!(Viewer::connect(addr, &token, &code, opts), answer);
    (viewer.expect("consent was given"), out, (agent, relay, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_sees_the_screen_and_its_input_lands_then_keys_are_released_when_it_vanishes() {
    let (w, h) = (640u16, 480u16);
    let x = Xvfb::start(u32::from(w), u32::from(h));
    paint_quadrants(&x, w, h);
    let (mut viewer, mut out, _guard) = start_loop(&x, false).await;

    // The screen arrives: the decoded picture shows the four quadrants in their colours.
    let pic = tokio::time::timeout(WAIT, viewer.picture_where(shows_quadrants))
        .await
        .expect("a picture of the painted scene");
    assert_eq!((pic.width, pic.height), (usize::from(w), usize::from(h)));

    // The display list comes on the control channel.
    let displays = tokio::time::timeout(
        WAIT,
        viewer.control_where(|c| matches!(c, Control::Displays { .. })),
    )
    .await
    .unwrap();
    let Control::Displays { displays, active } = displays else {
        unreachable!()
    };
    assert_eq!(active, 0);
    assert_eq!((displays[0].width, displays[0].height), (640, 480));
    // Stats follow once a second; on loopback the path is direct (host, or peer-reflexive when
    // a check arrives before the candidate it comes from).
    let stats = tokio::time::timeout(
        WAIT,
        viewer.control_where(|c| matches!(c, Control::Stats(s) if s.path != Path::Unknown)),
    )
    .await
    .unwrap();
    assert!(
        matches!(stats, Control::Stats(s) if matches!(s.path, Path::Host | Path::Reflexive)),
        "{stats:?}"
    );

    // A change on screen reaches the viewer: the top-left quadrant turns white.
    {
        let (conn, root) = x.connect();
        let gc = conn.generate_id().unwrap();
        conn.create_gc(gc, root, &CreateGCAux::new().foreground(0xffffff))
            .unwrap();
        let r = Rectangle {
            x: 0,
            y: 0,
            width: w / 2,
            height: h / 2,
        };
        conn.poly_fill_rectangle(root, gc, &[r]).unwrap();
        conn.sync().unwrap();
    }
    tokio::time::timeout(
        WAIT,
        viewer.picture_where(|p| close(p.pixel(160, 120), [255, 255, 255])),
    )
    .await
    .expect("the change was streamed");

    // Pointer: normalised coordinates land on the matching pixel.
    let (conn, root) = x.connect();
    let (px, py) = (500u32, 100u32);
    let to_norm = |v: u32, len: u16| (v * u32::from(COORD_MAX) / (u32::from(len) - 1)) as u16;
    viewer
        .send_input(&InputEvent::PointerMove {
            display: 0,
            x: to_norm(px, w),
            y: to_norm(py, h),
        })
        .await;
    until(
        "pointer position",
        || {
            let p = conn.query_pointer(root).unwrap().reply().unwrap();
            (p.root_x, p.root_y)
        },
        |p| *p == (px as i16, py as i16),
    )
    .await;

    // Keys: Shift and A go down by physical position...
    let usage = |code: &str| keymap::usage_from_code(code).unwrap();
    for code in ["ShiftLeft", "KeyA"] {
        viewer
            .send_input(&InputEvent::KeyDown { usage: usage(code) })
            .await;
    }
    let down = until("keys down", || keys_down(&conn), |k| k.len() == 2).await;
    assert!(down.contains(&50) && down.contains(&38), "{down:?}"); // Shift_L, a (evdev + 8)

    // Clipboard, supporter → agent: pasteable on the X server.
    let text = "from the supporter ✓";
    viewer
        .send_control(&Control::Clipboard { text: text.into() })
        .await;
    until("the X clipboard", || xclip_out(&x), |t| t == text).await;
    // Agent → supporter: a copy made on the X server reaches the viewer.
    xclip_in(&x, "copied on the agent");
    let got = tokio::time::timeout(
        WAIT,
        viewer.control_where(|c| matches!(c, Control::Clipboard { .. })),
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        Control::Clipboard {
            text: "copied on the agent".into()
        }
    );

    // ...and come back up when the viewer vanishes without releasing them.
    viewer.vanish().await;
    until("keys released", || keys_down(&conn), |k| k.is_empty()).await;
    line_containing(&mut out, "ended: the supporter's connection went away").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_flows_through_the_embedded_turn_server_when_both_sides_insist() {
    let x = Xvfb::start(320, 240);
    paint_quadrants(&x, 320, 240);
    let (mut viewer, _out, _guard) = start_loop(&x, true).await;
    tokio::time::timeout(WAIT, viewer.picture_where(shows_quadrants))
        .await
        .expect("a picture through TURN");
    let stats = tokio::time::timeout(
        WAIT,
        viewer.control_where(|c| matches!(c, Control::Stats(s) if s.path != Path::Unknown)),
    )
    .await
    .unwrap();
    let Control::Stats(s) = stats else {
        unreachable!()
    };
    assert_eq!(s.path, Path::Relay, "{s:?}");
}
