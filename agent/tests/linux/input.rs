//! Real XTEST injection on Xvfb, checked by reading X state back (pointer position and buttons
//! with QueryPointer, held keys with QueryKeymap, key meaning with the keyboard mapping).

use tether_agent::capture;
use tether_agent::input::{InputSession, NativeInjector, Outcome};
use tether_protocol::input::{Button, InputEvent, WHEEL_DETENT};
use tether_protocol::keymap::usage_from_code;
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateWindowAux, EventMask, KeyButMask, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use tether_tests::x11::{Xvfb, keys_down};

fn session(x: &Xvfb, control: bool) -> InputSession<NativeInjector> {
    let displays = capture::open(Some(&x.display)).unwrap().displays().unwrap();
    InputSession::new(
        NativeInjector::new(Some(&x.display)).unwrap(),
        displays,
        control,
    )
}

fn pointer(conn: &RustConnection, root: u32) -> (i16, i16, KeyButMask) {
    let r = conn.query_pointer(root).unwrap().reply().unwrap();
    (r.root_x, r.root_y, r.mask)
}

fn key(code: &str) -> u32 {
    usage_from_code(code).unwrap()
}

#[test]
fn pointer_moves_and_clicks_land_where_asked() {
    let x = Xvfb::start(1280, 720);
    let (conn, root) = x.connect();
    let mut s = session(&x, true);
    s.handle(&InputEvent::PointerMove {
        display: 0,
        x: 32768,
        y: 16384,
    })
    .unwrap();
    let (px, py, _) = pointer(&conn, root);
    assert_eq!((px, py), (640, 180));
    s.handle(&InputEvent::PointerMove {
        display: 0,
        x: 65535,
        y: 65535,
    })
    .unwrap();
    assert_eq!(pointer(&conn, root).0, 1279);
    assert_eq!(pointer(&conn, root).1, 719);
    s.handle(&InputEvent::ButtonDown {
        button: Button::Left,
    })
    .unwrap();
    assert!(pointer(&conn, root).2.contains(KeyButMask::BUTTON1));
    s.handle(&InputEvent::ButtonUp {
        button: Button::Left,
    })
    .unwrap();
    assert!(!pointer(&conn, root).2.contains(KeyButMask::BUTTON1));
}

/// A window covering the screen that reports button presses and releases to `conn`.
fn button_window(conn: &RustConnection, root: u32, w: u16, h: u16) {
    let win = conn.generate_id().unwrap();
    let aux =
        CreateWindowAux::new().event_mask(EventMask::BUTTON_PRESS | EventMask::BUTTON_RELEASE);
    conn.create_window(
        0,
        win,
        root,
        0,
        0,
        w,
        h,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &aux,
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();
}

/// The buttons of the next `n` press/release events `conn` receives (press: positive).
fn button_events(conn: &RustConnection, n: usize) -> Vec<i16> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(std::time::Instant::now() < deadline, "only {out:?} arrived");
        match conn.poll_for_event().unwrap() {
            Some(Event::ButtonPress(e)) => out.push(i16::from(e.detail)),
            Some(Event::ButtonRelease(e)) => out.push(-i16::from(e.detail)),
            Some(_) => {}
            None => std::thread::sleep(std::time::Duration::from_millis(2)),
        }
    }
    out
}

#[test]
fn wheel_detents_and_side_buttons_arrive_as_x_button_events() {
    let x = Xvfb::start(640, 480);
    let (conn, root) = x.connect();
    button_window(&conn, root, 640, 480);
    let mut s = session(&x, true);
    let mut send = |e: InputEvent| s.handle(&e).unwrap();
    send(InputEvent::PointerMove {
        display: 0,
        x: 30000,
        y: 30000,
    });
    // Two detents down, one up, one right: X buttons 5, 5, 4, 7, each pressed and released.
    send(InputEvent::Wheel {
        dx: 0,
        dy: 2 * WHEEL_DETENT,
    });
    send(InputEvent::Wheel {
        dx: WHEEL_DETENT,
        dy: -WHEEL_DETENT,
    });
    // Half a detent: nothing yet.
    send(InputEvent::Wheel {
        dx: 0,
        dy: WHEEL_DETENT / 2,
    });
    send(InputEvent::ButtonDown {
        button: Button::Back,
    });
    send(InputEvent::ButtonUp {
        button: Button::Back,
    });
    assert_eq!(
        button_events(&conn, 10),
        [5, -5, 5, -5, 4, -4, 7, -7, 8, -8]
    );
}

#[test]
fn keys_go_down_by_position_with_modifiers_and_are_released_when_the_session_ends() {
    let x = Xvfb::start(640, 480);
    let (conn, _) = x.connect();
    let mut s = session(&x, true);
    for code in ["ShiftLeft", "ControlLeft", "KeyA"] {
        assert_eq!(
            s.handle(&InputEvent::KeyDown { usage: key(code) }).unwrap(),
            Outcome::Injected
        );
    }
    // evdev + 8: Shift_L 50, Control_L 37, a 38.
    assert_eq!(keys_down(&conn), [37, 38, 50]);
    s.handle(&InputEvent::ButtonDown {
        button: Button::Right,
    })
    .unwrap();
    // The viewer vanishes: the session is dropped with keys and a button held.
    drop(s);
    assert!(
        keys_down(&conn).is_empty(),
        "stuck keys: {:?}",
        keys_down(&conn)
    );
    let (_, root) = x.connect();
    assert!(!pointer(&conn, root).2.contains(KeyButMask::BUTTON3));
}

#[test]
fn release_all_releases_everything_held() {
    let x = Xvfb::start(640, 480);
    let (conn, _) = x.connect();
    let mut s = session(&x, true);
    s.handle(&InputEvent::KeyDown {
        usage: key("AltLeft"),
    })
    .unwrap();
    s.handle(&InputEvent::KeyDown { usage: key("Tab") })
        .unwrap();
    assert_eq!(keys_down(&conn).len(), 2);
    s.handle(&InputEvent::ReleaseAll).unwrap();
    assert!(keys_down(&conn).is_empty());
}

#[test]
fn the_physical_key_holds_on_a_german_layout() {
    let x = Xvfb::start(640, 480);
    x.run("setxkbmap", &["-display", &x.display, "de"]);
    let (conn, _) = x.connect();
    let mut s = session(&x, true);
    // The supporter presses the key at the US "Z" position; on a German layout that key is "y".
    s.handle(&InputEvent::KeyDown { usage: key("KeyZ") })
        .unwrap();
    assert_eq!(keys_down(&conn), [52]);
    let min = conn.setup().min_keycode;
    let map = conn.get_keyboard_mapping(52, 1).unwrap().reply().unwrap();
    assert!(52 >= min);
    assert_eq!(
        map.keysyms[0],
        u32::from(b'y'),
        "keycode 52 is 'y' on the German layout"
    );
    s.handle(&InputEvent::KeyUp { usage: key("KeyZ") }).unwrap();
    assert!(keys_down(&conn).is_empty());
}

#[test]
fn view_only_injects_nothing() {
    let x = Xvfb::start(640, 480);
    let (conn, root) = x.connect();
    let before = pointer(&conn, root);
    let mut s = session(&x, false);
    for e in [
        InputEvent::PointerMove {
            display: 0,
            x: 60000,
            y: 60000,
        },
        InputEvent::ButtonDown {
            button: Button::Left,
        },
        InputEvent::KeyDown { usage: key("KeyA") },
    ] {
        assert_eq!(s.handle(&e).unwrap(), Outcome::ViewOnly);
    }
    assert_eq!(pointer(&conn, root), before);
    assert!(keys_down(&conn).is_empty());
}
