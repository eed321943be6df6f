//! X11 capture: monitors from RandR (through x11rb), pixels through scrap's XShm capturer.
//!
//! # Platform-specific behavior
//! scrap's own monitor iterator reads a RandR reply after freeing it, so the monitor list comes
//! from x11rb and scrap is only handed rectangles. scrap's `frame()` reads the reply to a request
//! it queued at the end of the previous call, but xcb only flushes that request when the reply is
//! awaited, so the image is the screen as of the current call (a test moves a window and checks
//! the very next capture). That holds only while nothing else flushes the connection: each
//! display's capturer has an X connection of its own, because on a shared one, capturing one
//! display sent every other display's queued request, and switching back showed that display as
//! it was then, until it was drawn on again.
//!
//! A DAMAGE extension object on the root window tells which displays were drawn on since their
//! last capture, so a still screen is not captured at all. Without the extension every poll
//! captures, and tile comparison finds the changes.
//!
//! scrap creates its SysV shared-memory segment with mode 0777, which would let any local user
//! attach it and read the screen. [`restrict_segments`] sets every segment this process created
//! to 0600 right after the capturer is made (the owner — us — can still hand it to the X server).

use std::ffi::CString;
use std::rc::Rc;

use scrap::x11::{Capturer as ShmCapturer, Display as ShmDisplay, Rect, Server};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

use crate::capture::{Capturer, DisplayInfo, Frame};
use crate::error::{Error, Result};

struct X11Capturer {
    /// The display server's name (`None`: `$DISPLAY`), for each display's own connection.
    name: Option<CString>,
    root: u32,
    infos: Vec<DisplayInfo>,
    shm: Vec<Option<ShmCapturer>>,
    damage: Option<Damage>,
}

/// The root window's damage, split by display.
struct Damage {
    conn: RustConnection,
    id: damage::Damage,
    /// Per display: drawn on since its last capture.
    dirty: Vec<bool>,
}

impl Damage {
    /// Watches `root`; `None` if the server lacks the DAMAGE extension.
    fn watch(display: Option<&str>, root: u32, displays: usize) -> Option<Damage> {
        let (conn, _) = x11rb::connect(display).ok()?;
        conn.damage_query_version(1, 1).ok()?.reply().ok()?;
        let id = conn.generate_id().ok()?;
        // DELTA_RECTANGLES: an event for every area added to the region, so emptying the
        // region after reading events loses nothing (drawing before the subtract has its own
        // event on the way; drawing after it grows the region again).
        conn.damage_create(id, root, damage::ReportLevel::DELTA_RECTANGLES)
            .ok()?
            .check()
            .ok()?;
        Some(Damage {
            conn,
            id,
            dirty: vec![true; displays],
        })
    }

    /// Reads pending damage events and marks the displays they touch.
    fn drain(&mut self, infos: &[DisplayInfo]) {
        let mut any = false;
        while let Ok(Some(ev)) = self.conn.poll_for_event() {
            let Event::DamageNotify(n) = ev else { continue };
            any = true;
            let a = n.area;
            let (ax, ay) = (i32::from(a.x), i32::from(a.y));
            let (aw, ah) = (i32::from(a.width), i32::from(a.height));
            for (d, dirty) in infos.iter().zip(self.dirty.iter_mut()) {
                let (dw, dh) = (d.width as i32, d.height as i32);
                if ax < d.x + dw && d.x < ax + aw && ay < d.y + dh && d.y < ay + ah {
                    *dirty = true;
                }
            }
        }
        if any {
            // Keep the region small, so new drawing is always a delta with an event.
            let _ = self.conn.damage_subtract(self.id, x11rb::NONE, x11rb::NONE);
            let _ = self.conn.flush();
        }
    }
}

fn no_display(display: Option<&str>, reason: impl ToString) -> Error {
    Error::NoDisplay {
        display: display.map(str::to_owned),
        reason: reason.to_string(),
    }
}

/// Lists monitors with RandR; a screen without RandR monitors is one display.
fn monitors(display: Option<&str>) -> Result<(u32, Vec<DisplayInfo>)> {
    let (conn, screen) = x11rb::connect(display).map_err(|e| no_display(display, e))?;
    let s = &conn.setup().roots[screen];
    let root = s.root;
    let mut infos = Vec::new();
    let reply = conn
        .randr_get_monitors(root, true)
        .ok()
        .and_then(|c| c.reply().ok());
    for m in reply.map(|r| r.monitors).unwrap_or_default() {
        let name = conn
            .get_atom_name(m.name)
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|r| String::from_utf8_lossy(&r.name).into_owned())
            .unwrap_or_else(|| "monitor".into());
        infos.push(DisplayInfo {
            index: 0,
            name,
            x: m.x.into(),
            y: m.y.into(),
            width: m.width.into(),
            height: m.height.into(),
            scale_percent: 100,
            primary: m.primary,
        });
    }
    if infos.is_empty() {
        infos.push(DisplayInfo {
            index: 0,
            name: "screen".into(),
            x: 0,
            y: 0,
            width: s.width_in_pixels.into(),
            height: s.height_in_pixels.into(),
            scale_percent: 100,
            primary: true,
        });
    }
    // Primary first, then left to right, top to bottom: a stable order the viewer can rely on.
    infos.sort_by_key(|d| (!d.primary, d.x, d.y));
    for (i, d) in infos.iter_mut().enumerate() {
        d.index = i;
    }
    Ok((root, infos))
}

/// Opens an X11 capturer on `display` (`None`: `$DISPLAY`).
fn open(display: Option<&str>) -> Result<Box<dyn Capturer>> {
    let (root, infos) = monitors(display)?;
    let name = display
        .map(|d| CString::new(d).map_err(|e| no_display(Some(d), e)))
        .transpose()?;
    let shm = (0..infos.len()).map(|_| None).collect();
    let damage = Damage::watch(display, root, infos.len());
    if damage.is_none() {
        tracing::info!("no DAMAGE extension: every poll captures the screen");
    }
    Ok(Box::new(X11Capturer {
        name,
        root,
        infos,
        shm,
        damage,
    }))
}

impl Capturer for X11Capturer {
    fn displays(&mut self) -> Result<Vec<DisplayInfo>> {
        Ok(self.infos.clone())
    }

    fn may_have_changed(&mut self, index: usize) -> bool {
        match self.damage.as_mut() {
            Some(d) => {
                d.drain(&self.infos);
                d.dirty.get(index).copied().unwrap_or(true)
            }
            None => true,
        }
    }

    fn capture(&mut self, index: usize, frame: &mut Frame) -> Result<()> {
        if let Some(d) = self.damage.as_mut() {
            // Events read before this capture are in its image; later ones mark it again.
            d.drain(&self.infos);
            if let Some(dirty) = d.dirty.get_mut(index) {
                *dirty = false;
            }
        }
        let info = self.infos.get(index).ok_or(Error::UnknownDisplay(index))?;
        let (w, h) = (info.width, info.height);
        let slot = &mut self.shm[index];
        if slot.is_none() {
            let rect = Rect {
                x: info.x as i16,
                y: info.y as i16,
                w: w as u16,
                h: h as u16,
            };
            // A connection of this display's own (see the module docs).
            let server =
                Server::connect(self.name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()))
                    .map_err(|e| Error::Capture(format!("connecting to the X server: {e:?}")))?;
            // SAFETY: `root` is the root window of the screen `server` is connected to, and
            // `rect` lies within it (it comes from RandR on the same server).
            let display =
                unsafe { ShmDisplay::new(Rc::new(server), info.primary, rect, self.root) };
            let capturer =
                ShmCapturer::new(display).map_err(|e| Error::Capture(format!("XShm: {e}")))?;
            restrict_segments()?;
            *slot = Some(capturer);
        }
        let shm = slot.as_mut().expect("just set");
        let buf = shm.frame();
        let stride = w as usize * 4;
        if buf.len() < stride * h as usize {
            return Err(Error::Capture(format!(
                "short frame: {} bytes for {w}x{h}",
                buf.len()
            )));
        }
        frame.width = w;
        frame.height = h;
        frame.stride = stride;
        frame.data.clear();
        frame.data.extend_from_slice(&buf[..stride * h as usize]);
        Ok(())
    }
}

/// Sets every SysV shared-memory segment created by this process to mode 0600.
fn restrict_segments() -> Result<()> {
    let table = std::fs::read_to_string("/proc/sysvipc/shm")
        .map_err(|e| Error::Capture(format!("/proc/sysvipc/shm: {e}")))?;
    let me = std::process::id().to_string();
    // Columns: key shmid perms size cpid lpid ...
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(id), Some(perms), Some(cpid)) = (cols.get(1), cols.get(2), cols.get(4)) else {
            continue;
        };
        if *cpid != me || *perms == "600" {
            continue;
        }
        let Ok(id) = id.parse::<libc::c_int>() else {
            continue;
        };
        // SAFETY: `ds` is a plain C struct that IPC_STAT fills in completely before IPC_SET reads
        // it back; `id` names a segment this process created (checked via cpid above).
        unsafe {
            let mut ds: libc::shmid_ds = std::mem::zeroed();
            if libc::shmctl(id, libc::IPC_STAT, &mut ds) != 0 {
                continue; // removed meanwhile
            }
            ds.shm_perm.mode = 0o600;
            if libc::shmctl(id, libc::IPC_SET, &mut ds) != 0 {
                return Err(Error::Capture(format!(
                    "restricting shared memory {id}: {}",
                    std::io::Error::last_os_error()
                )));
            }
        }
    }
    Ok(())
}

impl super::Screen for crate::platform::Linux {
    fn open(display: Option<&str>) -> Result<Box<dyn Capturer>> {
        open(display)
    }
}
