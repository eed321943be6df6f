//! What the person at the machine can do during a session, through the library the desktop app
//! embeds: renew the share code, pause the supporter's input (held keys released), resume it,
//! make the session view-only, and stop it at once. Real relay, real WebRTC, real XTEST
//! injection read back from the X server.

use tether_agent::consent::{ConsentPrompt, PromptFuture};
use tether_agent::relay_client::{self, ClientCommand, ClientConfig, ClientEvent};
use tether_agent::session::SessionConfig;
use tether_protocol::input::InputEvent;
use tether_protocol::keymap;
use tether_protocol::reconnect::Backoff;
use tether_protocol::signal::{ConsentRequest, Decision, EndReason};
use tether_tests::viewer::{Viewer, ViewerOptions};
use tokio::sync::{mpsc, oneshot};

use crate::support::{WAIT, repeat_until, seed_technician, start_relay, until};
use tether_tests::x11::{Xvfb, keys_down};

/// The person at the machine allows control at once.
struct AllowControl;

impl ConsentPrompt for AllowControl {
    fn ask(&mut self, _: &ConsentRequest, _: oneshot::Receiver<String>) -> PromptFuture {
        Box::pin(std::future::ready(Some(Decision::AllowControl)))
    }
}

async fn key(viewer: &Viewer, code: &str) {
    let usage = keymap::usage_from_code(code).unwrap();
    viewer.send_input(&InputEvent::KeyDown { usage }).await;
}

/// The next client event matching `pred`.
async fn event_where(
    rx: &mut mpsc::UnboundedReceiver<ClientEvent>,
    pred: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = rx.recv().await.expect("client running");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("the client reported it in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_view_only_and_stop_from_the_machine() {
    let x = Xvfb::start(320, 240);
    let dir = tempfile::tempdir().unwrap();
    seed_technician(dir.path());
    let addr = tether_tests::free_addr();
    let _relay = start_relay(dir.path(), addr).await;

    let cfg = ClientConfig {
        relay: format!("http://{addr}"),
        hostname: "desk-7".into(),
        backoff: Backoff::default(),
        ca_file: None,
        media: Some(SessionConfig {
            display_server: Some(x.display.clone()),
            bind: vec!["127.0.0.1:0".into()],
            ..SessionConfig::default()
        }),
        machine: None,
        local_user: None,
    };
    let (ev_tx, mut events) = mpsc::unbounded_channel();
    let (commands, cmd_rx) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let client = tokio::spawn(async move {
        let mut prompt = AllowControl;
        relay_client::run(cfg, &mut prompt, ev_tx, cmd_rx, async {
            let _ = stopped.await;
        })
        .await
    });
    let ClientEvent::Code(code) =
        event_where(&mut events, |e| matches!(e, ClientEvent::Code(_))).await
    else {
        unreachable!()
    };

    // A first code renewal on request: the relay answers with another code.
    commands.send(ClientCommand::RenewCode).unwrap();
    let ClientEvent::Code(renewed) =
        event_where(&mut events, |e| matches!(e, ClientEvent::Code(_))).await
    else {
        unreachable!()
    };
    assert_ne!(renewed.code, code.code);

    let token = tether_tests::token(addr, "jane@acme.example", "correct horse battery").await;
    let mut viewer = Viewer::connect(
        addr,
        &token,
        renewed.code.as_str(),
        ViewerOptions::default(),
    )
    .await
    .expect("consent was given");
    let id = viewer.session.session_id.clone();
    event_where(&mut events, |e| matches!(e, ClientEvent::SessionStarted(_))).await;
    // The media connection is up once the screen arrives; the data channels open with it.
    tokio::time::timeout(WAIT, viewer.picture())
        .await
        .expect("a picture");
    let (conn, _root) = x.connect();

    // Input lands while nobody objects.
    key(&viewer, "ShiftLeft").await;
    until("Shift held", || keys_down(&conn), |k| *k == [50]).await;

    // Pause: the held key comes up at once, and what the supporter types meanwhile is dropped.
    commands
        .send(ClientCommand::PauseInput {
            session: id.clone(),
            paused: true,
        })
        .unwrap();
    until("released on pause", || keys_down(&conn), |k| k.is_empty()).await;
    commands
        .send(ClientCommand::PauseInput {
            session: id.clone(),
            paused: false,
        })
        .unwrap();
    // Resumed: the supporter's keys land again. The resume reaches the session through the
    // client, the key through the data channel, so the first press may still meet the pause:
    // press again until one lands.
    repeat_until(
        "C after resuming",
        || key(&viewer, "KeyC"),
        || keys_down(&conn),
        |k| *k == [54],
    )
    .await;

    // View only: keys released, and it stays so even if input is "resumed".
    commands.send(ClientCommand::ViewOnly(id.clone())).unwrap();
    until(
        "released on view-only",
        || keys_down(&conn),
        |k| k.is_empty(),
    )
    .await;
    commands
        .send(ClientCommand::PauseInput {
            session: id.clone(),
            paused: false,
        })
        .unwrap();

    // Stop: the viewer is told the agent ended it, and the owner hears of it once.
    commands
        .send(ClientCommand::EndSession(id.clone()))
        .unwrap();
    let ended = viewer.ended(WAIT).await.expect("the viewer saw the end");
    assert_eq!(ended.reason, EndReason::EndedByAgent);
    let ev = event_where(&mut events, |e| matches!(e, ClientEvent::SessionEnded(_))).await;
    assert!(
        matches!(&ev, ClientEvent::SessionEnded(e) if e.session_id == id && e.reason == EndReason::EndedByAgent),
        "{ev:?}"
    );
    assert!(keys_down(&conn).is_empty());

    let _ = stop.send(());
    client.await.unwrap().unwrap();
    while let Ok(ev) = events.try_recv() {
        assert!(
            !matches!(ev, ClientEvent::SessionEnded(_)),
            "the end was reported twice: {ev:?}"
        );
    }
}
