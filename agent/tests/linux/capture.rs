//! Real XShm capture on Xvfb: pixel-identical to ImageMagick's `import -window root`, right
//! damage for a moving window, and a clear error without a display.

use tether_agent::capture::damage::{DamageTracker, Rect};
use tether_agent::capture::{self, Frame};
use x11rb::COPY_DEPTH_FROM_PARENT;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::*;
use x11rb::wrapper::ConnectionExt as _;

use tether_tests::x11::Xvfb;

/// Paints a known scene on the root window: four coloured rectangles and a gradient row.
fn paint_scene(x: &Xvfb) {
    let (conn, root) = x.connect();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    for (i, color) in [0xff0000u32, 0x00ff00, 0x0000ff, 0xffff00]
        .into_iter()
        .enumerate()
    {
        conn.change_gc(gc, &ChangeGCAux::new().foreground(color))
            .unwrap();
        let r = Rectangle {
            x: 20 + i as i16 * 90,
            y: 30,
            width: 80,
            height: 60,
        };
        conn.poly_fill_rectangle(root, gc, &[r]).unwrap();
    }
    for i in 0..256u32 {
        conn.change_gc(
            gc,
            &ChangeGCAux::new().foreground(i << 16 | (255 - i) << 8 | (i / 2)),
        )
        .unwrap();
        conn.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x: i as i16,
                y: 120,
                width: 1,
                height: 8,
            }],
        )
        .unwrap();
    }
    conn.sync().unwrap();
}

#[test]
fn capture_matches_import_pixel_for_pixel() {
    let x = Xvfb::start(400, 200);
    paint_scene(&x);
    let mut cap = capture::open(Some(&x.display)).unwrap();
    let displays = cap.displays().unwrap();
    assert_eq!(displays.len(), 1);
    assert_eq!((displays[0].width, displays[0].height), (400, 200));
    let mut f = Frame::default();
    cap.capture(0, &mut f).unwrap();
    // Our frame is BGRA; import gives RGB.
    let rgb = x.run(
        "import",
        &[
            "-display", &x.display, "-window", "root", "-depth", "8", "rgb:-",
        ],
    );
    assert_eq!(rgb.len(), 400 * 200 * 3);
    let mut mismatches = 0;
    for y in 0..200u32 {
        for xx in 0..400u32 {
            let [b, g, r, _] = f.pixel(xx, y);
            let i = (y * 400 + xx) as usize * 3;
            if [r, g, b] != rgb[i..i + 3] {
                mismatches += 1;
            }
        }
    }
    assert_eq!(mismatches, 0);
    // And the scene is really there (not two blank screens agreeing).
    assert_eq!(f.pixel(30, 40)[..3], [0, 0, 255]); // red, as BGR
    assert_eq!(f.pixel(300, 40)[..3], [0, 255, 255]); // yellow
}

#[test]
fn capture_sees_changes_at_once_and_damage_follows_a_moving_window() {
    let x = Xvfb::start(640, 480);
    let (conn, root) = x.connect();
    let win = conn.generate_id().unwrap();
    let aux = CreateWindowAux::new()
        .background_pixel(0xffffff)
        .override_redirect(1);
    conn.create_window(
        COPY_DEPTH_FROM_PARENT,
        win,
        root,
        10,
        10,
        100,
        50,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &aux,
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();

    let mut cap = capture::open(Some(&x.display)).unwrap();
    let (mut f, mut d) = (Frame::default(), DamageTracker::new());
    cap.capture(0, &mut f).unwrap();
    assert_eq!(f.pixel(50, 30)[..3], [255, 255, 255], "window visible");
    d.update(&f);
    cap.capture(0, &mut f).unwrap();
    assert!(d.update(&f).is_empty(), "nothing moved, nothing damaged");

    conn.configure_window(win, &ConfigureWindowAux::new().x(300).y(200))
        .unwrap();
    conn.sync().unwrap();
    cap.capture(0, &mut f).unwrap();
    assert_eq!(
        f.pixel(350, 220)[..3],
        [255, 255, 255],
        "window at its new place in the very next capture"
    );
    assert_ne!(
        f.pixel(50, 30)[..3],
        [255, 255, 255],
        "and gone from the old one"
    );
    let rects = d.update(&f);
    // Old area 10..110 × 10..60 and new area 300..400 × 200..250, in 64-px tiles.
    let covers = |px: u32, py: u32| {
        rects
            .iter()
            .any(|r: &Rect| px >= r.x && px < r.x + r.w && py >= r.y && py < r.y + r.h)
    };
    for (px, py) in [(10, 10), (109, 59), (300, 200), (399, 249)] {
        assert!(covers(px, py), "({px},{py}) not in {rects:?}");
    }
    for (px, py) in [(200, 100), (500, 400), (10, 300)] {
        assert!(!covers(px, py), "({px},{py}) wrongly damaged: {rects:?}");
    }
}

#[test]
fn no_display_is_a_clear_error() {
    let err = capture::open(Some(":4321"))
        .err()
        .expect("no server on :4321");
    let text = err.to_string();
    assert!(
        text.contains("cannot reach the display server :4321"),
        "{text}"
    );
}

#[test]
fn the_shared_memory_segment_is_private_to_this_user() {
    let x = Xvfb::start(320, 200);
    paint_scene(&x);
    let mut cap = capture::open(Some(&x.display)).unwrap();
    let mut f = Frame::default();
    cap.capture(0, &mut f).unwrap();
    assert_eq!(
        f.pixel(30, 40)[..3],
        [0, 0, 255],
        "the X server still fills the segment"
    );
    let me = std::process::id().to_string();
    let table = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    let mine: Vec<(String, String)> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        // This test's segment: created by this process, sized for two 320x200 BGRA frames (no
        // other test captures at that size, and tests share the process).
        .filter(|c| c.get(4) == Some(&me) && c.get(3).map(String::as_str) == Some("512000"))
        .map(|c| (c[1].clone(), c[2].clone()))
        .collect();
    assert!(!mine.is_empty(), "no segment found for this process");
    for (id, perms) in mine {
        assert_eq!(perms, "600", "segment {id} is mode {perms}");
    }
}

#[test]
fn a_still_screen_reports_no_change_until_something_is_drawn() {
    let x = Xvfb::start(320, 240);
    let mut cap = capture::open(Some(&x.display)).unwrap();
    let mut f = Frame::default();
    assert!(cap.may_have_changed(0), "never captured yet");
    cap.capture(0, &mut f).unwrap();
    assert!(!cap.may_have_changed(0), "nothing drawn since the capture");

    paint_scene(&x);
    // The server sends the damage event asynchronously; wait for it, with a bound.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cap.may_have_changed(0) {
        assert!(std::time::Instant::now() < deadline, "no damage reported");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    cap.capture(0, &mut f).unwrap();
    assert!(!cap.may_have_changed(0), "the capture took the change in");
}

/// Splits the screen into two RandR monitors side by side, `left` and `right`.
fn two_monitors(x: &Xvfb, w: u16, h: u16) {
    use x11rb::protocol::randr::{ConnectionExt as _, MonitorInfo};
    let (conn, root) = x.connect();
    for (i, name) in ["left", "right"].into_iter().enumerate() {
        let name = conn
            .intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        conn.randr_set_monitor(
            root,
            MonitorInfo {
                name,
                primary: i == 0,
                automatic: false,
                x: i as i16 * (w / 2) as i16,
                y: 0,
                width: w / 2,
                height: h,
                width_in_millimeters: 100,
                height_in_millimeters: 100,
                outputs: Vec::new(),
            },
        )
        .unwrap();
    }
    conn.sync().unwrap();
}

#[test]
fn switching_displays_captures_the_screen_as_it_is_now() {
    let x = Xvfb::start(640, 240);
    two_monitors(&x, 640, 240);
    let mut cap = capture::open(Some(&x.display)).unwrap();
    let displays = cap.displays().unwrap();
    let index = |name: &str| displays.iter().position(|d| d.name == name).unwrap();
    let (left, right) = (index("left"), index("right"));
    assert_eq!((displays[right].x, displays[right].width), (320, 320));

    let (conn, root) = x.connect();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    let paint = |colour: u32| {
        conn.change_gc(gc, &ChangeGCAux::new().foreground(colour))
            .unwrap();
        let r = Rectangle {
            x: 100,
            y: 100,
            width: 40,
            height: 40,
        };
        conn.poly_fill_rectangle(root, gc, &[r]).unwrap();
        conn.sync().unwrap();
    };
    let mut f = Frame::default();
    // The left display, then the right one, then the left one again after drawing on it: the
    // picture must be the screen as it is, not as it was when the right one was captured.
    paint(0xff0000);
    cap.capture(left, &mut f).unwrap();
    assert_eq!(f.pixel(120, 120)[..3], [0, 0, 255], "red, as BGR");
    cap.capture(right, &mut f).unwrap();
    paint(0x00ff00);
    cap.capture(left, &mut f).unwrap();
    assert_eq!(f.pixel(120, 120)[..3], [0, 255, 0], "green now");
}
