//! The hub's driver: runs [`HubCore`] under a lock, reads what it needs from the store before
//! (off the async workers), and applies its effects in the order they arose.
//!
//! Rows go to one writer thread ([`Applier`]), never written under the lock or on a tokio
//! worker. A message goes straight onto its connection's queue, unless the same input started
//! or ended a session (then it waits behind that input's rows, so whoever hears of a session
//! finds its row and audit entries) or earlier messages to that connection are still waiting
//! (so each connection hears everything in the core's order). Audit entries and share-code rows
//! hold nothing up; the API's audit and session lists wait for what is queued ([`Hub::flush`])
//! before they read. A slow disk delays only the connections that have something waiting on it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use tether_protocol::signal::{ErrorCode, ErrorMessage, FileRules, Hello, Message};
use tokio::sync::{Notify, mpsc, oneshot};

pub use super::core::{ConnId, CoreConfig, Gone, MachineLogin};
use super::core::{Effect, Elsewhere, HubCore, Input, Now, Write};
use super::metrics::{Counter, Metrics};
use crate::cluster::{Cluster, Envelope, Revocation};
use crate::store::offload::blocking;
use crate::store::{Principal, RecordingMode, Store, StoreError};

/// Queue depth per connection; a client that lets this fill up is disconnected.
pub const QUEUE_DEPTH: usize = 256;

/// Hub settings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// What the core needs.
    pub core: CoreConfig,
    /// Sessions whose TURN credentials are live (opened at `session_start`, closed at its end).
    pub turn_grants: Arc<crate::turn::grants::Grants>,
    /// Silence after which a socket counts as dead (pings go out at a third of it).
    pub heartbeat: Duration,
}

/// A connection's outbound side, held by the hub. The queue holds boxed messages: its slots
/// are allocated 32 at a time for every connection, idle or not, and a `Message` is 152 bytes.
#[derive(Debug, Clone)]
pub struct Link {
    pub(super) tx: mpsc::Sender<Box<Message>>,
    pub(super) kill: Arc<Notify>,
}

impl Link {
    /// A link and the receiving end for the socket's writer task.
    pub fn new() -> (Link, mpsc::Receiver<Box<Message>>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        (
            Link {
                tx,
                kill: Arc::new(Notify::new()),
            },
            rx,
        )
    }

    /// Notified when the hub wants the connection closed.
    pub fn kill_signal(&self) -> Arc<Notify> {
        self.kill.clone()
    }

    pub(super) fn send(&self, msg: Message) {
        if self.tx.try_send(Box::new(msg)).is_err() {
            // Full (the client stopped reading) or closed (already going away): either way the
            // connection cannot keep up with signaling, so it is closed rather than left stale.
            self.kill.notify_one();
        }
    }

    pub(super) fn error(&self, code: ErrorCode, message: &str) {
        self.send(Message::Error(ErrorMessage::new(code, message)));
    }
}

/// A connection as the driver knows it.
pub(super) struct Conn {
    pub(super) link: Link,
    /// A viewer's organisation, for what the driver reads on its behalf.
    org: Option<i64>,
    /// A viewer's identity and address, in case it is tunnelled to another relay.
    pub(super) viewer: Option<Box<(Principal, IpAddr)>>,
    /// An agent's enrolled machine, whose presence the cluster's directory keeps.
    pub(super) machine: Option<i64>,
    /// A viewer of another relay, tunnelled here.
    pub(super) remote: bool,
    /// Its messages (and close) waiting in the writer thread's queue.
    waiting: Arc<AtomicUsize>,
}

impl Conn {
    fn new(link: Link, viewer: Option<(Principal, IpAddr)>) -> Self {
        Conn {
            link,
            org: viewer.as_ref().map(|(p, _)| p.org_id),
            viewer: viewer.map(Box::new),
            machine: None,
            remote: false,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// Where a viewer of this relay is tunnelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tunnel {
    /// The relay that has the viewer's request.
    pub(super) relay: String,
    /// Tells this tunnel from the connection's earlier ones.
    pub(super) epoch: u64,
}

pub(super) struct Driven {
    pub(super) core: HubCore,
    pub(super) conns: HashMap<ConnId, Conn>,
    /// Viewers of this relay tunnelled to the relay that shows their code.
    pub(super) tunnels: HashMap<ConnId, Tunnel>,
    /// Viewers of other relays tunnelled here: (their relay, their connection there) → ours.
    pub(super) remotes: HashMap<(String, ConnId), ConnId>,
}

/// Store work that is not a row of the core's.
type StoreTask = Box<dyn FnOnce(&dyn Store) + Send>;

/// Work for the writer thread, done in order.
enum Job {
    Write(Write),
    Task(StoreTask),
    Send(Link, Message, Arc<AtomicUsize>),
    Close(Link, Arc<AtomicUsize>),
    Flushed(oneshot::Sender<()>),
}

/// The writer thread.
struct Applier {
    jobs: std_mpsc::Sender<Job>,
}

/// Share codes whose rows the database refused as duplicates of another relay's live code.
type Taken = Arc<Mutex<Vec<crate::auth::CodeHash>>>;

impl Applier {
    fn start(store: Arc<dyn Store>, taken: Taken) -> Applier {
        let (jobs, rx) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hub-writer".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Write(w) => {
                            let code = match &w {
                                Write::InsertCode { hash, .. } => Some(*hash),
                                _ => None,
                            };
                            let failed = write(store.as_ref(), w);
                            if let (Some(hash), Some(StoreError::Conflict(_))) = (code, failed) {
                                taken.lock().unwrap_or_else(|p| p.into_inner()).push(hash);
                            }
                        }
                        Job::Task(f) => f(store.as_ref()),
                        Job::Send(link, msg, waiting) => {
                            link.send(msg);
                            waiting.fetch_sub(1, Ordering::AcqRel);
                        }
                        Job::Close(link, waiting) => {
                            link.kill.notify_one();
                            waiting.fetch_sub(1, Ordering::AcqRel);
                        }
                        Job::Flushed(tx) => {
                            let _ = tx.send(());
                        }
                    }
                }
            })
            .expect("spawning the hub's writer thread");
        Applier { jobs }
    }

    fn push(&self, job: Job) {
        // Fails only if the thread is gone, which is only after the hub is.
        let _ = self.jobs.send(job);
    }
}

/// An organisation's file rules, and which sessions it records.
type OrgRules = (FileRules, RecordingMode);

/// How long an organisation's settings read for a request are reused.
const ORG_RULES_FOR: Duration = Duration::from_secs(5);

/// How long the writer keeps retrying a row while the database is locked by someone else.
const BUSY_PATIENCE: Duration = Duration::from_secs(120);

/// Writes one row, waiting out a database locked by another connection (a backup, a checkpoint
/// on a slow disk) for up to [`BUSY_PATIENCE`]; any other failure is logged (what the row
/// records has happened regardless) and returned, a conflict (a share code another relay
/// shows) without a log line.
fn write(store: &dyn Store, w: Write) -> Option<StoreError> {
    let started = Instant::now();
    let mut warned = false;
    loop {
        match write_once(store, &w) {
            Err((what, e)) if e.is_busy() && started.elapsed() < BUSY_PATIENCE => {
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!(error = %e, "{what}: the database is locked; waiting");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((_, e @ StoreError::Conflict(_))) => return Some(e),
            Err((what, e)) => {
                tracing::error!(error = %e, "{what} failed");
                return Some(e);
            }
            Ok(()) => return None,
        }
    }
}

type WriteResult = Result<(), (&'static str, StoreError)>;

fn write_once(store: &dyn Store, w: &Write) -> WriteResult {
    let (what, r) = match w {
        Write::Audit(e) => ("writing the audit log", store.append_audit(e)),
        Write::InsertCode {
            hash,
            hostname,
            created_at,
            expires_at,
        } => (
            "recording a share code",
            store.insert_share_code(hash, hostname, *created_at, *expires_at),
        ),
        Write::CloseCode { hash, state } => {
            ("closing a share code", store.close_share_code(hash, state))
        }
        Write::CreateSession(record) => ("recording a session", store.create_session(record)),
        Write::CreateRecording(row) => ("starting a recording", store.create_recording(row)),
        Write::EndSession {
            org,
            id,
            at,
            reason,
            chat_messages,
        } => (
            "recording a session end",
            store.end_session(*org, id, *at, reason, *chat_messages),
        ),
    };
    r.map_err(|e| (what, e))
}

/// The signaling hub.
pub struct Hub {
    inner: Mutex<Driven>,
    next_id: AtomicU64,
    applier: Applier,
    pub(super) store: Arc<dyn Store>,
    pub(super) cfg: HubConfig,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Each pooled TURN server and whether it answers, for `/metrics`.
    turn_states: Mutex<Vec<(String, bool)>>,
    /// The other relays, if this one is part of a cluster.
    pub(super) cluster: std::sync::OnceLock<Arc<Cluster>>,
    /// Organisations' file rules and when they were read.
    org_rules: Mutex<HashMap<i64, (OrgRules, Instant)>>,
    /// Changes announced to organisations' settings so far (a read that overlapped one is not
    /// kept).
    org_changes: AtomicU64,
    /// Codes another relay shows too, found by the writer thread, replaced at the next tick.
    taken: Taken,
}

impl Hub {
    /// A hub over `store`.
    pub fn new(store: Arc<dyn Store>, cfg: HubConfig) -> Self {
        let taken = Taken::default();
        Hub {
            inner: Mutex::new(Driven {
                core: HubCore::new(cfg.core.clone(), Now::current()),
                conns: HashMap::new(),
                tunnels: HashMap::new(),
                remotes: HashMap::new(),
            }),
            cluster: std::sync::OnceLock::new(),
            org_rules: Mutex::new(HashMap::new()),
            org_changes: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            applier: Applier::start(store.clone(), taken.clone()),
            taken,
            store,
            cfg,
            metrics: Metrics::default(),
            turn_states: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Driven> {
        // A panic while holding the lock is a bug; the state itself stays structurally valid
        // (every mutation is a single map operation), so carry on rather than take the relay down.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the core at the current time and applies what it asked for.
    fn run<R>(&self, f: impl FnOnce(&mut HubCore, Now) -> R) -> R {
        let started = Instant::now();
        let mut d = self.lock();
        let r = f(&mut d.core, Now::current());
        // Rows first, then messages in their order: whoever hears of a session can read it.
        let mut messages = Vec::new();
        let mut wrote = false;
        while let Some(effect) = d.core.poll_effect() {
            match effect {
                Effect::Send(..) | Effect::Close(_) => messages.push(effect),
                Effect::Write(w) => {
                    wrote |= matches!(
                        w,
                        Write::CreateSession(_)
                            | Write::CreateRecording(_)
                            | Write::EndSession { .. }
                    );
                    if let Some(cluster) = self.cluster.get() {
                        directory(cluster, &w);
                    }
                    self.applier.push(Job::Write(w));
                }
                Effect::Forward { conn, relay } => {
                    let epoch = self.next_conn();
                    d.tunnels.insert(conn, Tunnel { relay, epoch });
                }
                _ => self.apply(effect, started),
            }
        }
        for effect in messages {
            let (Effect::Send(c, _) | Effect::Close(c)) = effect else {
                continue;
            };
            let Some(conn) = d.conns.get(&c) else {
                continue;
            };
            let (link, waiting) = (conn.link.clone(), conn.waiting.clone());
            if wrote || waiting.load(Ordering::Acquire) > 0 {
                waiting.fetch_add(1, Ordering::AcqRel);
                self.applier.push(match effect {
                    Effect::Send(_, msg) => Job::Send(link, msg, waiting),
                    _ => Job::Close(link, waiting),
                });
            } else if let Effect::Send(_, msg) = effect {
                link.send(msg);
            } else {
                link.kill.notify_one();
            }
        }
        r
    }

    /// Applies an effect that is neither a row nor a message.
    fn apply(&self, effect: Effect, started: Instant) {
        match effect {
            Effect::Send(..) | Effect::Close(_) | Effect::Write(_) | Effect::Forward { .. } => {}
            Effect::Count(c) => {
                self.metrics.inc(c);
                if c == Counter::ConnectOk {
                    self.metrics.observe_connect(started.elapsed());
                }
            }
            Effect::TurnOpen { session, username } => {
                self.cfg.turn_grants.open(session.as_str(), &username)
            }
            Effect::TurnClose(session) => self.cfg.turn_grants.close(session.as_str()),
            Effect::GuessCharged { who, locked } => {
                if let Some(cluster) = self.cluster.get() {
                    cluster.charge_guess(&who, locked, &self.cfg.core.guessing);
                }
            }
        }
    }

    /// Writes `w` after everything queued so far.
    pub(super) fn persist(&self, w: Write) {
        self.applier.push(Job::Write(w));
    }

    /// Runs `f` on the writer thread after everything queued so far.
    pub(super) fn persist_with(&self, f: impl FnOnce(&dyn Store) + Send + 'static) {
        self.applier.push(Job::Task(Box::new(f)));
    }

    /// Waits until every row queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.applier.push(Job::Flushed(tx));
        let _ = rx.await;
    }

    /// [`Hub::flush`], waiting at most `limit`.
    pub async fn flush_within(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.flush()).await;
    }

    /// Numbers of connected agents, viewers and live sessions (for `/metrics`).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.lock().core.counts()
    }

    /// The Prometheus text for `/metrics`.
    pub fn metrics_text(&self) -> String {
        let (a, v, s) = self.counts();
        let mut text = self.metrics.render(a, v, s);
        let states = self.turn_states.lock().unwrap_or_else(|p| p.into_inner());
        if !states.is_empty() {
            text.push_str(
                "# HELP tether_turn_server_up Whether a pooled TURN server answers probes.\n",
            );
            text.push_str("# TYPE tether_turn_server_up gauge\n");
            for (url, up) in states.iter() {
                let url = url.replace('\\', "\\\\").replace('"', "\\\"");
                text.push_str(&format!(
                    "tether_turn_server_up{{url=\"{url}\"}} {}\n",
                    u8::from(*up)
                ));
            }
        }
        text
    }

    fn next_conn(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers an agent that said `hello` (and, for an enrolled machine, proved its key) and
    /// issues its first share code. A machine's earlier connection, if any, is closed.
    /// `None` (the agent told why) if `ip` already holds as many share-code sockets as allowed;
    /// enrolled machines are not counted.
    pub fn register_agent(
        &self,
        link: Link,
        hello: Hello,
        machine: Option<MachineLogin>,
        ip: IpAddr,
    ) -> Option<ConnId> {
        let conn = self.next_conn();
        self.lock().conns.insert(conn, Conn::new(link, None));
        let input = Input::AgentJoined {
            conn,
            hello,
            machine,
            ip,
        };
        let joined = self.run(|core, now| {
            core.handle(now, input);
            core.is_agent(conn)
        });
        if !joined {
            self.lock().conns.remove(&conn);
        } else if let Some(m) = machine {
            if let Some(c) = self.lock().conns.get_mut(&conn) {
                c.machine = Some(m.id);
            }
            if let Some(cluster) = self.cluster.get() {
                cluster.renew_machine(m.id);
            }
        }
        joined.then_some(conn)
    }

    /// Registers an authenticated viewer.
    pub fn register_viewer(&self, link: Link, principal: Principal, ip: IpAddr) -> ConnId {
        let conn = self.next_conn();
        let conn_state = Conn::new(link, Some((principal.clone(), ip)));
        self.lock().conns.insert(conn, conn_state);
        let input = Input::ViewerJoined {
            conn,
            principal,
            ip,
        };
        self.run(|core, now| core.handle(now, input));
        conn
    }

    /// Handles one decoded message from an agent.
    pub fn on_agent_message(&self, conn: ConnId, msg: Message) {
        self.run(|core, now| core.handle(now, Input::FromAgent { conn, msg }));
    }

    /// Handles one decoded message from a viewer; what `connect` and `connect_machine` need
    /// from the store is read first, without the lock and off the async workers.
    pub async fn on_viewer_message(&self, conn: ConnId, msg: Message) {
        let new_request = matches!(msg, Message::Connect(_) | Message::ConnectMachine(_));
        let tunnel = self.lock().tunnels.get(&conn).map(|t| t.relay.clone());
        if let (Some(relay), Some(cluster)) = (tunnel, self.cluster.get()) {
            if !new_request {
                let origin = cluster.id.clone();
                return cluster.send(&relay, Envelope::FromViewer { origin, conn, msg });
            }
            // A new request may be for another relay (or this one): leave the old one.
            self.lock().tunnels.remove(&conn);
            let origin = cluster.id.clone();
            cluster.send(&relay, Envelope::ViewerGone { origin, conn });
        }
        let org = self.lock().conns.get(&conn).and_then(|c| c.org);
        // A new request is sent on as it came if the core forwards it; nothing else is kept.
        let forwarded = (new_request && self.cluster.get().is_some()).then(|| msg.clone());
        let input = match (msg, org) {
            (Message::Connect(c), Some(org)) => {
                // One read of the store and two of the cluster, at once.
                let ((files, record), elsewhere, cluster) = tokio::join!(
                    self.org_rules(org),
                    self.locate(c.code.as_str()),
                    self.guess_budget(conn)
                );
                Input::Connect {
                    conn,
                    code: c.code.as_str().to_owned(),
                    mode: c.mode,
                    files,
                    record,
                    elsewhere,
                    cluster,
                }
            }
            (Message::ConnectMachine(c), Some(org)) => {
                let id = c.machine_id;
                let read =
                    blocking(&self.store, move |s| Ok(s.machine(org, id)?.map(Box::new))).await;
                let machine = read.map_err(|e| {
                    tracing::error!(error = %e, "reading a machine failed");
                });
                let elsewhere = match self.cluster.get() {
                    Some(cluster) => cluster.locate_machine(id).await,
                    None => Elsewhere::Nowhere,
                };
                let (files, record) = self.org_rules(org).await;
                Input::ConnectMachine {
                    conn,
                    machine_id: c.machine_id,
                    mode: c.mode,
                    machine,
                    files,
                    record,
                    elsewhere,
                }
            }
            (msg, _) => Input::FromViewer { conn, msg },
        };
        self.run(|core, now| core.handle(now, input));
        if let Some(msg) = forwarded {
            self.open_tunnel(conn, msg);
        }
    }

    /// The organisation's file rules and which sessions it records, as they are now
    /// (read at most [`ORG_RULES_FOR`] ago, and read again at once after a change). When they
    /// cannot be read: no files, and recorded (an agent that cannot record is refused).
    async fn org_rules(&self, org: i64) -> OrgRules {
        let cached = self
            .org_rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&org)
            .copied();
        if let Some((rules, at)) = cached
            && at.elapsed() < ORG_RULES_FOR
        {
            return rules;
        }
        let generation = self.org_changes.load(Ordering::Acquire);
        let read = blocking(&self.store, move |s| {
            Ok((s.org_files(org)?, s.recording_settings(org)?.mode))
        })
        .await;
        match read {
            Ok(rules) => {
                let mut cache = self.org_rules.lock().unwrap_or_else(|p| p.into_inner());
                cache.retain(|_, (_, at)| at.elapsed() < ORG_RULES_FOR);
                // A change announced while this read was under way may have come after it.
                if self.org_changes.load(Ordering::Acquire) == generation {
                    cache.insert(org, (rules, Instant::now()));
                }
                rules
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the organisation's session rules failed");
                (FileRules::NONE, RecordingMode::Always)
            }
        }
    }

    /// An organisation's settings changed: every relay reads them again.
    pub fn org_changed(&self, org: i64) {
        self.forget_org(org);
        if let Some(cluster) = self.cluster.get() {
            cluster.broadcast(Envelope::OrgChanged { org });
        }
    }

    /// Drops what this relay remembers of an organisation's settings.
    pub(super) fn forget_org(&self, org: i64) {
        let mut cache = self.org_rules.lock().unwrap_or_else(|p| p.into_inner());
        self.org_changes.fetch_add(1, Ordering::AcqRel);
        cache.remove(&org);
    }

    /// An agent's socket closed.
    pub fn agent_gone(&self, conn: ConnId, why: Gone) {
        self.run(|core, now| core.handle(now, Input::AgentGone { conn, why }));
        let machine = {
            let mut d = self.lock();
            let machine = d.conns.remove(&conn).and_then(|c| c.machine);
            // An agent that reconnected here already holds its machine's presence again.
            machine.filter(|id| !d.conns.values().any(|c| c.machine == Some(*id)))
        };
        if let (Some(id), Some(cluster)) = (machine, self.cluster.get()) {
            cluster.release_machine(id);
        }
    }

    /// A viewer's socket closed.
    pub fn viewer_gone(&self, conn: ConnId, why: Gone) {
        self.run(|core, now| core.handle(now, Input::ViewerGone { conn, why }));
        let tunnel = {
            let mut d = self.lock();
            d.conns.remove(&conn);
            d.tunnels.remove(&conn).map(|t| t.relay)
        };
        if let (Some(relay), Some(cluster)) = (tunnel, self.cluster.get()) {
            let origin = cluster.id.clone();
            cluster.send(&relay, Envelope::ViewerGone { origin, conn });
        }
    }

    /// Applies due deadlines: code expiry, consent timeouts, maximum session length.
    pub fn tick(&self) {
        let taken = std::mem::take(&mut *self.taken.lock().unwrap_or_else(|p| p.into_inner()));
        if !taken.is_empty() {
            tracing::info!(
                codes = taken.len(),
                "share codes another relay shows too; replacing them"
            );
            self.run(|core, now| {
                for hash in &taken {
                    core.code_taken(now, hash);
                }
            });
        }
        self.run(|core, now| core.handle_timeout(now));
        super::core::shrink(&mut self.lock().conns);
    }

    /// Relay shutdown: ends every session with `relay_shutdown`, closes every socket, so
    /// clients learn at once and reconnect to the next instance, and waits for the rows.
    pub async fn shutdown(&self) {
        self.run(|core, now| core.shutdown(now));
        self.flush().await;
    }

    /// Ends a live session of `org` on an administrator's request; false if there is none here.
    /// In a cluster every other relay is told too (the session may be on any of them).
    pub fn end_session_by_admin(&self, org: i64, session_id: &str) -> bool {
        let ended = self.end_session_here(org, session_id);
        if let (false, Some(cluster)) = (ended, self.cluster.get()) {
            let session = session_id.to_owned();
            cluster.broadcast(Envelope::EndSession { org, session });
        }
        ended
    }

    /// [`Hub::end_session_by_admin`] on this relay only.
    pub(super) fn end_session_here(&self, org: i64, session_id: &str) -> bool {
        self.run(|core, now| core.end_session_by_admin(now, org, session_id))
    }

    /// Whether this relay is one of a cluster.
    pub fn in_cluster(&self) -> bool {
        self.cluster.get().is_some()
    }

    /// TURN credentials for `id`, valid for `ttl_secs`.
    pub fn mint_turn(&self, id: &str, ttl_secs: u64) -> crate::turn::credentials::TurnCredential {
        crate::turn::credentials::mint(
            &self.cfg.core.turn_secret,
            id,
            crate::unix_secs() + ttl_secs,
        )
    }

    /// Closes every viewer connection of the sign-ins `revoked` covers (logout, revocation,
    /// role change), on this relay and every other of the cluster: the socket is told
    /// `unauthorized` and closed, ending its sessions.
    pub fn revoke(&self, revoked: Revocation) {
        self.revoke_here(&revoked);
        if let Some(cluster) = self.cluster.get() {
            cluster.broadcast(Envelope::Revoke { revoked });
        }
    }

    /// [`Hub::revoke`] on this relay only.
    pub(super) fn revoke_here(&self, revoked: &Revocation) {
        self.run(|core, _| core.revoke_viewers(|p| revoked.covers(p)));
    }

    /// The ids of `org`'s machines whose agents are connected.
    pub fn online_machines(&self, org: i64) -> Vec<i64> {
        self.lock().core.online_machines(org)
    }

    /// The TURN pool's latest health: the servers new sessions may be given, and each server's
    /// state (for `/metrics`).
    pub fn set_turn_health(&self, usable: Vec<String>, states: Vec<(String, bool)>) {
        self.lock().core.set_turn_servers(usable);
        *self.turn_states.lock().unwrap_or_else(|p| p.into_inner()) = states;
    }

    /// Closes the connection of a revoked machine, on whichever relay of the cluster holds it;
    /// its sessions end.
    pub fn disconnect_machine(&self, org: i64, machine_id: i64) {
        self.disconnect_machine_here(org, machine_id);
        if let Some(cluster) = self.cluster.get() {
            cluster.broadcast(Envelope::MachineRevoked {
                org,
                id: machine_id,
            });
        }
    }

    /// The codes shown here and how long a code lives at most ([`HubCore::live_codes`]).
    pub(super) fn live_codes(&self) -> (Vec<crate::auth::CodeHash>, Duration) {
        self.run(|core, _| core.live_codes())
    }

    /// [`Hub::disconnect_machine`] on this relay only.
    pub(super) fn disconnect_machine_here(&self, org: i64, machine_id: i64) {
        self.run(|core, _| core.disconnect_machine(org, machine_id));
    }
}

/// Keeps the cluster's directory in step with a row the core wrote: a live code is claimed
/// for as long as it lives, an ended one released.
fn directory(cluster: &Cluster, w: &Write) {
    match w {
        Write::InsertCode {
            hash,
            created_at,
            expires_at,
            ..
        } => {
            let ttl = Duration::from_millis((*expires_at - *created_at).max(1) as u64);
            cluster.claim_code(hash, ttl);
        }
        Write::CloseCode { hash, .. } => cluster.release_code(hash),
        _ => {}
    }
}
