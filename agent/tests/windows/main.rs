//! Windows input proven by what a window receives: a Win32 window covering the desktop records
//! the keyboard and mouse messages Windows delivers to it while the agent's own injector replays
//! protocol input, the same way a session does. Runs under Wine on an X display
//! (`scripts/cross.sh test`); on Windows it runs as it is.
//!
//! What is asserted is what a Windows program sees: scan codes and the extended flag in
//! `WM_KEYDOWN`'s `lParam`, the virtual key the layout made of them, pointer positions in pixels,
//! which button and which wheel.
#![cfg(target_os = "windows")]

mod recorder;
mod worker;

use tether_agent::capture::{self, DisplayInfo};
use tether_agent::input::{InputInjector, InputSession, InputWorker, NativeInjector, release_held};
use tether_protocol::input::{Button, COORD_MAX, InputEvent};
use tether_protocol::keymap::usage_from_code;

use recorder::{Recorder, Seen};

fn displays() -> Vec<DisplayInfo> {
    capture::open(None)
        .expect("a capturer")
        .displays()
        .expect("the display list")
}

fn session() -> InputSession<NativeInjector> {
    InputSession::new(NativeInjector::new(None).unwrap(), displays(), true)
}

fn usage(code: &str) -> u32 {
    usage_from_code(code).unwrap_or_else(|| panic!("{code} is a protocol key"))
}

fn down(code: &str) -> InputEvent {
    InputEvent::KeyDown { usage: usage(code) }
}

fn up(code: &str) -> InputEvent {
    InputEvent::KeyUp { usage: usage(code) }
}

/// The key messages for `scan` in what was seen.
fn keys_with(seen: &[Seen], scan: u8) -> Vec<Seen> {
    seen.iter()
        .filter(|s| matches!(s, Seen::Key { scan: x, .. } if *x == scan))
        .cloned()
        .collect()
}

/// A press and a release of `scan` have arrived.
fn pressed_and_released(seen: &[Seen], scan: u8) -> bool {
    let keys = keys_with(seen, scan);
    keys.iter()
        .any(|k| matches!(k, Seen::Key { down: true, .. }))
        && keys
            .iter()
            .any(|k| matches!(k, Seen::Key { down: false, .. }))
}

/// Presses and releases the key at `code`'s position through the session; returns the key
/// messages for `scan` that the window received.
fn tap(rec: &Recorder, s: &mut InputSession<NativeInjector>, code: &str, scan: u8) -> Vec<Seen> {
    rec.clear();
    s.handle(&down(code)).unwrap();
    s.handle(&up(code)).unwrap();
    let seen = rec.until(&format!("{code} pressed and released"), |seen| {
        pressed_and_released(seen, scan)
    });
    keys_with(&seen, scan)
}

#[test]
fn keys_arrive_as_their_scan_codes_and_extended_keys_carry_the_flag() {
    let rec = Recorder::open();
    let mut s = session();
    // (key, set-1 scan code, extended)
    let keys = [
        ("KeyZ", 0x2C, false),
        ("Digit1", 0x02, false),
        ("Enter", 0x1C, false),
        ("NumpadEnter", 0x1C, true),
        ("ControlLeft", 0x1D, false),
        ("ControlRight", 0x1D, true),
        ("AltRight", 0x38, true),
        ("ArrowUp", 0x48, true),
        ("ArrowLeft", 0x4B, true),
        ("Numpad8", 0x48, false),
        ("Delete", 0x53, true),
        ("NumpadDecimal", 0x53, false),
        ("NumpadDivide", 0x35, true),
        ("MetaLeft", 0x5B, true),
        ("ContextMenu", 0x5D, true),
    ];
    for (code, scan, extended) in keys {
        for k in tap(&rec, &mut s, code, scan) {
            let Seen::Key { extended: e, .. } = k else {
                unreachable!()
            };
            assert_eq!(e, extended, "{code}: extended flag in {k:?}");
        }
    }
}

#[test]
fn the_z_position_is_z_whatever_the_layout() {
    let rec = Recorder::open();
    let mut s = session();
    // US: the key at the Z position is Z. French AZERTY: the same key types W, and the key at the
    // Q position types A. Windows makes the letter; the agent sends only the position.
    for (layout, z_vk, q_vk) in [("00000409", b'Z', b'Q'), ("0000040C", b'W', b'A')] {
        let (_layout, translates) = rec.layout(layout, q_vk);
        if !translates {
            eprintln!(
                "layout {layout}: LoadKeyboardLayoutW accepts it but MapVirtualKeyExW still \
                 translates with another table (Wine keeps its US one), so only the scan codes \
                 are checked under it, not the letters"
            );
        }
        for (code, scan, vk) in [("KeyZ", 0x2C, z_vk), ("KeyQ", 0x10, q_vk)] {
            for k in tap(&rec, &mut s, code, scan) {
                let Seen::Key { vk: got, .. } = k else {
                    unreachable!()
                };
                if translates {
                    assert_eq!(got, u16::from(vk), "{code} under layout {layout}: {k:?}");
                }
            }
        }
    }
}

#[test]
fn text_without_a_key_arrives_as_characters() {
    let rec = Recorder::open();
    let mut s = session();
    let text = "é€😀";
    s.handle(&InputEvent::Text { text: text.into() }).unwrap();
    let want: Vec<u16> = text.encode_utf16().collect();
    let seen = rec.until("the characters", |seen| {
        seen.iter().filter(|s| matches!(s, Seen::Char(_))).count() >= want.len()
    });
    let chars: Vec<u16> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Char(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(chars, want);
}

#[test]
fn the_pointer_lands_on_the_pixel_and_buttons_and_wheel_arrive() {
    let rec = Recorder::open();
    let mut s = session();
    let d = displays().remove(0);
    let norm =
        |px: u32, len: u32| (u64::from(px) * u64::from(COORD_MAX) / u64::from(len - 1)) as u16;
    for (px, py) in [
        (0, 0),
        (d.width - 1, d.height - 1),
        (123, 45),
        (d.width / 2, 7),
    ] {
        rec.clear();
        s.handle(&InputEvent::PointerMove {
            display: 0,
            x: norm(px, d.width),
            y: norm(py, d.height),
        })
        .unwrap();
        let want = Seen::Move {
            x: d.x + px as i32,
            y: d.y + py as i32,
        };
        rec.until(&format!("a move to {px},{py}"), |seen| seen.contains(&want));
    }
    for (button, down, up) in [
        (Button::Left, Seen::LeftDown, Seen::LeftUp),
        (Button::Right, Seen::RightDown, Seen::RightUp),
        (Button::Middle, Seen::MiddleDown, Seen::MiddleUp),
        (Button::Back, Seen::XDown(1), Seen::XUp(1)),
        (Button::Forward, Seen::XDown(2), Seen::XUp(2)),
    ] {
        rec.clear();
        s.handle(&InputEvent::ButtonDown { button }).unwrap();
        s.handle(&InputEvent::ButtonUp { button }).unwrap();
        rec.until(&format!("{button:?} down and up"), |seen| {
            seen.contains(&down) && seen.contains(&up)
        });
    }
    rec.clear();
    // Protocol: positive is down and right. Windows: positive is up, and right.
    s.handle(&InputEvent::Wheel { dx: 0, dy: 240 }).unwrap();
    s.handle(&InputEvent::Wheel { dx: 120, dy: 0 }).unwrap();
    rec.until("a wheel down two detents and one to the right", |seen| {
        seen.contains(&Seen::Wheel {
            vertical: true,
            delta: -240,
        }) && seen.contains(&Seen::Wheel {
            vertical: false,
            delta: 120,
        })
    });
}

#[test]
fn held_keys_and_buttons_are_released_when_the_session_ends() {
    let rec = Recorder::open();
    let worker = InputWorker::start(|| NativeInjector::new(None), displays(), true).unwrap();
    worker.event(down("ShiftLeft"));
    worker.event(down("ArrowRight"));
    worker.event(InputEvent::ButtonDown {
        button: Button::Left,
    });
    rec.until("shift, an arrow and the left button held", |seen| {
        seen.contains(&Seen::LeftDown) && keys_with(seen, 0x2A).len() == 1
    });
    assert!(rec.key_is_down(0x10), "Windows sees Shift held");
    // The viewer vanishes: the session drops its input worker, nothing else.
    drop(worker);
    let seen = rec.until("everything released", |seen| {
        seen.contains(&Seen::LeftUp)
            && pressed_and_released(seen, 0x2A)
            && pressed_and_released(seen, 0x4D)
    });
    assert!(
        !rec.key_is_down(0x10),
        "Windows still sees Shift held: {seen:?}"
    );
}

#[test]
fn keys_and_buttons_a_dead_injector_left_down_are_released() {
    let rec = Recorder::open();
    let mut injector = NativeInjector::new(None).unwrap();
    injector.key(usage("ShiftLeft"), true).unwrap();
    injector.key(usage("ArrowUp"), true).unwrap();
    injector.button(Button::Left, true).unwrap();
    rec.until("shift, an arrow and the left button down", |seen| {
        seen.contains(&Seen::LeftDown)
            && keys_with(seen, 0x2A).len() == 1
            && keys_with(seen, 0x48).len() == 1
    });
    // The injector dies without releasing anything (a crashed session worker): nothing of it
    // is used again.
    let _ = injector;
    let released = release_held(None).unwrap();
    assert!(released >= 3, "released {released}");
    let seen = rec.until("everything released", |seen| {
        seen.contains(&Seen::LeftUp)
            && pressed_and_released(seen, 0x2A)
            && pressed_and_released(seen, 0x48)
    });
    for k in keys_with(&seen, 0x48) {
        assert!(
            matches!(k, Seen::Key { extended: true, .. }),
            "the arrow, not numpad 8: {k:?}"
        );
    }
    assert!(!rec.key_is_down(0x10), "Windows still sees Shift held");
    assert_eq!(release_held(None).unwrap(), 0, "nothing is left down");
}

#[test]
fn the_service_releases_what_a_dead_worker_left_down_through_a_helper_in_the_session() {
    let rec = Recorder::open();
    let mut injector = NativeInjector::new(None).unwrap();
    injector.key(usage("ControlRight"), true).unwrap();
    rec.until("right Ctrl down", |seen| keys_with(seen, 0x1D).len() == 1);
    // What the service does after its worker died: `tether-agent release-held` in the session.
    let mut session = 0;
    // SAFETY: a valid out pointer.
    unsafe {
        windows::Win32::System::RemoteDesktop::ProcessIdToSessionId(
            std::process::id(),
            &mut session,
        )
    }
    .unwrap();
    let user = tether_agent::machine::platform::WorkerUser {
        name: String::new(),
        uid: session,
        gid: 0,
        home: r"C:\".into(),
    };
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_tether-agent"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let released = runtime
        .block_on(tether_agent::machine::platform::release_held_for(
            &user, program,
        ))
        .unwrap();
    assert_eq!(released, 1);
    let seen = rec.until("right Ctrl released", |seen| {
        pressed_and_released(seen, 0x1D)
    });
    for k in keys_with(&seen, 0x1D) {
        assert!(
            matches!(k, Seen::Key { extended: true, .. }),
            "right, not left: {k:?}"
        );
    }
}
