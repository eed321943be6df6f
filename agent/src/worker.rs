//! A thread that owns something which must be made on it (X11 connections are thread-bound),
//! takes orders over a channel, and is joined when its handle drops. The input and clipboard
//! threads are built on it.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// A running worker thread; dropping it closes the order channel and waits for the thread.
pub(crate) struct Worker<C> {
    orders: Option<mpsc::Sender<C>>,
    thread: Option<JoinHandle<()>>,
}

impl<C: Send + 'static> Worker<C> {
    /// Starts thread `name`; `open` runs on it first and its failure is returned here, then
    /// `body` runs with what `open` made and the order channel, until it returns.
    pub(crate) fn start<R, O, B>(name: &str, open: O, body: B) -> Result<Worker<C>>
    where
        O: FnOnce() -> Result<R> + Send + 'static,
        B: FnOnce(R, mpsc::Receiver<C>) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || match open() {
                Ok(r) => {
                    let _ = ready_tx.send(Ok(()));
                    body(r, rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| Error::Thread(format!("starting {name}: {e}")))?;
        let ready = ready_rx.recv();
        match ready {
            Ok(Ok(())) => Ok(Worker {
                orders: Some(tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::Thread(format!("{name} died while starting")))
            }
        }
    }

    /// Sends an order; ignored once the thread has stopped.
    pub(crate) fn send(&self, order: C) {
        if let Some(o) = &self.orders {
            let _ = o.send(order);
        }
    }
}

impl<C> Drop for Worker<C> {
    fn drop(&mut self) {
        self.orders.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
