//! X11: the banner is an override-redirect window across the top centre of the root window, red
//! with white text in the core `fixed` font, raised again every half second so other windows
//! cannot cover it. A thread of its own owns the connection; dropping the handle stops it and
//! the window goes with the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    AtomEnum, Char2b, ConfigureWindowAux, ConnectionExt as _, CreateGCAux, CreateWindowAux,
    EventMask, PropMode, StackMode, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use crate::error::{Error, Result};

const RED: u32 = 0x00b3_261e;
const WHITE: u32 = 0x00ff_ffff;
const HEIGHT: u16 = 24;
const PAD: u16 = 12;

/// Stops the banner's thread when dropped.
struct Handle {
    stop: Arc<AtomicBool>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The text as Latin-1 for the core font: other characters become `?`.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

pub(crate) fn open(display: Option<&str>, text: &str) -> Result<Box<dyn Send>> {
    let fail = |e: &dyn std::fmt::Display| Error::NoDisplay {
        display: display.map(str::to_owned),
        reason: e.to_string(),
    };
    let (conn, screen_num) = x11rb::connect(display).map_err(|e| fail(&e))?;
    let screen = conn.setup().roots[screen_num].clone();
    let bytes = latin1(text);
    let font = conn.generate_id().map_err(|e| fail(&e))?;
    conn.open_font(font, b"fixed").map_err(|e| fail(&e))?;
    let text_width = conn
        .query_text_extents(
            font,
            &bytes
                .iter()
                .map(|b| Char2b {
                    byte1: 0,
                    byte2: *b,
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| fail(&e))?
        .reply()
        .map(|r| u16::try_from(r.overall_width.max(0)).unwrap_or(u16::MAX))
        .unwrap_or(6 * u16::try_from(bytes.len()).unwrap_or(200));
    let width = text_width
        .saturating_add(2 * PAD)
        .min(screen.width_in_pixels);
    let x = i16::try_from((screen.width_in_pixels - width) / 2).unwrap_or(0);
    let win = conn.generate_id().map_err(|e| fail(&e))?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        screen.root,
        x,
        0,
        width,
        HEIGHT,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new()
            .background_pixel(RED)
            .override_redirect(1)
            .event_mask(EventMask::EXPOSURE),
    )
    .map_err(|e| fail(&e))?;
    conn.change_property8(
        PropMode::REPLACE,
        win,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        format!("{}: {text}", super::super::WINDOW_NAME).as_bytes(),
    )
    .map_err(|e| fail(&e))?;
    let gc = conn.generate_id().map_err(|e| fail(&e))?;
    conn.create_gc(
        gc,
        win,
        &CreateGCAux::new()
            .foreground(WHITE)
            .background(RED)
            .font(font),
    )
    .map_err(|e| fail(&e))?;
    conn.map_window(win).map_err(|e| fail(&e))?;
    conn.flush().map_err(|e| fail(&e))?;

    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let draw = move |conn: &RustConnection| {
        let _ = conn.image_text8(win, gc, i16::try_from(PAD).unwrap_or(0), 17, &bytes);
        let _ = conn.flush();
    };
    std::thread::Builder::new()
        .name("banner".into())
        .spawn(move || {
            draw(&conn);
            let mut ticks = 0u32;
            while !stopped.load(Ordering::Relaxed) {
                while let Ok(Some(ev)) = conn.poll_for_event() {
                    if matches!(ev, Event::Expose(_)) {
                        draw(&conn);
                    }
                }
                ticks += 1;
                if ticks.is_multiple_of(10) {
                    let above = ConfigureWindowAux::new().stack_mode(StackMode::ABOVE);
                    let _ = conn.configure_window(win, &above);
                    let _ = conn.flush();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = conn.destroy_window(win);
            let _ = conn.flush();
        })
        .map_err(|e| Error::Thread(e.to_string()))?;
    Ok(Box::new(Handle { stop }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_outside_latin1_is_replaced() {
        assert_eq!(super::latin1("Zoë → 東"), b"Zo\xeb ? ?".to_vec());
    }
}
