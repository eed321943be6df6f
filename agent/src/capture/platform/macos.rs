//! macOS capture through scrap's portable API (Quartz).
//!
//! # Platform-specific behavior
//! scrap reports size but not position here, so displays are laid out left to right; the input
//! layer uses the same list. On macOS the app needs the Screen Recording permission.

use scrap::{Capturer as ScrapCapturer, Display};

use crate::capture::{Capturer, DisplayInfo, Frame};
use crate::error::{Error, Result};

struct DesktopCapturer {
    capturers: Vec<Option<ScrapCapturer>>,
    infos: Vec<DisplayInfo>,
}

/// Opens the capturer; `display` is ignored (there is one desktop session).
fn open(_display: Option<&str>) -> Result<Box<dyn Capturer>> {
    let displays = Display::all().map_err(|e| Error::NoDisplay {
        display: None,
        reason: e.to_string(),
    })?;
    let mut infos = Vec::new();
    let mut x = 0;
    for (index, d) in displays.iter().enumerate() {
        let (w, h) = (d.width() as u32, d.height() as u32);
        infos.push(DisplayInfo {
            index,
            name: format!("display {}", index + 1),
            x,
            y: 0,
            width: w,
            height: h,
            scale_percent: 100,
            primary: index == 0,
        });
        x += w as i32;
    }
    Ok(Box::new(DesktopCapturer {
        capturers: (0..infos.len()).map(|_| None).collect(),
        infos,
    }))
}

impl Capturer for DesktopCapturer {
    fn displays(&mut self) -> Result<Vec<DisplayInfo>> {
        Ok(self.infos.clone())
    }

    fn capture(&mut self, index: usize, frame: &mut Frame) -> Result<()> {
        let info = self
            .infos
            .get(index)
            .ok_or(Error::UnknownDisplay(index))?
            .clone();
        let slot = &mut self.capturers[index];
        if slot.is_none() {
            let d = Display::all()
                .map_err(|e| Error::Capture(e.to_string()))?
                .into_iter()
                .nth(index)
                .ok_or(Error::UnknownDisplay(index))?;
            *slot = Some(ScrapCapturer::new(d).map_err(|e| Error::Capture(e.to_string()))?);
        }
        let c = slot.as_mut().expect("just set");
        loop {
            match c.frame() {
                Ok(buf) => {
                    let stride = buf.len() / info.height as usize;
                    frame.width = info.width;
                    frame.height = info.height;
                    frame.stride = stride;
                    frame.data.clear();
                    frame.data.extend_from_slice(&buf);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(2))
                }
                Err(e) => return Err(Error::Capture(e.to_string())),
            }
        }
    }
}

impl super::Screen for crate::platform::MacOs {
    fn open(display: Option<&str>) -> Result<Box<dyn Capturer>> {
        open(display)
    }
}
