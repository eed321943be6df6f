//! Windows: whether somebody is signed in at the console, and running under the service control
//! manager. Not built on the Linux CI machine; the Windows runner builds it.

use std::ffi::OsString;
use std::sync::Mutex;
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod, ServiceState, ServiceStatus,
    ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use super::{
    Seat, ServiceBody, SessionWorker, StopSignal, WorkerLink, WorkerUser, windows_session,
};

/// The service's name, as the installer registers it.
const SERVICE_NAME: &str = "TetherAgent";

/// Unknown until the desktop app reports the console session; the relay then assumes somebody
/// is there, which is the safe reading of every policy.
pub fn local_user_present() -> Option<bool> {
    None
}

/// After a system enrollment: if the installer registered the service, makes the service
/// manager restart it after a failure (5 s, three times a day) and starts it. Says what it did;
/// `Ok(None)` when the service is not installed (a portable enrollment).
pub fn start_enrolled_service() -> Result<Option<String>, String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("opening the service manager: {e}"))?;
    let access = ServiceAccess::START | ServiceAccess::QUERY_STATUS | ServiceAccess::CHANGE_CONFIG;
    let Ok(service) = manager.open_service(SERVICE_NAME, access) else {
        return Ok(None);
    };
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(5),
    };
    if let Err(e) = service.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart.clone(), restart.clone(), restart]),
    }) {
        // Not fatal: the service still runs, it is only not restarted after a crash.
        tracing::warn!(error = %e, "cannot set the service's recovery actions");
    }
    let running = service
        .query_status()
        .map(|s| s.current_state != ServiceState::Stopped)
        .unwrap_or(false);
    if running {
        return Ok(Some(format!(
            "The {SERVICE_NAME} service is already running; it uses the new enrollment after a restart."
        )));
    }
    service
        .start::<&str>(&[])
        .map_err(|e| format!("starting the {SERVICE_NAME} service: {e}"))?;
    Ok(Some(format!("The {SERVICE_NAME} service is started.")))
}

/// What the dispatcher thread hands to `service_main`, and the exit status it hands back.
static BODY: Mutex<Option<ServiceBody>> = Mutex::new(None);
static EXIT: Mutex<i32> = Mutex::new(0);

define_windows_service!(ffi_service_main, service_main);

/// Runs `body` under the service control manager until it stops; returns its exit status.
pub fn run_service(body: ServiceBody) -> Result<i32, String> {
    *BODY.lock().map_err(|e| e.to_string())? = Some(body);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .map_err(|e| format!("not started by the service control manager: {e}"))?;
    Ok(*EXIT.lock().map_err(|e| e.to_string())?)
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: if exit == 0 {
            ServiceExitCode::NO_ERROR
        } else {
            ServiceExitCode::ServiceSpecific(exit)
        },
        checkpoint: 0,
        wait_hint: Duration::from_secs(10),
        process_id: None,
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let Some(body) = BODY.lock().ok().and_then(|mut b| b.take()) else {
        return;
    };
    let stop = StopSignal::default();
    let on_stop = stop.clone();
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            on_stop.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let _ = handle.set_service_status(status(ServiceState::Running, 0));
    let code = body(stop);
    if let Ok(mut exit) = EXIT.lock() {
        *exit = code;
    }
    // A machine the relay refused (78) stops cleanly, so the recovery actions do not restart it
    // in a loop; any other failure is reported, and the installer's recovery actions restart it.
    let reported = if code == 78 { 0 } else { code.unsigned_abs() };
    let _ = handle.set_service_status(status(ServiceState::Stopped, reported));
}

impl Seat for crate::platform::Windows {
    fn local_user_present() -> Option<bool> {
        local_user_present()
    }

    fn system_account() -> bool {
        runs_as_local_system().unwrap_or(true)
    }

    fn session_worker_user() -> Option<WorkerUser> {
        windows_session::session_worker_user()
    }

    fn start_session_worker(
        user: &WorkerUser,
        program: &std::path::Path,
        args: &[OsString],
    ) -> impl Future<Output = std::io::Result<SessionWorker>> {
        windows_session::start_session_worker(user, program, args)
    }

    // Stopping ends the worker outright (the default): Windows has no polite signal for a
    // process without a window, so the service releases what it left down afterwards.

    fn session_worker_link() -> std::io::Result<Box<dyn WorkerLink>> {
        windows_session::session_worker_link()
    }

    fn release_held_for(
        user: &WorkerUser,
        program: &std::path::Path,
    ) -> impl Future<Output = std::io::Result<usize>> {
        windows_session::release_held_for(user, program)
    }

    fn run_service(body: ServiceBody) -> Result<i32, String> {
        run_service(body)
    }

    fn start_enrolled_service() -> Result<Option<String>, String> {
        start_enrolled_service()
    }

    fn known_downloads() -> Option<std::path::PathBuf> {
        known_downloads()
    }
}

/// The Downloads known folder of the user this process runs as (wherever they moved it).
pub fn known_downloads() -> Option<std::path::PathBuf> {
    use windows::Win32::System::Com::CoTaskMemFree;
    use windows::Win32::UI::Shell::{FOLDERID_Downloads, KF_FLAG_DEFAULT, SHGetKnownFolderPath};
    // SAFETY: a valid folder id and no token (this process's user); the returned string is
    // copied, then freed with CoTaskMemFree as the API requires.
    unsafe {
        let p = SHGetKnownFolderPath(&FOLDERID_Downloads, KF_FLAG_DEFAULT, None).ok()?;
        let dir = p.to_string().ok();
        CoTaskMemFree(Some(p.0 as *const _));
        dir.map(std::path::PathBuf::from)
    }
}

/// Whether this process's token is LocalSystem's; `None` when the token cannot be read.
fn runs_as_local_system() -> Option<bool> {
    use windows::Win32::Foundation::{CloseHandle, HANDLE};
    use windows::Win32::Security::{
        GetTokenInformation, IsWellKnownSid, TOKEN_QUERY, TOKEN_USER, TokenUser, WinLocalSystemSid,
    };
    use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let mut token = HANDLE::default();
    // SAFETY: the current process's pseudo handle is always valid; `token` receives a handle
    // that is closed below.
    unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) }.ok()?;
    // u64s: aligned for the TOKEN_USER (and its SID) written into it.
    let mut buf = [0u64; 64];
    let mut len = 0u32;
    // SAFETY: `buf` is writable for the size given; `len` receives the size used.
    let read = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            Some(buf.as_mut_ptr().cast()),
            size_of_val(&buf) as u32,
            &mut len,
        )
    };
    // SAFETY: `token` was opened above and is closed once.
    let _ = unsafe { CloseHandle(token) };
    read.ok()?;
    // SAFETY: GetTokenInformation filled `buf` with a TOKEN_USER whose SID points into it.
    let user = unsafe { &*buf.as_ptr().cast::<TOKEN_USER>() };
    // SAFETY: the SID is valid while `buf` lives.
    Some(unsafe { IsWellKnownSid(user.User.Sid, WinLocalSystemSid) }.as_bool())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_downloads_known_folder_is_an_absolute_path() {
        let dir = super::known_downloads().expect("a Downloads known folder");
        assert!(dir.is_absolute(), "{}", dir.display());
        assert!(dir.ends_with("Downloads"), "{}", dir.display());
    }

    #[test]
    fn a_process_started_by_a_person_is_not_the_system_account() {
        // The tests run as a person's account (under Wine too), not as LocalSystem; the token
        // can be read.
        assert_eq!(super::runs_as_local_system(), Some(false));
    }
}
