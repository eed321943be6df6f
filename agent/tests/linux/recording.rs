//! What the agent records plays elsewhere: the session's own H.264 frames (openh264, as
//! streamed) cut into fragmented MP4, decoded by ffmpeg — every frame, at its time, in its
//! colours.

use std::process::Command;
use std::time::Duration;

use tether_agent::capture::Frame;
use tether_agent::encode::h264::H264Encoder;
use tether_agent::encode::{Encoder, Settings};
use tether_agent::recording::mp4::Fragmenter;
use tether_agent::recording::upload::{Destination, Recorder, Uploaded};

use crate::support::{Acme, WAIT, code_of, line_containing, seed_technician, start_relay, until};

const W: u32 = 320;
const H: u32 = 240;

fn solid(bgr: [u8; 3]) -> Frame {
    let mut data = Vec::with_capacity((W * H * 4) as usize);
    for _ in 0..W * H {
        data.extend_from_slice(&[bgr[0], bgr[1], bgr[2], 255]);
    }
    Frame {
        width: W,
        height: H,
        stride: W as usize * 4,
        data,
    }
}

/// The RGB of the middle pixel of the frame at `t` seconds of `file`, decoded by ffmpeg.
fn colour_at(file: &std::path::Path, t: f64) -> [u8; 3] {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-ss", &t.to_string(), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg (scripts/install-deps.sh test)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let i = ((H / 2 * W + W / 2) * 3) as usize;
    [out.stdout[i], out.stdout[i + 1], out.stdout[i + 2]]
}

/// The relay's store in `dir`, Jane's account, and a recording of `session` she owns, started
/// as the relay starts one.
fn janes_recording(
    dir: &std::path::Path,
    session: &str,
) -> (
    std::sync::Arc<dyn tether_relay::store::Store>,
    tether_relay::store::UserRecord,
    tether_relay::recording::disk::Started,
) {
    let store = tether_relay::store::open(&tether_relay::Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    })
    .unwrap();
    let jane = store.user_for_login("jane@acme.example").unwrap().unwrap();
    let key = tether_relay::load_or_create_key(dir).unwrap();
    let started =
        tether_relay::recording::disk::Recordings::new(dir.join("recordings"), &key, store.clone())
            .start(
                jane.org_id,
                session,
                Some(jane.id),
                tether_relay::unix_millis(),
            )
            .unwrap();
    (store, jane, started)
}

/// Encodes `seconds` of a colour a second (red, green, blue, …), ten frames a second from
/// capture time 5 s, a keyframe at each colour; hands each frame to `record`. The frames made.
fn encode(seconds: u64, mut record: impl FnMut(&[u8], Duration, bool)) -> u32 {
    let mut enc = H264Encoder::new(W, H, Settings::default()).unwrap();
    let colours = [[0, 0, 255], [0, 255, 0], [255, 0, 0]];
    let mut frames = 0;
    for c in 0..seconds {
        if c > 0 {
            enc.request_keyframe();
        }
        for i in 0..10u64 {
            let at = Duration::from_millis(5_000 + c * 1000 + i * 100);
            let bgr = colours[c as usize % 3];
            if let Some(out) = enc.encode(&solid(bgr), at).unwrap() {
                record(&out.data, at, out.keyframe);
                frames += 1;
            }
        }
    }
    frames
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_session_reaches_the_relay_in_order_and_plays_from_there() {
    let acme = Acme::start().await;
    let (_, _, started) = janes_recording(acme.dir(), "s_recorded");
    let to = Destination {
        relay: format!("http://{}", acme.addr),
        ca_file: None,
        recording_id: started.id.clone(),
        upload_token: started.upload_token,
    };
    let (mut recorder, sending) = Recorder::start(to, W, H);
    // Seven seconds: fragments cut every two, the last at the end.
    let frames = encode(7, |data, at, key| {
        assert!(
            !recorder.frame(data, at, key).unwrap(),
            "the stream starts at a keyframe"
        );
    });
    assert_eq!(frames, 70);
    recorder
        .finish(Duration::from_millis(12_000), None)
        .unwrap();
    let Uploaded { segments, bytes } = sending.await.unwrap().unwrap();
    // The header, then fragments at 2, 4 and 6 s, and the last.
    assert_eq!(segments, 5, "{bytes} bytes");

    let rec = acme
        .api("GET", &format!("/api/v1/recordings/{}", started.id), None)
        .await;
    assert_eq!(rec["segment_count"], 5, "{rec}");
    assert_eq!(rec["bytes"], bytes);
    assert!(rec["sealed_at"].is_i64(), "ended and signed: {rec}");
    let video = tether_tests::request_bytes(
        acme.addr,
        "GET",
        &format!("/api/v1/recordings/{}/video", started.id),
        &[("Authorization", &format!("Bearer {}", acme.owner))],
        b"",
    )
    .await;
    assert_eq!(video.status, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("played.mp4");
    std::fs::write(&path, &video.bytes).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames:format=duration"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let said = String::from_utf8_lossy(&probe.stdout);
    assert!(said.contains("nb_read_frames=70"), "{said}");
    assert!(said.contains("duration=7.0"), "{said}");
    let near = |got: [u8; 3], want: [u8; 3]| got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 24);
    // Second 4 is green, second 5 blue (red, green, blue, red, …).
    for (t, rgb) in [(4.5, [0, 255, 0]), (5.5, [0, 0, 255])] {
        let got = colour_at(&path, t);
        assert!(near(got, rgb), "at {t} s: {got:?}, want {rgb:?}");
    }
}

#[test]
fn the_streamed_h264_frames_cut_into_fragments_play_back_at_their_times() {
    let mut enc = H264Encoder::new(W, H, Settings::default()).unwrap();
    let mut cut = Cut::new(W, H);
    // A second each of red, green and blue, ten frames a second; a keyframe starts each
    // colour, and a fragment is cut there, as the recorder does.
    let colours = [[0, 0, 255], [0, 255, 0], [255, 0, 0]];
    for (c, bgr) in colours.iter().enumerate() {
        if c > 0 {
            enc.request_keyframe();
        }
        for i in 0..10u64 {
            let at = Duration::from_millis(5_000 + c as u64 * 1000 + i * 100);
            if let Some(out) = enc.encode(&solid(*bgr), at).unwrap() {
                cut.frame(&out.data, at, out.keyframe);
            }
        }
    }
    let (_dir, path) = cut.write(Duration::from_millis(8_000), 30);
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,codec_name,width,height:format=duration",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let said = String::from_utf8_lossy(&probe.stdout);
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    for want in [
        "codec_name=h264",
        "width=320",
        "height=240",
        "nb_read_frames=30",
        "duration=3.0",
    ] {
        assert!(said.contains(want), "{want} in {said}");
    }
    let near = |got: [u8; 3], want: [u8; 3]| got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 24);
    for (t, rgb) in [(0.5, [255, 0, 0]), (1.5, [0, 255, 0]), (2.5, [0, 0, 255])] {
        let got = colour_at(&path, t);
        assert!(near(got, rgb), "at {t} s: {got:?}, want {rgb:?}");
    }
}

/// Encoded frames cut into fragmented MP4 as the recorder cuts them: the header at the first
/// frame (a keyframe), a fragment at each keyframe after.
struct Cut {
    mp4: Fragmenter,
    file: Vec<u8>,
    frames: u32,
}

impl Cut {
    fn new(width: u32, height: u32) -> Cut {
        Cut {
            mp4: Fragmenter::new(width, height),
            file: Vec::new(),
            frames: 0,
        }
    }

    fn frame(&mut self, data: &[u8], at: Duration, keyframe: bool) {
        if self.file.is_empty() {
            assert!(keyframe, "the stream starts at a keyframe");
            self.file.extend(self.mp4.header(data).unwrap());
        }
        if keyframe && let Some(fragment) = self.mp4.cut().unwrap() {
            self.file.extend(fragment);
        }
        self.mp4.push(data, at, keyframe);
        self.frames += 1;
    }

    /// The file, ended at `end`, in a temporary folder (kept while the first value lives),
    /// once it holds the `frames` expected.
    fn write(mut self, end: Duration, frames: u32) -> (tempfile::TempDir, std::path::PathBuf) {
        assert_eq!(self.frames, frames, "openh264 skipped frames");
        self.file.extend(self.mp4.finish(end).unwrap().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recording.mp4");
        std::fs::write(&path, &self.file).unwrap();
        (dir, path)
    }
}

/// A frame of `w` × `h` in one colour.
fn solid_of(w: u32, h: u32, bgr: [u8; 3]) -> Frame {
    Frame {
        width: w,
        height: h,
        stride: w as usize * 4,
        data: [bgr[0], bgr[1], bgr[2], 255].repeat((w * h) as usize),
    }
}

#[test]
fn a_switch_to_a_display_of_another_size_mid_recording_plays_at_each_size() {
    // The supporter switches displays: the stream's encoder starts again at the new size with a
    // keyframe, whose SPS and PPS travel in band (avc3), in the same recording.
    let mut cut = Cut::new(W, H);
    for (c, (w, h, bgr)) in [(W, H, [0, 0, 255]), (2 * W, 2 * H, [0, 255, 0])]
        .into_iter()
        .enumerate()
    {
        let mut enc = H264Encoder::new(w, h, Settings::default()).unwrap();
        for i in 0..10u64 {
            let at = Duration::from_millis(5_000 + c as u64 * 1000 + i * 100);
            if let Some(out) = enc.encode(&solid_of(w, h, bgr), at).unwrap() {
                cut.frame(&out.data, at, out.keyframe);
            }
        }
    }
    let (_dir, path) = cut.write(Duration::from_millis(7_000), 20);
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=width,height", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let sizes: Vec<String> = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .map(|l| l.trim_end_matches(',').to_owned())
        .collect();
    let (small, large) = (format!("{W},{H}"), format!("{},{}", 2 * W, 2 * H));
    let want: Vec<String> = [vec![small; 10], vec![large; 10]].concat();
    assert_eq!(sizes, want, "every frame decoded, at its display's size");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_out_of_reach_for_a_while_gets_the_whole_recording_once_back() {
    let dir = tempfile::tempdir().unwrap();
    seed_technician(dir.path());
    let (store, jane, started) = janes_recording(dir.path(), "s_restart");
    let addr = tether_tests::free_addr();
    let to = Destination {
        relay: format!("http://{addr}"),
        ca_file: None,
        recording_id: started.id.clone(),
        upload_token: started.upload_token,
    };
    // The whole session is recorded while nothing answers at the relay's address…
    let (mut recorder, sending) = Recorder::start(to, W, H);
    let frames = encode(5, |data, at, key| {
        recorder.frame(data, at, key).unwrap();
    });
    recorder
        .finish(Duration::from_millis(10_000), None)
        .unwrap();
    assert!(!sending.is_finished(), "still trying");
    // …then the relay starts, and every piece arrives, in order, and the recording ends.
    let _relay = start_relay(dir.path(), addr).await;
    let up = sending.await.unwrap().unwrap();
    assert_eq!(
        up.segments, 4,
        "the header, fragments at 2 and 4 s, and the last"
    );
    let rec = store.recording(jane.org_id, &started.id).unwrap().unwrap();
    assert_eq!(rec.segment_count, 4);
    assert!(rec.sealed_at.is_some());
    assert_eq!(frames, 50);
}

/// A live session with the real agent on a 320×240 Xvfb of four quadrants, in an
/// organisation that records as `mode` says: the person is told `told` before being asked,
/// allows control, and the supporter sees the screen.
struct RecordedLoop {
    x: tether_tests::x11::Xvfb,
    dir: tempfile::TempDir,
    store: std::sync::Arc<dyn tether_relay::store::Store>,
    jane: tether_relay::store::UserRecord,
    addr: std::net::SocketAddr,
    token: String,
    viewer: tether_tests::viewer::Viewer,
    out: crate::support::Lines,
    _stdin: tokio::process::ChildStdin,
    _agent: tokio::process::Child,
    _relay: crate::support::Relay,
}

async fn recorded_loop(mode: tether_relay::store::RecordingMode, told: &str) -> RecordedLoop {
    use tether_relay::store::RecordingSettings;
    use tether_tests::viewer::{Viewer, ViewerOptions};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let x = tether_tests::x11::Xvfb::start(320, 240);
    crate::e2e::paint_quadrants(&x, 320, 240);
    let dir = tempfile::tempdir().unwrap();
    seed_technician(dir.path());
    let store = tether_relay::store::open(&tether_relay::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    })
    .unwrap();
    let jane = store.user_for_login("jane@acme.example").unwrap().unwrap();
    let settings = RecordingSettings {
        retention_days: 30,
        mode,
    };
    store
        .set_recording_settings(jane.org_id, &settings)
        .unwrap();
    let addr = tether_tests::free_addr();
    let relay = start_relay(dir.path(), addr).await;

    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_tether-agent"))
        .args([
            "share",
            "--relay",
            &format!("http://{addr}"),
            "--display",
            &x.display,
        ])
        .args(["--bind", "127.0.0.1:0"])
        .env("DISPLAY", &x.display)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = agent.stdin.take().unwrap();
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();
    let code = code_of(&line_containing(&mut out, "Your share code:").await);
    let token = tether_tests::token(addr, "jane@acme.example", "correct horse battery").await;
    let answer = async {
        // The person is told before being asked.
        line_containing(&mut out, told).await;
        line_containing(&mut out, "Allow?").await;
        stdin.write_all(b"c\n").await.unwrap();
    };
    let (viewer, ()) = tokio::join!(
        Viewer::connect(addr, &token, &code, ViewerOptions::default()),
        answer
    );
    let mut viewer = viewer.expect("consent was given");
    tokio::time::timeout(WAIT, viewer.picture_where(crate::e2e::shows_quadrants))
        .await
        .expect("the screen");
    RecordedLoop {
        x,
        dir,
        store,
        jane,
        addr,
        token,
        viewer,
        out,
        _stdin: stdin,
        _agent: agent,
        _relay: relay,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_that_records_gets_the_session_recorded_by_the_real_agent() {
    use tether_relay::store::RecordingMode;

    // Every field bound: the agent, relay and X server live as long as the test.
    let RecordedLoop {
        x: _x,
        dir,
        store,
        jane,
        addr,
        token,
        viewer,
        out: _out,
        _stdin,
        _agent,
        _relay,
    } = recorded_loop(RecordingMode::Always, "this one will be recorded").await;
    // The supporter leaves; the agent ends the recording and the relay seals it.
    drop(viewer);
    let sealed = until(
        "a sealed recording",
        || store.list_recordings(jane.org_id, 0).unwrap(),
        |list| list.first().is_some_and(|r| r.sealed_at.is_some()),
    )
    .await;
    let rec = &sealed[0];
    assert_eq!(rec.owner_id, Some(jane.id));
    assert!(rec.segment_count >= 2, "a header and a fragment: {rec:?}");

    let frame = first_frame(addr, &token, &rec.id, dir.path()).await;
    assert_eq!(frame.len(), 320 * 240 * 3, "a 320×240 frame");
    let i = (60 * 320 + 80) * 3;
    let got = [frame[i], frame[i + 1], frame[i + 2]];
    let want = [0xd0u8, 0x20, 0x20];
    assert!(
        got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 24),
        "the top-left quadrant: {got:?}"
    );
}

/// The first frame of recording `id` as the relay serves it, decoded by ffmpeg: RGB bytes.
async fn first_frame(
    addr: std::net::SocketAddr,
    token: &str,
    id: &str,
    dir: &std::path::Path,
) -> Vec<u8> {
    let video = tether_tests::request_bytes(
        addr,
        "GET",
        &format!("/api/v1/recordings/{id}/video"),
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
    .await;
    assert_eq!(video.status, 200);
    let file = dir.join(format!("{id}.mp4"));
    std::fs::write(&file, &video.bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&file)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_request_the_supporter_starts_and_stops_a_recording_the_person_is_told_of() {
    use tether_relay::store::RecordingMode;
    use tether_tests::viewer::ViewerEvent;

    // Told before being asked that the supporter may record.
    let RecordedLoop {
        x,
        dir,
        store,
        jane,
        addr,
        token,
        mut viewer,
        mut out,
        _stdin,
        _agent,
        _relay,
    } = recorded_loop(RecordingMode::OnRequest, "may record this session").await;
    assert!(viewer.session.may_record && !viewer.session.recorded);
    // Nothing is recorded until the supporter asks.
    assert!(store.list_recordings(jane.org_id, 0).unwrap().is_empty());

    viewer.record(true);
    let started = tokio::time::timeout(WAIT, viewer.event_where(is_recording))
        .await
        .expect("told");
    assert!(matches!(started, ViewerEvent::Recording(r) if r.recorded && r.recording.is_none()));
    line_containing(&mut out, "started recording this session").await;
    // The still screen is recorded from a keyframe asked for at the start, not the next change.
    let first = until(
        "the recording's first fragment",
        || store.list_recordings(jane.org_id, 0).unwrap(),
        |list| list.first().is_some_and(|r| r.segment_count >= 1),
    )
    .await;
    assert_eq!(first.len(), 1);
    // What the supporter does meanwhile goes into the recording's timeline: a click, and how
    // many keys (never which).
    use tether_protocol::input::{Button, InputEvent};
    use tether_protocol::keymap::usage_from_code;
    use tether_tests::x11::keys_down;
    let (a, s) = (
        usage_from_code("KeyA").unwrap(),
        usage_from_code("KeyS").unwrap(),
    );
    for ev in [
        InputEvent::ButtonDown {
            button: Button::Left,
        },
        InputEvent::ButtonUp {
            button: Button::Left,
        },
        InputEvent::KeyDown { usage: a },
        InputEvent::KeyDown { usage: s },
    ] {
        viewer.send_input(&ev).await;
    }
    // Both keys down at the X server: the agent has seen them, before the stop below.
    let (conn, _) = x.connect();
    until("two keys down", || keys_down(&conn), |k| k.len() == 2).await;
    for usage in [a, s] {
        viewer.send_input(&InputEvent::KeyUp { usage }).await;
    }
    until("keys released", || keys_down(&conn), |k| k.is_empty()).await;
    viewer.record(false);
    let stopped = tokio::time::timeout(WAIT, viewer.event_where(is_recording))
        .await
        .expect("told");
    assert!(matches!(stopped, ViewerEvent::Recording(r) if !r.recorded));
    line_containing(&mut out, "stopped recording this session").await;
    // Sealed while the session goes on.
    let sealed = until(
        "a sealed recording",
        || store.list_recordings(jane.org_id, 0).unwrap(),
        |list| list.first().is_some_and(|r| r.sealed_at.is_some()),
    )
    .await;
    let rec = &sealed[0];
    assert_eq!(rec.owner_id, Some(jane.id));
    assert_eq!(rec.session_id, viewer.session.session_id.as_str());
    let timeline = tether_tests::request_bytes(
        addr,
        "GET",
        &format!("/api/v1/recordings/{}/timeline", rec.id),
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
    .await;
    let timeline: serde_json::Value = serde_json::from_slice(&timeline.bytes).unwrap();
    let kinds: Vec<(&str, u64)> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(kinds, [("click", 0), ("keys", 2)], "{timeline}");
    let frame = first_frame(addr, &token, &rec.id, dir.path()).await;
    assert_eq!(frame.len(), 320 * 240 * 3, "a 320×240 frame");
    let i = (60 * 320 + 80) * 3;
    let got = [frame[i], frame[i + 1], frame[i + 2]];
    assert!(
        got.iter()
            .zip([0xd0u8, 0x20, 0x20])
            .all(|(g, w)| g.abs_diff(w) <= 24),
        "the top-left quadrant: {got:?}"
    );
    // The session is still live: a second recording is a second one.
    viewer.record(true);
    tokio::time::timeout(WAIT, viewer.event_where(is_recording))
        .await
        .expect("told");
    viewer.end();
    let both = until(
        "two sealed recordings",
        || store.list_recordings(jane.org_id, 0).unwrap(),
        |list| list.len() == 2 && list.iter().all(|r| r.sealed_at.is_some()),
    )
    .await;
    assert_ne!(both[0].id, both[1].id);
}

fn is_recording(e: &tether_tests::viewer::ViewerEvent) -> bool {
    matches!(e, tether_tests::viewer::ViewerEvent::Recording(_))
}
