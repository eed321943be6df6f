//! Linux: an X11 display that answers, with XTEST for input; a Wayland session is named as such
//! so the user learns to pick an Xorg session at sign-in.

use x11rb::connection::RequestConnection;

use super::super::Missing;
use crate::error::{Error, Result};

fn check(display: Option<&str>) -> Vec<Missing> {
    // An explicit display (the service, given the session's X server) is X11 by definition.
    // Otherwise, under Wayland $DISPLAY is XWayland, which shows only X11 programs' windows.
    if display.is_none() && std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t == "wayland") {
        return vec![Missing::WaylandSession];
    }
    let conn = match x11rb::connect(display) {
        Ok((conn, _)) => conn,
        Err(e) => {
            return vec![Missing::NoDisplay {
                reason: e.to_string(),
            }];
        }
    };
    match conn.extension_information(x11rb::protocol::xtest::X11_EXTENSION_NAME) {
        Ok(Some(_)) => Vec::new(),
        Ok(None) => vec![Missing::NoInputExtension],
        Err(e) => vec![Missing::NoDisplay {
            reason: e.to_string(),
        }],
    }
}

fn open_settings(_m: &Missing) -> Result<()> {
    Err(Error::Unsupported(
        "a settings page that grants this (Linux has none)",
    ))
}

impl super::Grants for crate::platform::Linux {
    fn check(display: Option<&str>) -> Vec<Missing> {
        check(display)
    }

    fn open_settings(missing: &Missing) -> Result<()> {
        open_settings(missing)
    }
}
