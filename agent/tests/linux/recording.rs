//! What the agent records plays elsewhere: the session's own H.264 frames (openh264, as
//! streamed) cut into fragmented MP4, decoded by ffmpeg — every frame, at its time, in its
//! colours.

use std::process::Command;
use std::time::Duration;

use tether_agent::capture::Frame;
use tether_agent::encode::h264::H264Encoder;
use tether_agent::encode::{Encoder, Settings};
use tether_agent::recording::mp4::Fragmenter;

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

#[test]
fn the_streamed_h264_frames_cut_into_fragments_play_back_at_their_times() {
    let mut enc = H264Encoder::new(W, H, Settings::default()).unwrap();
    let mut mp4 = Fragmenter::new(W, H);
    let mut file = Vec::new();
    // A second each of red, green and blue, ten frames a second; a keyframe starts each
    // colour, and a fragment is cut there, as the recorder does.
    let colours = [[0, 0, 255], [0, 255, 0], [255, 0, 0]];
    let mut frames = 0;
    for (c, bgr) in colours.iter().enumerate() {
        if c > 0 {
            enc.request_keyframe();
        }
        for i in 0..10u64 {
            let at = Duration::from_millis(5_000 + c as u64 * 1000 + i * 100);
            let Some(out) = enc.encode(&solid(*bgr), at).unwrap() else {
                continue;
            };
            if file.is_empty() {
                assert!(out.keyframe, "the stream starts at a keyframe");
                file.extend(mp4.header(&out.data).unwrap());
            }
            if out.keyframe
                && let Some(fragment) = mp4.cut().unwrap()
            {
                file.extend(fragment);
            }
            mp4.push(&out.data, at, out.keyframe);
            frames += 1;
        }
    }
    file.extend(mp4.finish(Duration::from_millis(8_000)).unwrap().unwrap());
    assert_eq!(frames, 30, "openh264 skipped frames");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recording.mp4");
    std::fs::write(&path, &file).unwrap();
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
