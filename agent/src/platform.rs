//! The operating systems the agent knows, as types. Each module whose behaviour depends on the
//! OS has one trait, implemented for these types in its OS-named files:
//! [`crate::machine::platform::Seat`], [`crate::capture::platform::Screen`],
//! [`crate::input::platform::Keyboard`] and [`crate::permissions::platform::Grants`]. [`This`]
//! is the OS being built; a signature that drifts on one OS fails to compile wherever that OS
//! is built (`scripts/cross.sh` builds Windows).

/// Linux (X11, systemd).
pub struct Linux;
/// Windows.
pub struct Windows;
/// macOS.
pub struct MacOs;
/// Any other OS: what each trait does by default, or a clear refusal.
pub struct Unsupported;

/// The OS this agent is built for.
#[cfg(target_os = "linux")]
pub type This = Linux;
/// The OS this agent is built for.
#[cfg(target_os = "windows")]
pub type This = Windows;
/// The OS this agent is built for.
#[cfg(target_os = "macos")]
pub type This = MacOs;
/// The OS this agent is built for.
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
pub type This = Unsupported;
