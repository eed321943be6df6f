//! The [`InputInjector`] on `enigo`: XTEST on X11 (x11rb backend) and CGEvent on macOS
//! (Windows has its own, `platform/send_input.rs`). Physical keys go through
//! [`keycode_for_usage`] and `enigo`'s raw key codes.

use enigo::{Axis, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use tether_protocol::input::Button;

use super::{InputInjector, keycode_for_usage};
use crate::error::{Error, Result};

/// Injects through `enigo`.
pub struct EnigoInjector {
    enigo: Enigo,
}

impl EnigoInjector {
    /// Connects to the display server (`display` names an X11 display; `None` = `$DISPLAY`).
    pub fn new(display: Option<&str>) -> Result<Self> {
        let settings = Settings {
            x11_display: display.map(str::to_owned),
            // Events are applied at once: enigo's default asks the X server to delay each by 12 ms.
            linux_delay: 0,
            release_keys_when_dropped: true,
            open_prompt_to_get_permissions: false,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings).map_err(|e| Error::NoDisplay {
            display: display.map(str::to_owned),
            reason: e.to_string(),
        })?;
        Ok(EnigoInjector { enigo })
    }
}

fn err(e: enigo::InputError) -> Error {
    Error::Input(e.to_string())
}

fn dir(down: bool) -> Direction {
    if down {
        Direction::Press
    } else {
        Direction::Release
    }
}

impl InputInjector for EnigoInjector {
    fn move_to(&mut self, x: i32, y: i32) -> Result<()> {
        self.enigo.move_mouse(x, y, Coordinate::Abs).map_err(err)
    }

    fn button(&mut self, button: Button, down: bool) -> Result<()> {
        let b = match button {
            Button::Left => enigo::Button::Left,
            Button::Middle => enigo::Button::Middle,
            Button::Right => enigo::Button::Right,
            Button::Back => enigo::Button::Back,
            Button::Forward => enigo::Button::Forward,
        };
        self.enigo.button(b, dir(down)).map_err(err)
    }

    fn wheel(&mut self, dx: i32, dy: i32) -> Result<()> {
        if dy != 0 {
            self.enigo.scroll(dy, Axis::Vertical).map_err(err)?;
        }
        if dx != 0 {
            self.enigo.scroll(dx, Axis::Horizontal).map_err(err)?;
        }
        Ok(())
    }

    fn key(&mut self, usage: u32, down: bool) -> Result<bool> {
        let Some(code) = keycode_for_usage(usage) else {
            return Ok(false);
        };
        self.enigo.raw(code, dir(down)).map_err(err)?;
        Ok(true)
    }

    fn text(&mut self, text: &str) -> Result<()> {
        self.enigo.text(text).map_err(err)
    }
}
