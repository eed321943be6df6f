//! The input thread of one session: owns the [`InputSession`] (and with it the connection to the
//! display server), applies events in arrival order, and releases everything when it is told to
//! or when the session drops it — whichever way the session ends.

use std::sync::mpsc;

use tether_protocol::input::InputEvent;

use super::{InputInjector, InputSession, Outcome};
use crate::capture::DisplayInfo;
use crate::error::Result;
use crate::worker::Worker;

enum Command {
    Event(InputEvent),
    ReleaseAll,
    Displays(Vec<DisplayInfo>),
}

/// A running input thread. Dropping it releases every held key and button, then joins.
pub struct InputWorker(Worker<Command>);

impl InputWorker {
    /// Starts the thread; `open` runs on it and makes the injector (X11 connections are
    /// thread-bound). Fails if `open` does.
    pub fn start<I, F>(open: F, displays: Vec<DisplayInfo>, control: bool) -> Result<InputWorker>
    where
        I: InputInjector + 'static,
        F: FnOnce() -> Result<I> + Send + 'static,
    {
        let body = move |injector: I, orders: mpsc::Receiver<Command>| {
            let mut session = InputSession::new(injector, displays, control);
            while let Ok(cmd) = orders.recv() {
                match cmd {
                    Command::Event(ev) => match session.handle(&ev) {
                        Ok(Outcome::ViewOnly) => {
                            tracing::debug!("view-only session: input dropped")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "injecting input failed"),
                    },
                    Command::ReleaseAll => session.release_all(),
                    Command::Displays(d) => session.set_displays(d),
                }
            }
            // The session's drop releases whatever is still held.
        };
        Worker::start("tether-input", open, body).map(InputWorker)
    }

    /// Applies an event (after those sent before it).
    pub fn event(&self, event: InputEvent) {
        self.0.send(Command::Event(event));
    }

    /// Releases every key and button this session holds.
    pub fn release_all(&self) {
        self.0.send(Command::ReleaseAll);
    }

    /// Updates the display list used to place pointer events.
    pub fn set_displays(&self, displays: Vec<DisplayInfo>) {
        self.0.send(Command::Displays(displays));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tether_protocol::input::Button;

    use super::*;
    use crate::Error;

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl InputInjector for Log {
        fn move_to(&mut self, x: i32, y: i32) -> Result<()> {
            self.0.lock().unwrap().push(format!("move {x} {y}"));
            Ok(())
        }
        fn button(&mut self, b: Button, down: bool) -> Result<()> {
            self.0.lock().unwrap().push(format!("button {b:?} {down}"));
            Ok(())
        }
        fn wheel(&mut self, dx: i32, dy: i32) -> Result<()> {
            self.0.lock().unwrap().push(format!("wheel {dx} {dy}"));
            Ok(())
        }
        fn key(&mut self, usage: u32, down: bool) -> Result<bool> {
            self.0.lock().unwrap().push(format!("key {usage:x} {down}"));
            Ok(true)
        }
        fn text(&mut self, text: &str) -> Result<()> {
            self.0.lock().unwrap().push(format!("text {text}"));
            Ok(())
        }
    }

    #[test]
    fn applies_in_order_and_releases_on_drop() {
        let log = Log::default();
        let l = log.clone();
        let w = InputWorker::start(move || Ok(l), Vec::new(), true).unwrap();
        w.event(InputEvent::KeyDown { usage: 0x0700E1 });
        w.event(InputEvent::KeyDown { usage: 0x070004 });
        w.event(InputEvent::ButtonDown {
            button: Button::Left,
        });
        drop(w);
        assert_eq!(
            *log.0.lock().unwrap(),
            [
                "key 700e1 true",
                "key 70004 true",
                "button Left true",
                "key 70004 false",
                "key 700e1 false",
                "button Left false",
            ]
        );
    }

    #[test]
    fn view_only_injects_nothing_and_open_errors_surface() {
        let log = Log::default();
        let l = log.clone();
        let w = InputWorker::start(move || Ok(l), Vec::new(), false).unwrap();
        w.event(InputEvent::KeyDown { usage: 0x070004 });
        w.event(InputEvent::Text { text: "x".into() });
        drop(w);
        assert!(log.0.lock().unwrap().is_empty());

        let e = InputWorker::start(
            || -> Result<Log> { Err(Error::Input("no display".into())) },
            Vec::new(),
            true,
        );
        assert!(matches!(e, Err(Error::Input(m)) if m == "no display"));
    }
}
