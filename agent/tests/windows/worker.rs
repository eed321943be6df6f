//! The session worker's start, link and end as far as Wine implements them: Wine has no
//! session 0, so the service never chooses a worker there, but the parts run. This test program
//! starts itself again as the worker (running only [`worker_side`]) through
//! `start_session_worker`: a copy of its token moved to its own session, `CreateProcessAsUserW`,
//! the named pipe that only that process may open, and the watch of its end.

use std::time::Duration;

use tether_agent::machine::platform::{
    WorkerUser, session_worker_link, start_session_worker, stop_session_worker,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use windows::Win32::System::RemoteDesktop::ProcessIdToSessionId;

/// Set in the worker's environment by this test, not by the service.
const ROLE: &str = "TETHER_TEST_WORKER";

fn this_session() -> u32 {
    let mut id = 0;
    // SAFETY: a valid out pointer.
    unsafe { ProcessIdToSessionId(std::process::id(), &mut id) }.unwrap();
    id
}

/// The test program again, running only `test` with `role` in its environment.
fn again(test: &str) -> (std::path::PathBuf, Vec<std::ffi::OsString>) {
    let program = std::env::current_exe().unwrap();
    let args = [
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    (program, args.iter().map(Into::into).collect())
}

#[tokio::test]
#[ignore = "the worker's side: run by the_service_starts_a_worker_that_opens_the_link"]
async fn worker_side() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    let mut link = session_worker_link().expect("the link the service named");
    let mut buf = [0u8; 4];
    link.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    link.write_all(b"pong").await.unwrap();
    link.flush().await.unwrap();
    // Stays until the service ends it.
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn the_service_starts_a_worker_that_opens_the_link() {
    let user = WorkerUser {
        name: String::new(),
        uid: this_session(),
        gid: 0,
        home: r"C:\".into(),
    };
    let (program, args) = again("worker::worker_side");
    // SAFETY: set before the worker starts; no other test reads it.
    unsafe { std::env::set_var(ROLE, "1") };
    let worker = tokio::time::timeout(
        Duration::from_secs(30),
        start_session_worker(&user, &program, &args),
    )
    .await
    .expect("the worker opens the link within 30 s")
    .expect("the worker starts");
    let (mut child, mut link) = (worker.child, worker.link);
    assert!(child.id().is_some());
    link.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(30), link.read_exact(&mut buf))
        .await
        .expect("the worker answers")
        .unwrap();
    assert_eq!(&buf, b"pong");
    // Stopped by the service: it ends, with a failure status.
    stop_session_worker(&mut child);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the worker ends")
        .unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
}
