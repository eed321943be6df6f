//! Remote input: an [`InputInjector`] per OS, and [`InputSession`], which turns the protocol's
//! input events into injector calls for one session.
//!
//! The session is where the safety rules live, whatever the OS:
//! * a view-only session injects nothing — enforced here, not trusted to the viewer;
//! * every key and button pressed for the session is tracked and released when the session ends,
//!   the channel closes, the viewer sends `release_all`, or the session is dropped — no stuck keys;
//! * a key-up for a key this session did not press is ignored, so a viewer cannot release keys
//!   the local user is holding.

mod enigo_backend;
mod platform;
mod worker;

use std::collections::BTreeSet;

use tether_protocol::input::{Button, COORD_MAX, InputEvent, WHEEL_DETENT};

pub use enigo_backend::EnigoInjector;
pub use platform::{NativeInjector, keycode_for_usage, release_held};
pub use worker::InputWorker;

use crate::capture::DisplayInfo;
use crate::error::Result;

/// Injects input into the local session. Coordinates are virtual-desktop pixels; keys are
/// physical (USB HID usages).
pub trait InputInjector {
    /// Moves the pointer to an absolute position.
    fn move_to(&mut self, x: i32, y: i32) -> Result<()>;
    /// Presses or releases a mouse button.
    fn button(&mut self, button: Button, down: bool) -> Result<()>;
    /// Scrolls by whole detents (positive: right / down).
    fn wheel(&mut self, dx: i32, dy: i32) -> Result<()>;
    /// Presses or releases the key at a physical position; `Ok(false)` if this OS has no key
    /// for that usage.
    fn key(&mut self, usage: u32, down: bool) -> Result<bool>;
    /// Types text (characters without a key, IME results).
    fn text(&mut self, text: &str) -> Result<()>;
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was injected.
    Injected,
    /// The session is view-only.
    ViewOnly,
    /// Nothing to do (a release of something not held, a key with no mapping, a zero wheel).
    Ignored,
}

/// One session's input state over an injector.
pub struct InputSession<I: InputInjector> {
    injector: I,
    displays: Vec<DisplayInfo>,
    control: bool,
    keys: Vec<u32>,
    buttons: BTreeSet<Button>,
    wheel_rest: (i32, i32),
}

impl<I: InputInjector> InputSession<I> {
    /// A session over `injector` for `displays`; `control` false means view-only.
    pub fn new(injector: I, displays: Vec<DisplayInfo>, control: bool) -> Self {
        InputSession {
            injector,
            displays,
            control,
            keys: Vec::new(),
            buttons: BTreeSet::new(),
            wheel_rest: (0, 0),
        }
    }

    /// Whether the session may inject.
    pub fn is_control(&self) -> bool {
        self.control
    }

    /// Switches between control and view-only; going view-only releases everything first.
    pub fn set_control(&mut self, control: bool) {
        if !control {
            self.release_all();
        }
        self.control = control;
    }

    /// Updates the display list (after a monitor change).
    pub fn set_displays(&mut self, displays: Vec<DisplayInfo>) {
        self.displays = displays;
    }

    /// Keys currently held by this session (HID usages, in press order).
    pub fn held_keys(&self) -> &[u32] {
        &self.keys
    }

    /// The injector (for tests and diagnostics).
    pub fn injector(&self) -> &I {
        &self.injector
    }

    /// Applies one event.
    pub fn handle(&mut self, event: &InputEvent) -> Result<Outcome> {
        if !self.control {
            return Ok(Outcome::ViewOnly);
        }
        match *event {
            InputEvent::PointerMove { display, x, y } => {
                let Some(d) = self.displays.get(usize::from(display)) else {
                    return Ok(Outcome::Ignored);
                };
                let (px, py) = to_pixels(d, x, y);
                self.injector.move_to(px, py)?;
            }
            InputEvent::ButtonDown { button } => {
                self.injector.button(button, true)?;
                self.buttons.insert(button);
            }
            InputEvent::ButtonUp { button } => {
                if !self.buttons.remove(&button) {
                    return Ok(Outcome::Ignored);
                }
                self.injector.button(button, false)?;
            }
            InputEvent::Wheel { dx, dy } => {
                let detent = i32::from(WHEEL_DETENT);
                let (rx, ry) = (
                    self.wheel_rest.0 + i32::from(dx),
                    self.wheel_rest.1 + i32::from(dy),
                );
                let (nx, ny) = (rx / detent, ry / detent);
                self.wheel_rest = (rx % detent, ry % detent);
                if nx == 0 && ny == 0 {
                    return Ok(Outcome::Ignored);
                }
                self.injector.wheel(nx, ny)?;
            }
            InputEvent::KeyDown { usage } => {
                if !self.injector.key(usage, true)? {
                    return Ok(Outcome::Ignored);
                }
                if !self.keys.contains(&usage) {
                    self.keys.push(usage);
                }
            }
            InputEvent::KeyUp { usage } => {
                let Some(i) = self.keys.iter().position(|k| *k == usage) else {
                    return Ok(Outcome::Ignored);
                };
                self.keys.remove(i);
                self.injector.key(usage, false)?;
            }
            InputEvent::Text { ref text } => self.injector.text(text)?,
            InputEvent::ReleaseAll => self.release_all(),
        }
        Ok(Outcome::Injected)
    }

    /// Releases every key (last pressed first) and button this session holds. Failures are
    /// logged and the rest still released: a stuck key is worse than a logged error.
    pub fn release_all(&mut self) {
        while let Some(usage) = self.keys.pop() {
            if let Err(e) = self.injector.key(usage, false) {
                tracing::warn!(usage, error = %e, "releasing a key failed");
            }
        }
        for b in std::mem::take(&mut self.buttons) {
            if let Err(e) = self.injector.button(b, false) {
                tracing::warn!(?b, error = %e, "releasing a button failed");
            }
        }
        self.wheel_rest = (0, 0);
    }
}

impl<I: InputInjector> Drop for InputSession<I> {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Maps normalised coordinates (0..=65535) onto a display's pixels: 0 is the first pixel,
/// 65535 the last.
pub fn to_pixels(d: &DisplayInfo, x: u16, y: u16) -> (i32, i32) {
    let scale = |v: u16, len: u32| -> i32 {
        let last = u64::from(len.saturating_sub(1));
        ((u64::from(v) * last + u64::from(COORD_MAX) / 2) / u64::from(COORD_MAX)) as i32
    };
    (d.x + scale(x, d.width), d.y + scale(y, d.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
    }

    impl InputInjector for Recorder {
        fn move_to(&mut self, x: i32, y: i32) -> Result<()> {
            self.calls.push(format!("move {x},{y}"));
            Ok(())
        }
        fn button(&mut self, b: Button, down: bool) -> Result<()> {
            self.calls.push(format!("button {b:?} {down}"));
            Ok(())
        }
        fn wheel(&mut self, dx: i32, dy: i32) -> Result<()> {
            self.calls.push(format!("wheel {dx},{dy}"));
            Ok(())
        }
        fn key(&mut self, usage: u32, down: bool) -> Result<bool> {
            self.calls.push(format!("key {usage:#x} {down}"));
            Ok(usage != 0xdead)
        }
        fn text(&mut self, text: &str) -> Result<()> {
            self.calls.push(format!("text {text}"));
            Ok(())
        }
    }

    fn displays() -> Vec<DisplayInfo> {
        vec![
            DisplayInfo {
                index: 0,
                name: "a".into(),
                x: 0,
                y: 0,
                width: 1920,
                height: 1080,
                scale_percent: 100,
                primary: true,
            },
            DisplayInfo {
                index: 1,
                name: "b".into(),
                x: 1920,
                y: 0,
                width: 1280,
                height: 1024,
                scale_percent: 100,
                primary: false,
            },
        ]
    }

    #[test]
    fn coordinates_map_edges_to_edge_pixels_with_offsets() {
        let d = displays();
        assert_eq!(to_pixels(&d[0], 0, 0), (0, 0));
        assert_eq!(to_pixels(&d[0], 65535, 65535), (1919, 1079));
        assert_eq!(to_pixels(&d[1], 0, 0), (1920, 0));
        assert_eq!(to_pixels(&d[1], 65535, 32768), (3199, 512));
    }

    #[test]
    fn held_keys_and_buttons_are_released_on_drop_in_reverse_order() {
        let mut s = InputSession::new(Recorder::default(), displays(), true);
        for e in [
            InputEvent::KeyDown { usage: 0x700e1 },
            InputEvent::KeyDown { usage: 0x70004 },
            InputEvent::ButtonDown {
                button: Button::Left,
            },
        ] {
            assert_eq!(s.handle(&e).unwrap(), Outcome::Injected);
        }
        s.release_all();
        let calls = &s.injector().calls;
        assert_eq!(
            calls[3..],
            [
                "key 0x70004 false",
                "key 0x700e1 false",
                "button Left false"
            ]
        );
        assert!(s.held_keys().is_empty());
    }

    #[test]
    fn view_only_injects_nothing() {
        let mut s = InputSession::new(Recorder::default(), displays(), false);
        for e in [
            InputEvent::PointerMove {
                display: 0,
                x: 1,
                y: 1,
            },
            InputEvent::KeyDown { usage: 0x70004 },
            InputEvent::Text { text: "x".into() },
        ] {
            assert_eq!(s.handle(&e).unwrap(), Outcome::ViewOnly);
        }
        assert!(s.injector().calls.is_empty());
    }

    #[test]
    fn switching_to_view_only_releases_first() {
        let mut s = InputSession::new(Recorder::default(), displays(), true);
        s.handle(&InputEvent::KeyDown { usage: 0x70004 }).unwrap();
        s.set_control(false);
        assert_eq!(s.injector().calls.last().unwrap(), "key 0x70004 false");
        assert_eq!(
            s.handle(&InputEvent::KeyDown { usage: 0x70004 }).unwrap(),
            Outcome::ViewOnly
        );
    }

    #[test]
    fn releases_of_unheld_keys_and_unknown_displays_are_ignored() {
        let mut s = InputSession::new(Recorder::default(), displays(), true);
        assert_eq!(
            s.handle(&InputEvent::KeyUp { usage: 0x70004 }).unwrap(),
            Outcome::Ignored
        );
        assert_eq!(
            s.handle(&InputEvent::ButtonUp {
                button: Button::Left
            })
            .unwrap(),
            Outcome::Ignored
        );
        assert_eq!(
            s.handle(&InputEvent::PointerMove {
                display: 9,
                x: 0,
                y: 0
            })
            .unwrap(),
            Outcome::Ignored
        );
        assert_eq!(
            s.handle(&InputEvent::KeyDown { usage: 0xdead }).unwrap(),
            Outcome::Ignored
        );
        assert!(s.held_keys().is_empty());
        assert_eq!(s.injector().calls, ["key 0xdead true"]);
    }

    #[test]
    fn wheel_accumulates_fractions_into_detents() {
        let mut s = InputSession::new(Recorder::default(), displays(), true);
        assert_eq!(
            s.handle(&InputEvent::Wheel { dx: 0, dy: 60 }).unwrap(),
            Outcome::Ignored
        );
        assert_eq!(
            s.handle(&InputEvent::Wheel { dx: 0, dy: 60 }).unwrap(),
            Outcome::Injected
        );
        assert_eq!(
            s.handle(&InputEvent::Wheel { dx: -240, dy: 0 }).unwrap(),
            Outcome::Injected
        );
        assert_eq!(s.injector().calls, ["wheel 0,1", "wheel -2,0"]);
    }
}
