//! Windows capture: DXGI Desktop Duplication where the system offers it (the GPU hands over each
//! output's picture, and says when nothing changed), GDI `BitBlt` where it refuses: RDP
//! sessions, virtual machines without a display driver, the secure desktop, rotated outputs,
//! Wine. Which one serves each display is logged when it is opened.
//!
//! # Platform-specific behavior
//! The process declares itself per-monitor DPI aware before listing displays, so positions and
//! sizes are physical pixels everywhere: the list, the capture, and input (which uses the list).
//! A duplication lost to a desktop switch or a mode change is reopened at the next capture;
//! if that fails, the display falls back to GDI for the rest of the session.

use windows::Win32::Foundation::{HMODULE, LPARAM, RECT};
use windows::Win32::Graphics::Direct3D::D3D_DRIVER_TYPE_UNKNOWN;
use windows::Win32::Graphics::Direct3D11::{
    D3D11_CPU_ACCESS_READ, D3D11_CREATE_DEVICE_FLAG, D3D11_MAP_READ, D3D11_MAPPED_SUBRESOURCE,
    D3D11_SDK_VERSION, D3D11_TEXTURE2D_DESC, D3D11_USAGE_STAGING, D3D11CreateDevice, ID3D11Device,
    ID3D11DeviceContext, ID3D11Texture2D,
};
use windows::Win32::Graphics::Dxgi::Common::{
    DXGI_FORMAT_B8G8R8A8_UNORM, DXGI_MODE_ROTATION_IDENTITY,
};
use windows::Win32::Graphics::Dxgi::{
    CreateDXGIFactory1, DXGI_ERROR_ACCESS_LOST, DXGI_ERROR_WAIT_TIMEOUT, DXGI_OUTDUPL_FRAME_INFO,
    IDXGIFactory1, IDXGIOutput1, IDXGIOutputDuplication, IDXGIResource,
};
use windows::Win32::Graphics::Gdi::{
    BI_RGB, BITMAPINFO, BITMAPINFOHEADER, BitBlt, CAPTUREBLT, CreateCompatibleDC, CreateDIBSection,
    DIB_RGB_COLORS, DeleteDC, DeleteObject, EnumDisplayMonitors, GetDC, GetMonitorInfoW, HBITMAP,
    HDC, HGDIOBJ, HMONITOR, MONITORINFO, MONITORINFOEXW, ReleaseDC, SRCCOPY, SelectObject,
};
use windows::Win32::UI::HiDpi::{
    DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, GetDpiForMonitor, MDT_EFFECTIVE_DPI,
    SetProcessDpiAwarenessContext,
};
use windows::core::{BOOL, Interface};

use crate::capture::{Capturer, DisplayInfo, Frame};
use crate::error::{Error, Result};

/// MONITORINFOF_PRIMARY: the flag GetMonitorInfoW sets on the primary display.
const PRIMARY: u32 = 1;

/// How long the first duplicated picture of an output may take to arrive.
const FIRST_FRAME_MS: u32 = 500;

fn capture_err(what: &str, e: windows::core::Error) -> Error {
    Error::Capture(format!("{what}: {e}"))
}

/// One display as Windows names it.
struct Monitor {
    info: DisplayInfo,
    /// The GDI device name (`\\.\DISPLAY1`), which DXGI outputs also carry.
    device: String,
}

/// Opens the capturer; `display` is ignored (there is one desktop session).
fn open(_display: Option<&str>) -> Result<Box<dyn Capturer>> {
    // SAFETY: no arguments but a constant; failing (it was already set) is harmless.
    let _ = unsafe { SetProcessDpiAwarenessContext(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2) };
    let monitors = monitors()?;
    if monitors.is_empty() {
        return Err(Error::NoDisplay {
            display: None,
            reason: "Windows lists no display".into(),
        });
    }
    Ok(Box::new(WindowsCapturer {
        sources: monitors.iter().map(|_| None).collect(),
        monitors,
    }))
}

/// The displays, primary first, then left to right and top to bottom.
fn monitors() -> Result<Vec<Monitor>> {
    unsafe extern "system" fn each(m: HMONITOR, _: HDC, _: *mut RECT, data: LPARAM) -> BOOL {
        // SAFETY: `data` is the address of the Vec passed below, alive for the enumeration.
        let found = unsafe { &mut *(data.0 as *mut Vec<HMONITOR>) };
        found.push(m);
        BOOL(1)
    }
    let mut handles: Vec<HMONITOR> = Vec::new();
    // SAFETY: the callback only pushes into `handles`, which outlives the call.
    let ok =
        unsafe { EnumDisplayMonitors(None, None, Some(each), LPARAM(&raw mut handles as isize)) };
    if !ok.as_bool() {
        return Err(Error::NoDisplay {
            display: None,
            reason: "EnumDisplayMonitors failed".into(),
        });
    }
    let mut out = Vec::new();
    for handle in handles {
        let mut mi = MONITORINFOEXW::default();
        mi.monitorInfo.cbSize = size_of::<MONITORINFOEXW>() as u32;
        // SAFETY: `mi` is a MONITORINFOEXW with its size set, as the call requires.
        if !unsafe { GetMonitorInfoW(handle, (&raw mut mi).cast::<MONITORINFO>()) }.as_bool() {
            continue;
        }
        let r = mi.monitorInfo.rcMonitor;
        let (mut dpi_x, mut dpi_y) = (96, 96);
        // SAFETY: both outputs are plain integers that live for the call.
        let _ = unsafe { GetDpiForMonitor(handle, MDT_EFFECTIVE_DPI, &mut dpi_x, &mut dpi_y) };
        let device = wide(&mi.szDevice);
        out.push(Monitor {
            info: DisplayInfo {
                index: 0,
                name: device.trim_start_matches(r"\\.\").to_string(),
                x: r.left,
                y: r.top,
                width: (r.right - r.left).max(0) as u32,
                height: (r.bottom - r.top).max(0) as u32,
                scale_percent: dpi_x * 100 / 96,
                primary: mi.monitorInfo.dwFlags & PRIMARY != 0,
            },
            device,
        });
    }
    out.sort_by_key(|m| (!m.info.primary, m.info.x, m.info.y));
    for (i, m) in out.iter_mut().enumerate() {
        m.info.index = i;
    }
    Ok(out)
}

/// A NUL-terminated UTF-16 name.
fn wide(name: &[u16]) -> String {
    let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    String::from_utf16_lossy(&name[..end])
}

/// What serves one display.
enum Source {
    Duplication(Duplication),
    Gdi(GdiGrab),
}

struct WindowsCapturer {
    monitors: Vec<Monitor>,
    sources: Vec<Option<Source>>,
}

impl WindowsCapturer {
    fn open_source(&self, index: usize) -> Result<Source> {
        let m = &self.monitors[index];
        match Duplication::open(&m.device) {
            Ok(d) => {
                tracing::info!(display = %m.info.name, "capturing with DXGI desktop duplication");
                Ok(Source::Duplication(d))
            }
            Err(reason) => {
                tracing::info!(display = %m.info.name, %reason, "capturing with GDI: duplication refused");
                Ok(Source::Gdi(GdiGrab::open(&m.info)?))
            }
        }
    }
}

impl Capturer for WindowsCapturer {
    fn displays(&mut self) -> Result<Vec<DisplayInfo>> {
        Ok(self.monitors.iter().map(|m| m.info.clone()).collect())
    }

    fn capture(&mut self, index: usize, frame: &mut Frame) -> Result<()> {
        if index >= self.monitors.len() {
            return Err(Error::UnknownDisplay(index));
        }
        if self.sources[index].is_none() {
            self.sources[index] = Some(self.open_source(index)?);
        }
        let lost = match self.sources[index].as_mut().expect("just set") {
            Source::Gdi(g) => return g.grab(frame),
            Source::Duplication(d) => match d.grab(frame) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
        };
        // Lost to a desktop switch or mode change: reopen, else GDI from now on.
        let name = &self.monitors[index].info.name;
        tracing::info!(display = %name, reason = %lost, "desktop duplication lost; reopening");
        let source = match Duplication::open(&self.monitors[index].device) {
            Ok(d) => Source::Duplication(d),
            Err(reason) => {
                tracing::info!(display = %name, %reason, "capturing with GDI from now on");
                Source::Gdi(GdiGrab::open(&self.monitors[index].info)?)
            }
        };
        let source = self.sources[index].insert(source);
        match source {
            Source::Gdi(g) => g.grab(frame),
            Source::Duplication(d) => d.grab(frame),
        }
    }
}

/// DXGI Desktop Duplication of one output, with a CPU-readable copy of its last picture.
struct Duplication {
    device: ID3D11Device,
    context: ID3D11DeviceContext,
    dupl: IDXGIOutputDuplication,
    staging: Option<ID3D11Texture2D>,
    /// The last picture, handed out again while the output is unchanged.
    last: Frame,
}

impl Duplication {
    /// Duplicates the output named `device`; the error says why not (for the log).
    fn open(device: &str) -> std::result::Result<Duplication, String> {
        // SAFETY: plain COM calls; every out-pointer is a local that outlives its call.
        unsafe {
            let factory: IDXGIFactory1 = CreateDXGIFactory1().map_err(|e| e.to_string())?;
            for a in 0.. {
                let Ok(adapter) = factory.EnumAdapters1(a) else {
                    break;
                };
                for o in 0.. {
                    let Ok(output) = adapter.EnumOutputs(o) else {
                        break;
                    };
                    let desc = output.GetDesc().map_err(|e| e.to_string())?;
                    if wide(&desc.DeviceName) != device {
                        continue;
                    }
                    if desc.Rotation != DXGI_MODE_ROTATION_IDENTITY {
                        return Err(format!("the output is rotated ({})", desc.Rotation.0));
                    }
                    let output: IDXGIOutput1 = output.cast().map_err(|e| e.to_string())?;
                    let (mut device, mut context) = (None, None);
                    D3D11CreateDevice(
                        &adapter,
                        D3D_DRIVER_TYPE_UNKNOWN,
                        HMODULE::default(),
                        D3D11_CREATE_DEVICE_FLAG(0),
                        None,
                        D3D11_SDK_VERSION,
                        Some(&mut device),
                        None,
                        Some(&mut context),
                    )
                    .map_err(|e| format!("Direct3D 11: {e}"))?;
                    let (device, context) = device.zip(context).ok_or("Direct3D 11: no device")?;
                    let dupl = output
                        .DuplicateOutput(&device)
                        .map_err(|e| format!("DuplicateOutput: {e}"))?;
                    return Ok(Duplication {
                        device,
                        context,
                        dupl,
                        staging: None,
                        last: Frame::default(),
                    });
                }
            }
        }
        Err(format!("no DXGI output is {device}"))
    }

    fn grab(&mut self, frame: &mut Frame) -> Result<()> {
        let wait = if self.last.data.is_empty() {
            FIRST_FRAME_MS
        } else {
            0
        };
        let mut info = DXGI_OUTDUPL_FRAME_INFO::default();
        let mut resource: Option<IDXGIResource> = None;
        // SAFETY: both out-pointers are locals that live for the call.
        match unsafe { self.dupl.AcquireNextFrame(wait, &mut info, &mut resource) } {
            Ok(()) => {}
            Err(e) if e.code() == DXGI_ERROR_WAIT_TIMEOUT && !self.last.data.is_empty() => {
                return copy_frame(&self.last, frame);
            }
            Err(e) if e.code() == DXGI_ERROR_ACCESS_LOST => {
                return Err(capture_err("duplication lost", e));
            }
            Err(e) => return Err(capture_err("AcquireNextFrame", e)),
        }
        let copied = resource
            .ok_or_else(|| Error::Capture("AcquireNextFrame gave no picture".into()))
            .and_then(|r| self.copy_out(&r));
        // SAFETY: a frame was acquired above; it must be released whatever the copy did.
        let _ = unsafe { self.dupl.ReleaseFrame() };
        copied?;
        copy_frame(&self.last, frame)
    }

    /// Copies the acquired picture into `last` through a staging texture.
    fn copy_out(&mut self, resource: &IDXGIResource) -> Result<()> {
        let texture: ID3D11Texture2D = resource
            .cast()
            .map_err(|e| capture_err("the picture is not a texture", e))?;
        let mut desc = D3D11_TEXTURE2D_DESC::default();
        // SAFETY: `desc` lives for the call.
        unsafe { texture.GetDesc(&mut desc) };
        if desc.Format != DXGI_FORMAT_B8G8R8A8_UNORM {
            return Err(Error::Capture(format!(
                "unexpected duplication format {}",
                desc.Format.0
            )));
        }
        let fits = self.staging.as_ref().is_some_and(|s| {
            let mut have = D3D11_TEXTURE2D_DESC::default();
            // SAFETY: as above.
            unsafe { s.GetDesc(&mut have) };
            (have.Width, have.Height) == (desc.Width, desc.Height)
        });
        if !fits {
            let staging_desc = D3D11_TEXTURE2D_DESC {
                Usage: D3D11_USAGE_STAGING,
                BindFlags: 0,
                CPUAccessFlags: D3D11_CPU_ACCESS_READ.0 as u32,
                MiscFlags: 0,
                MipLevels: 1,
                ArraySize: 1,
                ..desc
            };
            let mut staging = None;
            // SAFETY: the description and out-pointer live for the call.
            unsafe {
                self.device
                    .CreateTexture2D(&staging_desc, None, Some(&mut staging))
                    .map_err(|e| capture_err("staging texture", e))?;
            }
            self.staging = staging;
        }
        let staging = self.staging.as_ref().expect("created above");
        let mut mapped = D3D11_MAPPED_SUBRESOURCE::default();
        // SAFETY: both textures belong to `device`; the mapping is read only within this block
        // and unmapped before it ends.
        unsafe {
            self.context.CopyResource(staging, &texture);
            self.context
                .Map(staging, 0, D3D11_MAP_READ, 0, Some(&mut mapped))
                .map_err(|e| capture_err("Map", e))?;
            let (w, h) = (desc.Width as usize, desc.Height as usize);
            let pitch = mapped.RowPitch as usize;
            let src = std::slice::from_raw_parts(mapped.pData.cast::<u8>(), pitch * h);
            let last = &mut self.last;
            last.width = desc.Width;
            last.height = desc.Height;
            last.stride = w * 4;
            last.data.clear();
            for row in src.chunks_exact(pitch).take(h) {
                last.data.extend_from_slice(&row[..w * 4]);
            }
            self.context.Unmap(staging, 0);
        }
        Ok(())
    }
}

/// Copies `from` into `to`, reusing `to`'s buffer.
fn copy_frame(from: &Frame, to: &mut Frame) -> Result<()> {
    to.width = from.width;
    to.height = from.height;
    to.stride = from.stride;
    to.data.clear();
    to.data.extend_from_slice(&from.data);
    Ok(())
}

/// GDI capture of one display: `BitBlt` from the screen into a top-down 32-bit DIB section.
struct GdiGrab {
    screen: HDC,
    memory: HDC,
    bitmap: HBITMAP,
    previous: HGDIOBJ,
    bits: *const u8,
    x: i32,
    y: i32,
    width: u32,
    height: u32,
}

impl GdiGrab {
    fn open(info: &DisplayInfo) -> Result<GdiGrab> {
        let header = BITMAPINFOHEADER {
            biSize: size_of::<BITMAPINFOHEADER>() as u32,
            biWidth: info.width as i32,
            // Negative: rows top to bottom, as frames are.
            biHeight: -(info.height as i32),
            biPlanes: 1,
            biBitCount: 32,
            biCompression: BI_RGB.0,
            ..Default::default()
        };
        let bmi = BITMAPINFO {
            bmiHeader: header,
            ..Default::default()
        };
        // SAFETY: each handle is checked before use and released in Drop; `bits` points into
        // the DIB section, which lives as long as `bitmap`.
        unsafe {
            let screen = GetDC(None);
            if screen.is_invalid() {
                return Err(Error::Capture("GetDC of the screen failed".into()));
            }
            let memory = CreateCompatibleDC(Some(screen));
            let mut bits = std::ptr::null_mut();
            let bitmap =
                match CreateDIBSection(Some(screen), &bmi, DIB_RGB_COLORS, &mut bits, None, 0) {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = DeleteDC(memory);
                        ReleaseDC(None, screen);
                        return Err(capture_err("CreateDIBSection", e));
                    }
                };
            let previous = SelectObject(memory, bitmap.into());
            Ok(GdiGrab {
                screen,
                memory,
                bitmap,
                previous,
                bits: bits.cast::<u8>(),
                x: info.x,
                y: info.y,
                width: info.width,
                height: info.height,
            })
        }
    }

    fn grab(&mut self, frame: &mut Frame) -> Result<()> {
        let (w, h) = (self.width as i32, self.height as i32);
        // SAFETY: both device contexts are valid until Drop.
        unsafe {
            BitBlt(
                self.memory,
                0,
                0,
                w,
                h,
                Some(self.screen),
                self.x,
                self.y,
                SRCCOPY | CAPTUREBLT,
            )
            .map_err(|e| capture_err("BitBlt", e))?;
        }
        let len = self.width as usize * self.height as usize * 4;
        // SAFETY: the DIB section holds width × height 32-bit pixels, written by BitBlt above.
        let pixels = unsafe { std::slice::from_raw_parts(self.bits, len) };
        frame.width = self.width;
        frame.height = self.height;
        frame.stride = self.width as usize * 4;
        frame.data.clear();
        frame.data.extend_from_slice(pixels);
        Ok(())
    }
}

impl Drop for GdiGrab {
    fn drop(&mut self) {
        // SAFETY: the handles were created in `open` and are released once, here.
        unsafe {
            SelectObject(self.memory, self.previous);
            let _ = DeleteObject(self.bitmap.into());
            let _ = DeleteDC(self.memory);
            ReleaseDC(None, self.screen);
        }
    }
}

impl super::Screen for crate::platform::Windows {
    fn open(display: Option<&str>) -> Result<Box<dyn Capturer>> {
        open(display)
    }
}
