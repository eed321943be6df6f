//! A window that covers the whole virtual desktop, takes the foreground and the keyboard focus,
//! and records the input messages Windows delivers to it.

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use windows::Win32::Foundation::{HWND, LPARAM, LRESULT, POINT, WPARAM};
use windows::Win32::Graphics::Gdi::ClientToScreen;
use windows::Win32::System::LibraryLoader::GetModuleHandleW;
use windows::Win32::UI::Input::KeyboardAndMouse::{
    ActivateKeyboardLayout, GetKeyState, GetKeyboardLayout, HKL, KLF_ACTIVATE, LoadKeyboardLayoutW,
    MAPVK_VSC_TO_VK, MapVirtualKeyExW, SetFocus,
};
use windows::Win32::UI::WindowsAndMessaging::*;
use windows::core::{HSTRING, PCWSTR, w};

/// One input message, as a Windows program reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// `WM_(SYS)KEYDOWN` / `WM_(SYS)KEYUP`.
    Key {
        /// A press (not a release).
        down: bool,
        /// The scan code (`lParam` bits 16–23).
        scan: u8,
        /// The extended-key flag (`lParam` bit 24).
        extended: bool,
        /// The virtual key the layout made of it (`wParam`).
        vk: u16,
    },
    /// `WM_CHAR`: one UTF-16 unit.
    Char(u16),
    /// `WM_MOUSEMOVE`, in virtual-desktop pixels.
    Move {
        /// Pixels from the virtual desktop's origin.
        x: i32,
        /// Pixels from the virtual desktop's origin.
        y: i32,
    },
    LeftDown,
    LeftUp,
    RightDown,
    RightUp,
    MiddleDown,
    MiddleUp,
    /// `WM_XBUTTONDOWN` for `XBUTTON1` (1) or `XBUTTON2` (2).
    XDown(u16),
    /// `WM_XBUTTONUP`.
    XUp(u16),
    /// `WM_MOUSEWHEEL` (vertical) or `WM_MOUSEHWHEEL`, in 1/120ths of a detent.
    Wheel {
        /// Which wheel.
        vertical: bool,
        /// Windows' sign: up and right are positive.
        delta: i16,
    },
}

thread_local! {
    // It is const; clippy 1.97 says otherwise on x86_64-pc-windows-gnu (the macro expands
    // differently there).
    #[allow(clippy::missing_const_for_thread_local)]
    static SEEN: RefCell<Vec<Seen>> = const { RefCell::new(Vec::new()) };
}

/// One window at a time: the foreground and the keyboard focus are the desktop's, not a test's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lo(v: usize) -> i16 {
    v as u16 as i16
}

fn hi(v: usize) -> i16 {
    (v >> 16) as u16 as i16
}

extern "system" fn record(hwnd: HWND, msg: u32, w: WPARAM, l: LPARAM) -> LRESULT {
    let (wp, lp) = (w.0, l.0 as usize);
    let seen = match msg {
        WM_KEYDOWN | WM_SYSKEYDOWN | WM_KEYUP | WM_SYSKEYUP => Some(Seen::Key {
            down: msg == WM_KEYDOWN || msg == WM_SYSKEYDOWN,
            scan: (lp >> 16) as u8,
            extended: lp & (1 << 24) != 0,
            vk: wp as u16,
        }),
        WM_CHAR => Some(Seen::Char(wp as u16)),
        WM_MOUSEMOVE => {
            let mut p = POINT {
                x: i32::from(lo(lp)),
                y: i32::from(hi(lp)),
            };
            // SAFETY: a live window and a valid point.
            let _ = unsafe { ClientToScreen(hwnd, &mut p) };
            Some(Seen::Move { x: p.x, y: p.y })
        }
        WM_LBUTTONDOWN => Some(Seen::LeftDown),
        WM_LBUTTONUP => Some(Seen::LeftUp),
        WM_RBUTTONDOWN => Some(Seen::RightDown),
        WM_RBUTTONUP => Some(Seen::RightUp),
        WM_MBUTTONDOWN => Some(Seen::MiddleDown),
        WM_MBUTTONUP => Some(Seen::MiddleUp),
        WM_XBUTTONDOWN => Some(Seen::XDown(hi(wp) as u16)),
        WM_XBUTTONUP => Some(Seen::XUp(hi(wp) as u16)),
        WM_MOUSEWHEEL => Some(Seen::Wheel {
            vertical: true,
            delta: hi(wp),
        }),
        WM_MOUSEHWHEEL => Some(Seen::Wheel {
            vertical: false,
            delta: hi(wp),
        }),
        _ => None,
    };
    if let Some(s) = seen {
        SEEN.with(|v| v.borrow_mut().push(s));
    }
    match msg {
        // Alt alone would open the (absent) window menu and swallow the next keys.
        WM_SYSKEYDOWN | WM_SYSKEYUP | WM_SYSCHAR => LRESULT(0),
        // SAFETY: default handling of a message this window received.
        _ => unsafe { DefWindowProcW(hwnd, msg, w, l) },
    }
}

fn class() -> PCWSTR {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    let name = w!("TetherInputRecorder");
    REGISTERED.get_or_init(|| {
        // SAFETY: a static class name and a window procedure that lives as long as the program.
        unsafe {
            let wc = WNDCLASSW {
                lpfnWndProc: Some(record),
                hInstance: GetModuleHandleW(None).unwrap().into(),
                lpszClassName: name,
                ..Default::default()
            };
            assert_ne!(RegisterClassW(&wc), 0, "RegisterClassW");
        }
    });
    name
}

/// Drains the thread's message queue through the window procedure.
fn pump() {
    let mut msg = MSG::default();
    // SAFETY: messages of this thread, read into a valid MSG.
    unsafe {
        while PeekMessageW(&mut msg, None, 0, 0, PM_REMOVE).as_bool() {
            let _ = TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

/// The recording window of the calling thread; destroyed when dropped.
pub struct Recorder {
    hwnd: HWND,
    _one: MutexGuard<'static, ()>,
}

impl Recorder {
    /// Opens the window over the whole virtual desktop and gives it the focus.
    pub fn open() -> Recorder {
        let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: plain Win32 calls on a window this thread creates and owns.
        let hwnd = unsafe {
            let hwnd = CreateWindowExW(
                WS_EX_TOPMOST,
                class(),
                w!("Tether input recorder"),
                WS_POPUP | WS_VISIBLE,
                GetSystemMetrics(SM_XVIRTUALSCREEN),
                GetSystemMetrics(SM_YVIRTUALSCREEN),
                GetSystemMetrics(SM_CXVIRTUALSCREEN),
                GetSystemMetrics(SM_CYVIRTUALSCREEN),
                None,
                None,
                None,
                None,
            )
            .expect("CreateWindowExW");
            let _ = SetForegroundWindow(hwnd);
            let _ = SetFocus(Some(hwnd));
            hwnd
        };
        let rec = Recorder { hwnd, _one: one };
        rec.until("the window to have the foreground", |_| {
            // SAFETY: no preconditions.
            unsafe { GetForegroundWindow() == hwnd }
        });
        rec.clear();
        rec
    }

    /// Forgets what was recorded so far (after taking what is queued).
    pub fn clear(&self) {
        pump();
        SEEN.with(|v| v.borrow_mut().clear());
    }

    /// Pumps messages until `done` holds for what was recorded, or panics after 10 s naming
    /// `what` and showing what did arrive.
    pub fn until(&self, what: &str, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            pump();
            let seen = SEEN.with(|v| v.borrow().clone());
            if done(&seen) {
                return seen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited 10 s for {what}; the window received {seen:?}"
            );
            // Wakes as soon as input arrives.
            // SAFETY: no handles, a bounded wait.
            unsafe {
                MsgWaitForMultipleObjects(
                    None,
                    false,
                    left.as_millis().min(100) as u32,
                    QS_ALLINPUT,
                );
            }
        }
    }

    /// Whether this thread's keyboard state has virtual key `vk` down (as of the messages
    /// pumped so far).
    pub fn key_is_down(&self, vk: u16) -> bool {
        pump();
        // SAFETY: no preconditions.
        unsafe { GetKeyState(i32::from(vk)) < 0 }
    }

    /// Makes `klid` (e.g. `0000040C`, French) this thread's keyboard layout until the guard
    /// drops. The flag says whether the system really translates with it: that the key at the
    /// Q position (scan code 0x10) becomes `q_vk`. Wine accepts every layout and keeps
    /// translating with its US table.
    pub fn layout(&self, klid: &str, q_vk: u8) -> (LayoutGuard, bool) {
        // SAFETY: a valid layout name; the previous layout is restored by the guard.
        unsafe {
            let before = GetKeyboardLayout(0);
            let hkl = LoadKeyboardLayoutW(&HSTRING::from(klid), KLF_ACTIVATE)
                .unwrap_or_else(|e| panic!("LoadKeyboardLayoutW({klid}): {e}"));
            let _ = ActivateKeyboardLayout(hkl, Default::default());
            assert_eq!(GetKeyboardLayout(0), hkl, "layout {klid} is active");
            let q = MapVirtualKeyExW(0x10, MAPVK_VSC_TO_VK, Some(hkl));
            (LayoutGuard(before), q == u32::from(q_vk))
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // SAFETY: the window this thread created.
        let _ = unsafe { DestroyWindow(self.hwnd) };
        pump();
    }
}

/// Restores the keyboard layout that was active before [`Recorder::layout`].
pub struct LayoutGuard(HKL);

impl Drop for LayoutGuard {
    fn drop(&mut self) {
        // SAFETY: a layout handle Windows gave us.
        let _ = unsafe { ActivateKeyboardLayout(self.0, Default::default()) };
    }
}
