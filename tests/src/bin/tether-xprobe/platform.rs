//! The probe's X11 client (Linux only; it exists for the test suite under Xvfb).

/// The error type of the probe.
pub type Error = Box<dyn std::error::Error>;

#[cfg(target_os = "linux")]
pub use x11::run;

/// Elsewhere there is no X server to probe.
#[cfg(not(target_os = "linux"))]
pub fn run() -> Result<(), Error> {
    Err("tether-xprobe runs on X11 only".into())
}

#[cfg(target_os = "linux")]
mod x11;
