//! Windows: whether somebody is signed in at the console, and running under the service control
//! manager. Not built on the Linux CI machine; the Windows runner builds it.

use std::ffi::OsString;
use std::sync::Mutex;
use std::time::Duration;

use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use super::{ServiceBody, StopSignal};

/// The service's name, as the installer registers it.
const SERVICE_NAME: &str = "TetherAgent";

/// Unknown until the desktop app reports the console session; the relay then assumes somebody
/// is there, which is the safe reading of every policy.
pub fn local_user_present() -> Option<bool> {
    None
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
