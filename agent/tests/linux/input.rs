//! Real XTEST injection on Xvfb, checked by reading X state back (pointer position and buttons
//! with QueryPointer, held keys with QueryKeymap, key meaning with the keyboard mapping).

use tether_agent::capture;
use tether_agent::input::{EnigoInjector, InputSession, Outcome};
use tether_protocol::input::{Button, InputEvent};
use tether_protocol::keymap::usage_from_code;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, KeyButMask};
use x11rb::rust_connection::RustConnection;

use tether_tests::x11::{Xvfb, keys_down};

fn session(x: &Xvfb, control: bool) -> InputSession<EnigoInjector> {
    let displays = capture::open(Some(&x.display)).unwrap().displays().unwrap();
    InputSession::new(
        EnigoInjector::new(Some(&x.display)).unwrap(),
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
