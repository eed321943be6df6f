//! X11 injection through XTEST on one connection of our own: one request per event and one
//! round trip to confirm it, where `enigo` first asks the X server for its input devices on
//! every event (a second round trip before the event is even sent, and the X server's device
//! list is not needed: XTEST ignores the device of core events). The pointer, buttons, wheel and
//! keys go this way; text, which needs keyboard remapping, still goes through `enigo`.

use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::xproto::{
    BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
    MOTION_NOTIFY_EVENT, Window,
};
use x11rb::protocol::xtest::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use tether_protocol::input::Button;

use super::super::enigo_backend::EnigoInjector;
use super::super::{InputInjector, keycode_for_usage};
use crate::error::{Error, Result};

/// The X injector: XTEST for events with a key or button, `enigo` for text.
pub struct XTestInjector {
    conn: RustConnection,
    root: Window,
    text: EnigoInjector,
}

impl XTestInjector {
    /// Connects to `display` (`None`: `$DISPLAY`); fails if it cannot, or if the X server has
    /// no XTEST.
    pub fn new(display: Option<&str>) -> Result<Self> {
        let no_display = |reason: String| Error::NoDisplay {
            display: display.map(str::to_owned),
            reason,
        };
        let (conn, screen) = x11rb::connect(display).map_err(|e| no_display(e.to_string()))?;
        let present = conn
            .extension_information(xtest::X11_EXTENSION_NAME)
            .map_err(|e| no_display(e.to_string()))?
            .is_some();
        if !present {
            return Err(no_display("the X server has no XTEST extension".into()));
        }
        let root = conn.setup().roots[screen].root;
        Ok(XTestInjector {
            conn,
            root,
            text: EnigoInjector::new(display)?,
        })
    }

    /// Sends fake events in order, then waits until the X server has applied them (so that
    /// what the caller does next, e.g. reading the pointer, sees them); an error the X server
    /// reported for any of them fails the call.
    fn fake(&self, events: &[(u8, u8, i16, i16)]) -> Result<()> {
        let failed = |e: &dyn std::fmt::Display| Error::Input(format!("XTEST: {e}"));
        for &(kind, detail, x, y) in events {
            // Time 0: now. Device 0: the core pointer or keyboard (XTEST ignores it for core events).
            self.conn
                .xtest_fake_input(kind, detail, 0, self.root, x, y, 0)
                .map_err(|e| failed(&e))?;
        }
        self.conn.sync().map_err(|e| failed(&e))?;
        // Errors of requests sent without waiting come as events; after the round trip, all
        // of these requests' have arrived. This connection asks for no other events.
        while let Some(event) = self.conn.poll_for_event().map_err(|e| failed(&e))? {
            if let x11rb::protocol::Event::Error(e) = event {
                return Err(failed(&format!("{:?} error", e.error_kind)));
            }
        }
        Ok(())
    }
}

/// The X button number of a mouse button.
fn button_number(button: Button) -> u8 {
    match button {
        Button::Left => 1,
        Button::Middle => 2,
        Button::Right => 3,
        Button::Back => 8,
        Button::Forward => 9,
    }
}

/// One press and release of a wheel button per detent: 4 up, 5 down, 6 left, 7 right.
fn wheel_clicks(dx: i32, dy: i32) -> Vec<(u8, u8, i16, i16)> {
    let axis = |n: i32, negative: u8, positive: u8| {
        let b = if n < 0 { negative } else { positive };
        (0..n.unsigned_abs()).flat_map(move |_| {
            [
                (BUTTON_PRESS_EVENT, b, 0, 0),
                (BUTTON_RELEASE_EVENT, b, 0, 0),
            ]
        })
    };
    axis(dy, 4, 5).chain(axis(dx, 6, 7)).collect()
}

impl InputInjector for XTestInjector {
    fn move_to(&mut self, x: i32, y: i32) -> Result<()> {
        let coord = |v: i32| i16::try_from(v.max(0)).unwrap_or(i16::MAX);
        self.fake(&[(MOTION_NOTIFY_EVENT, 0, coord(x), coord(y))])
    }

    fn button(&mut self, button: Button, down: bool) -> Result<()> {
        let kind = if down {
            BUTTON_PRESS_EVENT
        } else {
            BUTTON_RELEASE_EVENT
        };
        self.fake(&[(kind, button_number(button), 0, 0)])
    }

    fn wheel(&mut self, dx: i32, dy: i32) -> Result<()> {
        self.fake(&wheel_clicks(dx, dy))
    }

    fn key(&mut self, usage: u32, down: bool) -> Result<bool> {
        let Some(code) = keycode_for_usage(usage).and_then(|c| u8::try_from(c).ok()) else {
            return Ok(false);
        };
        let kind = if down {
            KEY_PRESS_EVENT
        } else {
            KEY_RELEASE_EVENT
        };
        self.fake(&[(kind, code, 0, 0)])?;
        Ok(true)
    }

    fn text(&mut self, text: &str) -> Result<()> {
        // Every event before this one has been applied (each waits for the X server), so the
        // text lands after them although it goes over enigo's own connection.
        self.text.text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_detents_become_clicks_of_the_right_buttons() {
        let buttons = |dx, dy| -> Vec<(u8, u8)> {
            wheel_clicks(dx, dy)
                .into_iter()
                .map(|(k, b, _, _)| (k, b))
                .collect()
        };
        let (p, r) = (BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT);
        assert_eq!(buttons(0, 2), [(p, 5), (r, 5), (p, 5), (r, 5)]);
        assert_eq!(buttons(0, -1), [(p, 4), (r, 4)]);
        assert_eq!(buttons(1, 0), [(p, 7), (r, 7)]);
        assert_eq!(buttons(-1, 1), [(p, 5), (r, 5), (p, 6), (r, 6)]);
        assert!(buttons(0, 0).is_empty());
    }

    #[test]
    fn every_button_has_its_x_number() {
        assert_eq!(button_number(Button::Left), 1);
        assert_eq!(button_number(Button::Middle), 2);
        assert_eq!(button_number(Button::Right), 3);
        assert_eq!(button_number(Button::Back), 8);
        assert_eq!(button_number(Button::Forward), 9);
    }
}
