//! The hub's side of the relay cluster ([`crate::cluster`]): viewers of other relays tunnelled
//! here appear as connections of this hub, and messages for this relay's tunnelled viewers are
//! handed to their sockets.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::hub::{ConnId, Gone, Hub, Link};
use crate::cluster::{Cluster, Envelope};

impl Hub {
    /// Makes this hub part of `cluster`, handling the envelopes that arrive on `inbox` in
    /// order, one at a time.
    pub fn join_cluster(
        self: &Arc<Self>,
        cluster: Arc<Cluster>,
        mut inbox: mpsc::Receiver<Envelope>,
    ) {
        if self.cluster.set(cluster).is_err() {
            return;
        }
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(envelope) = inbox.recv().await {
                let Some(hub) = hub.upgrade() else { return };
                hub.on_envelope(envelope).await;
            }
        });
    }

    async fn on_envelope(self: &Arc<Self>, envelope: Envelope) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        match envelope {
            Envelope::Open {
                origin,
                conn,
                principal,
                ip,
            } => {
                let (link, rx) = Link::new();
                let kill = link.kill_signal();
                let here = self.register_viewer(link, principal, ip);
                self.lock().remotes.insert((origin.clone(), conn), here);
                tokio::spawn(forward(
                    Arc::downgrade(self),
                    cluster.clone(),
                    rx,
                    kill,
                    origin,
                    conn,
                    here,
                ));
            }
            Envelope::FromViewer { origin, conn, msg } => {
                let here = self.lock().remotes.get(&(origin, conn)).copied();
                if let Some(here) = here {
                    self.on_viewer_message(here, msg).await;
                }
            }
            Envelope::ViewerGone { origin, conn } => {
                let here = self.lock().remotes.remove(&(origin, conn));
                if let Some(here) = here {
                    self.viewer_gone(here, Gone::Left);
                }
            }
            Envelope::ToViewer { conn, msg } => {
                if let Some(link) = self.tunnelled_link(conn) {
                    link.send(msg);
                }
            }
            Envelope::CloseViewer { conn } => {
                if let Some(link) = self.tunnelled_link(conn) {
                    link.kill.notify_one();
                }
            }
        }
    }
}

/// Carries what the hub queues for a tunnelled viewer back to its relay, until the hub closes
/// the connection (then the viewer's relay closes its socket) or the viewer leaves.
async fn forward(
    hub: std::sync::Weak<Hub>,
    cluster: Arc<Cluster>,
    mut rx: mpsc::Receiver<Box<tether_protocol::signal::Message>>,
    kill: Arc<tokio::sync::Notify>,
    origin: String,
    conn: ConnId,
    here: ConnId,
) {
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => match msg {
                Some(msg) => cluster.send(&origin, Envelope::ToViewer { conn, msg: *msg }),
                None => return,
            },
            () = kill.notified() => {
                // What was queued before the close goes first.
                while let Ok(msg) = rx.try_recv() {
                    cluster.send(&origin, Envelope::ToViewer { conn, msg: *msg });
                }
                cluster.send(&origin, Envelope::CloseViewer { conn });
                if let Some(hub) = hub.upgrade() {
                    let known = hub.lock().remotes.remove(&(origin.clone(), conn)).is_some();
                    if known {
                        hub.viewer_gone(here, Gone::Left);
                    }
                }
                return;
            }
        }
    }
}
