//! The hub's side of the relay cluster ([`crate::cluster`]): viewers of other relays tunnelled
//! here appear as connections of this hub, and messages for this relay's tunnelled viewers are
//! handed to their sockets.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use tether_protocol::signal::Message;

use super::budget::{ClusterBudget, Guesser};
use super::core::Elsewhere;
use super::hub::{ConnId, Gone, Hub, Link, Tunnel};

/// How often a relay checks that the relays it tunnels to and from are alive.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Machines' presence is renewed every this many sweeps (well within its expiry).
const RENEW_EVERY_SWEEPS: u64 = 10;
/// After Redis comes back, this relay's codes and machines are claimed again on this many
/// sweeps in a row (claims are idempotent; the first may meet a connection still reconnecting).
const CLAIM_AGAIN_SWEEPS: u8 = 3;
use crate::cluster::{Cluster, Envelope};

impl Hub {
    /// Makes this hub part of `cluster`, handling the envelopes that arrive on `inbox` in
    /// order, one at a time.
    pub fn join_cluster(
        self: &Arc<Self>,
        cluster: Arc<Cluster>,
        mut inbox: mpsc::Receiver<Envelope>,
    ) {
        let mut reconnected = cluster.reconnections();
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
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            let mut suspects = Vec::new();
            let mut claim_again = 0;
            for n in 0u64.. {
                every.tick().await;
                let Some(hub) = hub.upgrade() else { return };
                // Redis came back, perhaps empty: say again what is here, on this sweep and
                // the next two (the connection commands go through may still be coming back).
                if reconnected.has_changed().unwrap_or(false) {
                    reconnected.borrow_and_update();
                    claim_again = CLAIM_AGAIN_SWEEPS;
                }
                if claim_again > 0 {
                    claim_again -= 1;
                    hub.claim_again();
                }
                hub.sweep(&mut suspects).await;
                if n % RENEW_EVERY_SWEEPS == 0 {
                    hub.renew_presence();
                }
            }
        });
    }

    /// Marks which of `org`'s `machines` are online: connected here, or to another live relay
    /// of the cluster.
    pub async fn mark_online(&self, org: i64, machines: &mut [crate::store::MachineInfo]) {
        let here = self.online_machines(org);
        for m in machines.iter_mut() {
            m.online = here.contains(&m.id);
        }
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let elsewhere: Vec<i64> = machines
            .iter()
            .filter(|m| !m.online)
            .map(|m| m.id)
            .collect();
        let present = cluster.machines_present(&elsewhere).await;
        for (id, present) in elsewhere.iter().zip(present) {
            if let Some(m) = machines.iter_mut().find(|m| m.id == *id) {
                m.online = present;
            }
        }
    }

    /// Renews the presence of every enrolled machine connected here.
    /// Claims again every code shown here and every machine connected here, for a Redis that
    /// came back without them: until then a supporter on another relay would be told a live
    /// code is wrong, and charged a guess for it. A code another relay claimed meanwhile stays
    /// that relay's.
    fn claim_again(&self) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let (codes, ttl) = self.live_codes();
        tracing::info!(
            codes = codes.len(),
            "claiming this relay's codes again in the cluster"
        );
        for hash in codes {
            cluster.claim_code(&hash, ttl);
        }
        self.renew_presence();
    }

    fn renew_presence(&self) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let machines: Vec<i64> = self
            .lock()
            .conns
            .values()
            .filter_map(|c| c.machine)
            .collect();
        for id in machines {
            cluster.renew_machine(id);
        }
    }

    /// Lets go of what depends on relays that stopped: their viewers tunnelled here leave (their
    /// sessions end as if they had closed), and this relay's viewers tunnelled to them are
    /// disconnected, so they connect again (a browser keeps its media meanwhile).
    ///
    /// A relay counts as stopped only when two sweeps in a row find it silent, so one late
    /// heartbeat (or Redis restarting and the heartbeats not back yet) cuts nothing.
    async fn sweep(self: &Arc<Self>, suspects: &mut Vec<String>) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let mut relays: Vec<String> = {
            let d = self.lock();
            d.tunnels
                .values()
                .map(|t| t.relay.clone())
                .chain(d.remotes.keys().map(|(r, _)| r.clone()))
                .collect()
        };
        relays.sort();
        relays.dedup();
        let alive = cluster.alive(&relays).await;
        let silent: Vec<String> = relays
            .iter()
            .zip(alive)
            .filter(|(_, alive)| !alive)
            .map(|(r, _)| r.clone())
            .collect();
        let dead: Vec<&String> = silent.iter().filter(|r| suspects.contains(r)).collect();
        if dead.is_empty() {
            *suspects = silent;
            return;
        }
        tracing::warn!(
            ?dead,
            "relays of the cluster stopped; letting go of their connections"
        );
        let (orphans, cut) = {
            let mut d = self.lock();
            let orphans: Vec<ConnId> = d
                .remotes
                .iter()
                .filter(|((r, _), _)| dead.contains(&r))
                .map(|(_, here)| *here)
                .collect();
            d.remotes.retain(|(r, _), _| !dead.contains(&r));
            let cut: Vec<ConnId> = d
                .tunnels
                .iter()
                .filter(|(_, t)| dead.contains(&&t.relay))
                .map(|(c, _)| *c)
                .collect();
            let mut links = Vec::new();
            for c in &cut {
                d.tunnels.remove(c);
                if let Some(conn) = d.conns.get(c) {
                    links.push(conn.link.clone());
                }
            }
            (orphans, links)
        };
        for here in orphans {
            self.viewer_gone(here, Gone::Left);
        }
        for link in cut {
            link.kill.notify_one();
        }
        *suspects = silent;
    }

    /// The link of this relay's viewer `conn` if it is tunnelled to relay `from` in tunnel
    /// `epoch` (only those take messages from the cluster; a late one from an earlier tunnel is
    /// dropped).
    pub(super) fn tunnelled_link(&self, conn: ConnId, from: &str, epoch: u64) -> Option<Link> {
        let d = self.lock();
        let current = d.tunnels.get(&conn)?;
        (current.relay == from && current.epoch == epoch).then_some(())?;
        d.conns.get(&conn).map(|c| c.link.clone())
    }

    /// What the cluster's copies of viewer `conn`'s guessing budgets say (nothing on a single
    /// relay, whose own budgets decide alone).
    pub(super) async fn guess_budget(&self, conn: ConnId) -> ClusterBudget {
        let Some(cluster) = self.cluster.get() else {
            return ClusterBudget::default();
        };
        // A viewer tunnelled here was checked by its own relay.
        let who = self
            .lock()
            .conns
            .get(&conn)
            .filter(|c| !c.remote)
            .and_then(|c| c.viewer.as_deref())
            .map(|(p, ip)| Guesser {
                ip: *ip,
                account: p.user_id,
                org: p.org_id,
            });
        match who {
            Some(who) => cluster.guess_budget(&who, &self.cfg.core.guessing).await,
            None => ClusterBudget::default(),
        }
    }

    /// Where `code` is shown if not here: on another relay of the cluster, nowhere, or
    /// unknown (Redis out of reach). Nowhere on a single relay.
    pub(super) async fn locate(&self, code: &str) -> Elsewhere {
        let Some(cluster) = self.cluster.get() else {
            return Elsewhere::Nowhere;
        };
        let hash = crate::auth::code_hash(&self.cfg.core.code_key, code);
        if self.lock().core.shows_code(&hash) {
            return Elsewhere::Nowhere;
        }
        cluster.locate_code(&hash).await
    }

    /// If the core just forwarded viewer `conn`, opens its tunnel: who it is, then the request
    /// `msg` that the other relay now answers.
    pub(super) fn open_tunnel(&self, conn: ConnId, msg: Message) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let (Tunnel { relay, epoch }, viewer) = {
            let d = self.lock();
            let Some(tunnel) = d.tunnels.get(&conn).cloned() else {
                return;
            };
            let Some(viewer) = d.conns.get(&conn).and_then(|c| c.viewer.clone()) else {
                return;
            };
            (tunnel, viewer)
        };
        let (principal, ip) = *viewer;
        let origin = cluster.id.clone();
        cluster.send(
            &relay,
            Envelope::Open {
                origin: origin.clone(),
                conn,
                epoch,
                family: principal.family.clone(),
                principal,
                ip,
            },
        );
        cluster.send(&relay, Envelope::FromViewer { origin, conn, msg });
    }

    async fn on_envelope(self: &Arc<Self>, envelope: Envelope) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        match envelope {
            Envelope::Open {
                origin,
                conn,
                mut principal,
                family,
                epoch,
                ip,
            } => {
                principal.family = family;
                let (link, rx) = Link::new();
                let kill = link.kill_signal();
                let here = self.register_viewer(link, principal, ip);
                {
                    let mut d = self.lock();
                    if let Some(c) = d.conns.get_mut(&here) {
                        c.remote = true;
                    }
                    d.remotes.insert((origin.clone(), conn), here);
                }
                tokio::spawn(forward(
                    Arc::downgrade(self),
                    cluster.clone(),
                    rx,
                    kill,
                    Remote {
                        origin,
                        conn,
                        epoch,
                    },
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
            Envelope::ToViewer {
                conn,
                from,
                epoch,
                msg,
            } => {
                if let Some(link) = self.tunnelled_link(conn, &from, epoch) {
                    link.send(msg);
                }
            }
            Envelope::CloseViewer { conn, from, epoch } => {
                if let Some(link) = self.tunnelled_link(conn, &from, epoch) {
                    link.kill.notify_one();
                }
            }
            Envelope::Revoke { revoked } => self.revoke_here(&revoked),
            Envelope::OrgChanged { org } => self.forget_org(org),
            Envelope::MachineRevoked { org, id } => self.disconnect_machine_here(org, id),
            Envelope::EndSession { org, session } => {
                self.end_session_here(org, &session);
            }
        }
    }
}

/// A tunnelled viewer as its own relay knows it: that relay, its connection there, the tunnel.
struct Remote {
    origin: String,
    conn: ConnId,
    epoch: u64,
}

/// Carries what the hub queues for a tunnelled viewer back to its relay, until the hub closes
/// the connection (then the viewer's relay closes its socket) or the viewer leaves.
async fn forward(
    hub: std::sync::Weak<Hub>,
    cluster: Arc<Cluster>,
    mut rx: mpsc::Receiver<Box<Message>>,
    kill: Arc<tokio::sync::Notify>,
    remote: Remote,
    here: ConnId,
) {
    let Remote {
        origin,
        conn,
        epoch,
    } = remote;
    let from = cluster.id.clone();
    let to_viewer = |msg: Box<Message>| Envelope::ToViewer {
        conn,
        from: from.clone(),
        epoch,
        msg: *msg,
    };
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => match msg {
                Some(msg) => cluster.send(&origin, to_viewer(msg)),
                None => return,
            },
            () = kill.notified() => {
                // What was queued before the close goes first.
                while let Ok(msg) = rx.try_recv() {
                    cluster.send(&origin, to_viewer(msg));
                }
                let from = from.clone();
                cluster.send(&origin, Envelope::CloseViewer { conn, from, epoch });
                if let Some(hub) = hub.upgrade() {
                    // Only this tunnel's entry: the viewer may have opened a newer one here.
                    let key = (origin.clone(), conn);
                    let known = {
                        let mut d = hub.lock();
                        let ours = d.remotes.get(&key) == Some(&here);
                        if ours {
                            d.remotes.remove(&key);
                        }
                        ours
                    };
                    if known {
                        hub.viewer_gone(here, Gone::Left);
                    }
                }
                return;
            }
        }
    }
}
