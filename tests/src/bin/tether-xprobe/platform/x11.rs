//! Covers the screen with the scene and reports events (see the binary's docs).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::*;
use x11rb::wrapper::ConnectionExt as _;

use super::Error;

/// The scene: the same quadrant colours the Rust end-to-end test paints.
pub const QUADRANTS: [u32; 4] = [0xd02020, 0x20c040, 0x3040e0, 0xf0e030];

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

struct Keymap {
    min: u8,
    per: usize,
    syms: Vec<u32>,
}

impl Keymap {
    fn load(conn: &impl Connection) -> Result<Keymap, Error> {
        let setup = conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let r = conn.get_keyboard_mapping(min, max - min + 1)?.reply()?;
        Ok(Keymap {
            min,
            per: usize::from(r.keysyms_per_keycode),
            syms: r.keysyms,
        })
    }

    /// The keysym of `keycode` with or without Shift (the first two columns).
    fn keysym(&self, keycode: u8, shift: bool) -> u32 {
        let base = usize::from(keycode.saturating_sub(self.min)) * self.per;
        let lower = self.syms.get(base).copied().unwrap_or(0);
        let upper = self.syms.get(base + 1).copied().unwrap_or(0);
        if shift && upper != 0 { upper } else { lower }
    }
}

/// The character a keysym types, for Latin-1 and Unicode keysyms.
fn text_of(keysym: u32) -> Option<char> {
    match keysym {
        0x20..=0x7e | 0xa0..=0xff => char::from_u32(keysym),
        0x0100_0100..=0x0110_ffff => char::from_u32(keysym - 0x0100_0000),
        _ => None,
    }
}

fn emit(v: serde_json::Value) -> Result<(), Error> {
    // One lock per line: the painting thread writes here too.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}

/// Adds `n` RandR monitors side by side, of equal width, named `probe-1`… (a multi-monitor
/// machine on one Xvfb screen), in place of any earlier ones. The server's own monitor for its
/// output stays listed.
fn split_monitors(conn: &impl Connection, root: Window, n: u16) -> Result<(), Error> {
    use x11rb::protocol::randr::{ConnectionExt as _, MonitorInfo};
    let (w, h) = {
        let s = &conn.setup().roots[0];
        (s.width_in_pixels, s.height_in_pixels)
    };
    if n == 0 || w / n == 0 {
        return Err(format!("cannot split a {w}-pixel screen into {n} monitors").into());
    }
    for m in conn.randr_get_monitors(root, false)?.reply()?.monitors {
        conn.randr_delete_monitor(root, m.name)?;
    }
    for i in 0..n {
        let name = conn
            .intern_atom(false, format!("probe-{}", i + 1).as_bytes())?
            .reply()?
            .atom;
        let width = w / n;
        conn.randr_set_monitor(
            root,
            MonitorInfo {
                name,
                primary: i == 0,
                automatic: false,
                x: (i * width) as i16,
                y: 0,
                width,
                height: h,
                width_in_millimeters: u32::from(width) / 4,
                height_in_millimeters: u32::from(h) / 4,
                outputs: Vec::new(),
            },
        )?;
    }
    conn.sync()?;
    Ok(())
}

/// Serves orders from standard input on a connection of its own, so a test can change the
/// screen at a known moment: `fill ID X Y W H RRGGBB` paints a rectangle on the probe's window and
/// answers `{"event":"painted","id":ID,"t_us":…}` once the X server has drawn it; `monitors N`
/// splits the screen into N RandR monitors side by side and answers `{"event":"monitors","n":N}`.
fn serve_paint_orders(win: Window) -> Result<(), Error> {
    let (conn, screen_num) = x11rb::connect(None)?;
    let root = conn.setup().roots[screen_num].root;
    let gc = conn.generate_id()?;
    conn.create_gc(gc, win, &CreateGCAux::new())?;
    for line in std::io::stdin().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["monitors", n] = words[..] {
            let n = n.parse()?;
            split_monitors(&conn, root, n)?;
            emit(serde_json::json!({"event": "monitors", "n": n}))?;
            continue;
        }
        let ["fill", id, x, y, w, h, rgb] = words[..] else {
            return Err(
                format!("unknown order {line:?} (fill ID X Y W H RRGGBB, or monitors N)").into(),
            );
        };
        let rect = Rectangle {
            x: x.parse()?,
            y: y.parse()?,
            width: w.parse()?,
            height: h.parse()?,
        };
        conn.change_gc(
            gc,
            &ChangeGCAux::new().foreground(u32::from_str_radix(rgb, 16)?),
        )?;
        conn.poly_fill_rectangle(win, gc, &[rect])?;
        // A round trip: the server has executed the request before it answers.
        conn.sync()?;
        emit(serde_json::json!({"event": "painted", "id": id.parse::<u64>()?, "t_us": now_us()}))?;
    }
    Ok(())
}

pub fn run() -> Result<(), Error> {
    let (conn, screen_num) = x11rb::connect(None)?;
    let screen = &conn.setup().roots[screen_num];
    let (w, h) = (screen.width_in_pixels, screen.height_in_pixels);
    let win = conn.generate_id()?;
    let mask = EventMask::EXPOSURE
        | EventMask::BUTTON_PRESS
        | EventMask::BUTTON_RELEASE
        | EventMask::POINTER_MOTION
        | EventMask::KEY_PRESS
        | EventMask::KEY_RELEASE;
    conn.create_window(
        screen.root_depth,
        win,
        screen.root,
        0,
        0,
        w,
        h,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .override_redirect(1)
            .background_pixel(screen.black_pixel)
            .event_mask(mask),
    )?;
    let gc = conn.generate_id()?;
    conn.create_gc(gc, win, &CreateGCAux::new())?;
    conn.map_window(win)?;
    conn.sync()?;
    let mut keymap = Keymap::load(&conn)?;
    let mut ready = false;
    loop {
        let event = conn.wait_for_event()?;
        let t_us = now_us();
        match event {
            Event::Expose(e) if e.count == 0 => {
                for (i, pixel) in QUADRANTS.iter().enumerate() {
                    conn.change_gc(gc, &ChangeGCAux::new().foreground(*pixel))?;
                    let r = Rectangle {
                        x: (i % 2) as i16 * (w / 2) as i16,
                        y: (i / 2) as i16 * (h / 2) as i16,
                        width: w / 2,
                        height: h / 2,
                    };
                    conn.poly_fill_rectangle(win, gc, &[r])?;
                }
                if !ready {
                    conn.set_input_focus(InputFocus::POINTER_ROOT, win, x11rb::CURRENT_TIME)?;
                }
                conn.sync()?;
                if !ready {
                    ready = true;
                    std::thread::spawn(move || {
                        if let Err(e) = serve_paint_orders(win) {
                            eprintln!("tether-xprobe: painting: {e}");
                            std::process::exit(1);
                        }
                    });
                    emit(serde_json::json!({"event": "ready", "width": w, "height": h}))?;
                }
            }
            Event::MotionNotify(e) => emit(
                serde_json::json!({"event": "motion", "x": e.root_x, "y": e.root_y, "t_us": t_us}),
            )?,
            Event::ButtonPress(e) | Event::ButtonRelease(e) => {
                let kind = if e.response_type & 0x7f == BUTTON_PRESS_EVENT {
                    "button_press"
                } else {
                    "button_release"
                };
                emit(
                    serde_json::json!({"event": kind, "button": e.detail, "x": e.root_x, "y": e.root_y, "t_us": t_us}),
                )?;
            }
            Event::KeyPress(e) | Event::KeyRelease(e) => {
                let kind = if e.response_type & 0x7f == KEY_PRESS_EVENT {
                    "key_press"
                } else {
                    "key_release"
                };
                let shift = u16::from(e.state) & u16::from(KeyButMask::SHIFT) != 0;
                let keysym = keymap.keysym(e.detail, shift);
                emit(
                    serde_json::json!({"event": kind, "keycode": e.detail, "keysym": keysym,
                        "text": text_of(keysym).map(String::from), "t_us": t_us}),
                )?;
            }
            Event::MappingNotify(_) => keymap = Keymap::load(&conn)?,
            _ => {}
        }
    }
}
