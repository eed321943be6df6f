//! Relays that route to each other through Redis (`redis_url`): a supporter signed in on one
//! relay reaches an agent connected to another.
//!
//! - **Where things are.** A relay that issues a share code records which relay holds it
//!   (`<prefix>code:<hash>` → relay id, expiring with the code) and removes it when the code ends.
//! - **The viewer's socket is tunnelled.** When a supporter types a code that lives on another
//!   relay, their relay's hub core answers with a forward instead of a consent request, and from
//!   then on the socket's messages travel to the agent's relay over Redis pub/sub
//!   (`<prefix>relay:<id>`), where the viewer appears as a connection of its own whose messages
//!   travel back the same way. Consent, SDP, ICE and `session_end` therefore cross relays
//!   unchanged, and the session's state and rows stay with the agent's relay.
//! - **Machines.** A relay records the enrolled machines whose agents it holds
//!   (`<prefix>machine:<id>`, renewed every 10 s, expiring 30 s later), so `connect_machine` and
//!   the machine list work from any relay.
//! - **Guessing budgets.** Every relay charges a wrong share code to the cluster's copies of the
//!   guesser's account, address, organisation and cluster-wide buckets
//!   (`<prefix>guess:…`, each the Unix time it is full again) as well as its own, and reads them
//!   in one round trip before each code is tried: attempts spread over relays buy nothing.
//! - **Liveness.** Each relay sets `<prefix>alive:<id>` every second for 5 s. Codes and machines
//!   of a relay that stopped are not found; the others let go of the tunnels to and from it.
//! - **Order.** One task publishes every envelope of a relay in turn, and Redis delivers one
//!   publisher's messages to a subscriber in order, so each direction of a tunnel keeps its
//!   order.
//!
//! Every key and channel starts with `tether:<tag>:`, the tag derived from the relay key the
//! cluster's relays share, so two clusters can use one Redis server.
//!
//! Redis is trusted as the relays' private network: it carries who a viewer is. Give it a
//! password (`redis://:password@host/`) and keep it off the internet.

mod held;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use held::{Held, Outgoing};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tether_protocol::signal::Message;
use tokio::sync::{mpsc, watch};

use crate::signaling::budget::{ClusterBudget, GuessRules, Guesser, Scope};
use crate::signaling::core::Elsewhere;
use crate::signaling::hub::ConnId;
use crate::store::Principal;

/// A message between relays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Envelope {
    /// A viewer of relay `origin` (its connection `conn` there) is now tunnelled here.
    Open {
        /// The viewer's relay.
        origin: String,
        /// Its connection there.
        conn: ConnId,
        /// Who signed in.
        principal: Principal,
        /// Which tunnel of that connection this is: messages back name it, so none from an
        /// earlier tunnel reaches the viewer after it moved on.
        epoch: u64,
        /// Their sign-in (the principal's token family, which it does not serialise), so
        /// revocations that spare it spare it here too.
        family: String,
        /// The client address.
        ip: IpAddr,
    },
    /// A message from a tunnelled viewer.
    FromViewer {
        /// The viewer's relay.
        origin: String,
        /// Its connection there.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// A tunnelled viewer's socket closed (or the tunnel moved elsewhere).
    ViewerGone {
        /// The viewer's relay.
        origin: String,
        /// Its connection there.
        conn: ConnId,
    },
    /// A message for a viewer connected here.
    ToViewer {
        /// The viewer's connection here.
        conn: ConnId,
        /// The relay sending it.
        from: String,
        /// The tunnel it belongs to (see [`Envelope::Open`]).
        epoch: u64,
        /// The message.
        msg: Message,
    },
    /// Close a viewer connected here.
    CloseViewer {
        /// The viewer's connection here.
        conn: ConnId,
        /// The relay sending it.
        from: String,
        /// The tunnel it belongs to.
        epoch: u64,
    },
    /// To every relay: close the viewer sockets of these sign-ins.
    Revoke {
        /// Whose.
        revoked: Revocation,
    },
    /// To every relay: close machine `id` of `org`'s connection (it was revoked).
    MachineRevoked {
        /// The organisation.
        org: i64,
        /// The machine.
        id: i64,
    },
    /// To every relay: an administrator of `org` ended session `session`.
    EndSession {
        /// The organisation.
        org: i64,
        /// The session.
        session: String,
    },
    /// To every relay: an organisation's settings changed; read them again.
    OrgChanged {
        /// The organisation.
        org: i64,
    },
}

/// Sign-ins whose open viewer sockets must close, on every relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Revocation {
    /// One sign-in (its refresh-token family): a logout.
    Family {
        /// The family.
        family: String,
    },
    /// Every sign-in of a member, but `keep` (the caller's own, when they changed their
    /// password).
    Member {
        /// The organisation.
        org: i64,
        /// The member.
        user: i64,
        /// A family left open.
        keep: Option<String>,
    },
}

impl Revocation {
    /// Whether it covers `p`'s sign-in.
    pub fn covers(&self, p: &Principal) -> bool {
        match self {
            Revocation::Family { family } => p.family == *family,
            Revocation::Member { org, user, keep } => {
                p.org_id == *org && p.user_id == *user && keep.as_deref() != Some(p.family.as_str())
            }
        }
    }
}

/// What a relay asks of Redis, done in order by one task.
#[derive(Debug)]
enum Command {
    Publish {
        to: String,
        envelope: Box<Envelope>,
    },
    Claim {
        key: String,
        ttl: Duration,
        only_new: bool,
    },
    Release {
        key: String,
    },
    Charge {
        key: String,
        every: Duration,
    },
    Lock {
        key: String,
        every: Duration,
        until: Duration,
    },
}

/// How long a relay counts as alive after its last heartbeat…
const ALIVE_FOR: Duration = Duration::from_secs(5);
/// …which it sends this often.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a command that failed because Redis went away waits before it is sent once more.
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// The pause between sendings of envelopes nobody received yet.
const RESEND_EVERY: Duration = Duration::from_millis(200);
/// How long a machine's presence lasts unless its relay renews it (see [`Cluster::renew_machine`]).
pub const MACHINE_PRESENCE: Duration = Duration::from_secs(30);

/// The relay a key names, if that relay is alive (one round trip).
const LOCATE: &str = "local r = redis.call('GET', KEYS[1])
if r and redis.call('EXISTS', ARGV[1] .. r) == 1 then return r end
return false";

/// How long (ms) until each shared guessing bucket holds a token: KEYS[i] is when it is full
/// again (Unix ms, Redis's clock), ARGV[i] how far in debt it may be and still hold one.
const BUCKET_WAITS: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local waits = {}
for i, key in ipairs(KEYS) do
local wait = tonumber(redis.call('GET', key) or '0') - (now + tonumber(ARGV[i]))
if wait < 0 then wait = 0 end
waits[i] = wait
end
return waits";

/// Takes one token from a shared guessing bucket: it is full again ARGV[1] ms later.
const BUCKET_TAKE: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local full = tonumber(redis.call('GET', KEYS[1]) or '0')
if full < now then full = now end
full = full + tonumber(ARGV[1])
redis.call('SET', KEYS[1], full, 'PX', full - now + 1000)
return 1";

/// Takes one token from an account's shared guessing bucket (full again ARGV[1] ms later) and
/// locks it: full again no sooner than ARGV[2] ms from now.
const BUCKET_LOCK: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local full = tonumber(redis.call('GET', KEYS[1]) or '0')
if full < now then full = now end
full = full + tonumber(ARGV[1])
local locked = now + tonumber(ARGV[2])
if full < locked then full = locked end
redis.call('SET', KEYS[1], full, 'PX', full - now + 1000)
return 1";

/// Deletes a key only if it still names this relay (another may have taken it since).
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then
return redis.call('DEL', KEYS[1]) end
return 0";

/// This relay's place in the cluster.
pub struct Cluster {
    /// This relay's id, unique for the life of the process.
    pub id: String,
    names: Names,
    commands: mpsc::UnboundedSender<Command>,
    lookups: redis::aio::ConnectionManager,
    /// Counts the times this relay subscribed again after losing Redis.
    reconnected: watch::Receiver<u64>,
}

/// Errors reaching Redis.
pub type ClusterError = redis::RedisError;

/// The names of a cluster's keys and channels, all under one prefix derived from the relay key
/// the cluster's relays share: two clusters on one Redis never see each other's.
#[derive(Debug, Clone)]
struct Names {
    prefix: String,
}

impl Names {
    fn new(relay_key: &[u8]) -> Names {
        let tag = crate::auth::derive_key(relay_key, "cluster-namespace");
        Names {
            prefix: format!("tether:{}:", hex::encode(&tag[..6])),
        }
    }

    fn relay_channel(&self, id: &str) -> String {
        format!("{}relay:{id}", self.prefix)
    }

    /// The channel every relay listens to.
    fn every_relay(&self) -> String {
        format!("{}relays", self.prefix)
    }

    fn code(&self, hash: &[u8]) -> String {
        format!("{}code:{}", self.prefix, hex::encode(hash))
    }

    fn machine(&self, id: i64) -> String {
        format!("{}machine:{id}", self.prefix)
    }

    /// The cluster's copy of a guessing bucket.
    fn budget(&self, scope: &Scope) -> String {
        let p = &self.prefix;
        match scope {
            Scope::Account(user) => format!("{p}guess:account:{user}"),
            Scope::Address(ip) => format!("{p}guess:address:{ip}"),
            Scope::Org(org) => format!("{p}guess:org:{org}"),
            Scope::Relay => format!("{p}guess:cluster"),
        }
    }

    fn alive_prefix(&self) -> String {
        format!("{}alive:", self.prefix)
    }

    fn alive(&self, id: &str) -> String {
        format!("{}{id}", self.alive_prefix())
    }
}

/// How the connections to Redis come back after losing it. The library's default retries six
/// times, 100 ms to 3.2 s apart, before a request fails: a supporter typing a code while Redis
/// was down waited 9.5 s to be told to try again. Two quick retries, then the request fails
/// (and the next one tries again); no request waits on Redis for more than a few seconds.
fn managed() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
}

impl Cluster {
    /// Connects to Redis at `url`, subscribes to this relay's channel and starts the task that
    /// sends commands; envelopes for this relay arrive on the returned receiver.
    /// The relays of one cluster share `relay_key`; it also keeps their names in Redis apart
    /// from another cluster's.
    pub async fn join(
        url: &str,
        relay_key: &[u8],
    ) -> Result<(Arc<Cluster>, mpsc::Receiver<Envelope>), ClusterError> {
        // Small commands and messages, each awaited: left to Nagle's algorithm, one written
        // while an earlier one was unacknowledged waited for Redis's delayed ACK (up to 40 ms).
        let info = redis::IntoConnectionInfo::into_connection_info(url)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info)?;
        let id = crate::auth::new_id("rl_");
        let names = Names::new(relay_key);
        let commands_conn = client.get_connection_manager_with_config(managed()).await?;
        let lookups = client.get_connection_manager_with_config(managed()).await?;
        let (commands, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_commands(
            commands_conn,
            id.clone(),
            names.clone(),
            queue,
        ));
        let beat = commands.clone();
        let alive = names.alive(&id);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            loop {
                every.tick().await;
                let claim = Command::Claim {
                    key: alive.clone(),
                    ttl: ALIVE_FOR,
                    only_new: false,
                };
                if beat.send(claim).is_err() {
                    return;
                }
            }
        });
        let (deliver, inbox) = mpsc::channel(4096);
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub
            .subscribe(&[names.relay_channel(&id), names.every_relay()])
            .await?;
        let (reconnects, reconnected) = watch::channel(0u64);
        tokio::spawn(receive(
            client,
            id.clone(),
            names.clone(),
            pubsub,
            deliver,
            reconnects,
        ));
        tracing::info!(relay = %id, "joined the relay cluster");
        Ok((
            Arc::new(Cluster {
                id,
                names,
                commands,
                lookups,
                reconnected,
            }),
            inbox,
        ))
    }

    /// Sends `envelope` to relay `to`.
    pub fn send(&self, to: &str, envelope: Envelope) {
        let _ = self.commands.send(Command::Publish {
            to: to.to_owned(),
            envelope: Box::new(envelope),
        });
    }

    /// Sends `envelope` to every relay, this one included.
    pub fn broadcast(&self, envelope: Envelope) {
        let _ = self.commands.send(Command::Publish {
            to: String::new(),
            envelope: Box::new(envelope),
        });
    }

    /// Records that this relay holds the code with keyed hash `hash` for `ttl`, unless another
    /// relay already does (the database then refuses this relay's row too, and the agent here
    /// gets another code).
    pub fn claim_code(&self, hash: &[u8], ttl: Duration) {
        let key = self.names.code(hash);
        let only_new = true;
        let _ = self.commands.send(Command::Claim { key, ttl, only_new });
    }

    /// Changes each time this relay finds Redis again after losing it. Redis may have come back
    /// empty (a restart without persistence, a failover), so what this relay holds must be
    /// claimed again.
    pub fn reconnections(&self) -> watch::Receiver<u64> {
        self.reconnected.clone()
    }

    /// Forgets the code with keyed hash `hash` (used, expired or void).
    pub fn release_code(&self, hash: &[u8]) {
        let key = self.names.code(hash);
        let _ = self.commands.send(Command::Release { key });
    }

    /// Records (again) that enrolled machine `id`'s agent is connected here, for
    /// [`MACHINE_PRESENCE`]; the relay renews it well before then.
    pub fn renew_machine(&self, id: i64) {
        let key = self.names.machine(id);
        let ttl = MACHINE_PRESENCE;
        let only_new = false;
        let _ = self.commands.send(Command::Claim { key, ttl, only_new });
    }

    /// Forgets that machine `id` is connected here, unless it has since connected to another
    /// relay.
    pub fn release_machine(&self, id: i64) {
        let key = self.names.machine(id);
        let _ = self.commands.send(Command::Release { key });
    }

    /// What the cluster's copies of `who`'s guessing buckets say (`rules` are their shapes),
    /// in one round trip. Nothing (the default) if Redis cannot be asked: each relay's own
    /// budgets still apply.
    pub async fn guess_budget(&self, who: &Guesser, rules: &GuessRules) -> ClusterBudget {
        let mut eval = redis::cmd("EVAL");
        eval.arg(BUCKET_WAITS).arg(4);
        let scopes = std::iter::once(who.own()).chain(who.shared());
        let scopes: Vec<Scope> = scopes.collect();
        for scope in &scopes {
            eval.arg(self.names.budget(scope));
        }
        for scope in &scopes {
            eval.arg(rules.bucket(scope).slack().as_millis() as u64);
        }
        let mut conn = self.lookups.clone();
        let waits: Result<Vec<u64>, _> = eval.query_async(&mut conn).await;
        match waits.as_deref() {
            Ok([account, shared @ ..]) => ClusterBudget {
                account_wait: Duration::from_millis(*account),
                campaign: shared.iter().any(|&w| w > 0),
            },
            Ok(_) => ClusterBudget::default(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the shared guessing budgets failed");
                ClusterBudget::default()
            }
        }
    }

    /// Charges one wrong code to the cluster's copies of `who`'s buckets (`rules` are their
    /// shapes) and, if it `locked` the account, locks the account's copy too.
    pub fn charge_guess(&self, who: &Guesser, locked: bool, rules: &GuessRules) {
        for scope in who.shared() {
            let key = self.names.budget(&scope);
            let every = rules.bucket(&scope).every();
            let _ = self.commands.send(Command::Charge { key, every });
        }
        let own = who.own();
        let key = self.names.budget(&own);
        let every = rules.bucket(&own).every();
        let command = if locked {
            let until = rules.bucket(&own).slack().saturating_add(rules.lock());
            Command::Lock { key, every, until }
        } else {
            Command::Charge { key, every }
        };
        let _ = self.commands.send(command);
    }

    /// The other live relay that holds the code with keyed hash `hash`, if any.
    pub async fn locate_code(&self, hash: &[u8]) -> Elsewhere {
        self.locate(self.names.code(hash)).await
    }

    /// The other live relay that enrolled machine `id`'s agent is connected to, if any.
    pub async fn locate_machine(&self, id: i64) -> Elsewhere {
        self.locate(self.names.machine(id)).await
    }

    /// Whether each of enrolled machines `ids` is connected to a live relay of the cluster (this
    /// one included). Unknown (all false) if Redis cannot be asked.
    pub async fn machines_present(&self, ids: &[i64]) -> Vec<bool> {
        if ids.is_empty() {
            return Vec::new();
        }
        let mut conn = self.lookups.clone();
        let mut located = redis::pipe();
        for id in ids {
            located
                .cmd("EVAL")
                .arg(LOCATE)
                .arg(1)
                .arg(self.names.machine(*id))
                .arg(self.names.alive_prefix());
        }
        match located.query_async::<Vec<Option<String>>>(&mut conn).await {
            Ok(found) => found.iter().map(Option::is_some).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "looking up machines in the cluster failed");
                vec![false; ids.len()]
            }
        }
    }

    async fn locate(&self, key: String) -> Elsewhere {
        let mut conn = self.lookups.clone();
        let mut locate = redis::cmd("EVAL");
        locate
            .arg(LOCATE)
            .arg(1)
            .arg(&key)
            .arg(self.names.alive_prefix());
        // A read: asked once more if the connection had to come back first.
        let mut found: Result<Option<String>, _> = locate.query_async(&mut conn).await;
        if found.as_ref().is_err_and(went_away) {
            tokio::time::sleep(RETRY_AFTER).await;
            found = locate.query_async(&mut conn).await;
        }
        match found {
            Ok(Some(relay)) if relay != self.id => Elsewhere::On(relay),
            Ok(_) => Elsewhere::Nowhere,
            Err(e) => {
                tracing::warn!(error = %e, "looking up {key} in the cluster failed");
                Elsewhere::Unknown
            }
        }
    }

    /// Which of `relays` are alive (sent a heartbeat within the last few seconds). A relay
    /// that cannot ask Redis counts every one as alive.
    pub async fn alive(&self, relays: &[String]) -> Vec<bool> {
        if relays.is_empty() {
            return Vec::new();
        }
        let mut conn = self.lookups.clone();
        let mut exists = redis::pipe();
        for r in relays {
            exists.cmd("EXISTS").arg(self.names.alive(r));
        }
        match exists.query_async::<Vec<bool>>(&mut conn).await {
            Ok(alive) => alive,
            Err(e) => {
                tracing::warn!(error = %e, "checking which relays are alive failed");
                vec![true; relays.len()]
            }
        }
    }
}

/// Sends the commands in order, as many as are waiting in one pipeline (one round trip), so a
/// burst never queues behind round trips; a failure is logged and the next batch goes on (the
/// connection manager reconnects by itself). An envelope for another relay that nobody
/// received (Redis was away, or that relay is still subscribing again) is sent again, with
/// the ones after it for that relay, until it is received or [`DELIVER_WITHIN`] has passed.
async fn send_commands(
    mut conn: redis::aio::ConnectionManager,
    id: String,
    names: Names,
    mut queue: mpsc::UnboundedReceiver<Command>,
) {
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    let mut held = Held::default();
    loop {
        if held.is_empty() {
            if queue.recv_many(&mut batch, BATCH).await == 0 {
                return;
            }
        } else {
            // Whatever else comes meanwhile goes with the envelopes sent again.
            let more = tokio::time::timeout(RESEND_EVERY, queue.recv_many(&mut batch, BATCH));
            if let Ok(0) = more.await {
                return;
            }
        }
        let now = Instant::now();
        let mut pipe = redis::pipe();
        // The envelopes whose receipt is checked, in the pipeline's order.
        let mut checked: Vec<Outgoing> = held.take(now);
        for o in &checked {
            pipe.cmd("PUBLISH")
                .arg(names.relay_channel(&o.to))
                .arg(&o.payload);
        }
        for command in batch.drain(..) {
            match command {
                Command::Publish { to, envelope } => match serde_json::to_string(&envelope) {
                    Ok(payload) if to.is_empty() => {
                        pipe.cmd("PUBLISH")
                            .arg(names.every_relay())
                            .arg(payload)
                            .ignore();
                    }
                    Ok(payload) => {
                        pipe.cmd("PUBLISH")
                            .arg(names.relay_channel(&to))
                            .arg(&payload);
                        checked.push(Outgoing {
                            to,
                            payload,
                            since: now,
                        });
                    }
                    Err(e) => tracing::error!(error = %e, "encoding an envelope failed"),
                },
                Command::Claim { key, ttl, only_new } => {
                    let ms = ttl.as_millis().max(1) as u64;
                    let set = pipe.cmd("SET").arg(key).arg(&id).arg("PX").arg(ms);
                    if only_new {
                        set.arg("NX");
                    }
                    set.ignore();
                }
                Command::Release { key } => {
                    pipe.cmd("EVAL")
                        .arg(RELEASE)
                        .arg(1)
                        .arg(key)
                        .arg(&id)
                        .ignore();
                }
                Command::Charge { key, every } => {
                    let ms = every.as_millis() as u64;
                    pipe.cmd("EVAL")
                        .arg(BUCKET_TAKE)
                        .arg(1)
                        .arg(key)
                        .arg(ms)
                        .ignore();
                }
                Command::Lock { key, every, until } => {
                    pipe.cmd("EVAL")
                        .arg(BUCKET_LOCK)
                        .arg(1)
                        .arg(key)
                        .arg(every.as_millis() as u64)
                        .arg(until.as_millis() as u64)
                        .ignore();
                }
            }
        }
        // The first command after Redis went away fails, and only then does the connection
        // come back: once more after a pause. (Commands run before a connection broke
        // mid-batch may run twice: claims and releases are idempotent, a charge counts double,
        // an envelope arrives twice.) An error Redis answered (a script failing) is not
        // retried: the batch ran.
        let mut sent = pipe.query_async::<Vec<i64>>(&mut conn).await;
        if sent.as_ref().is_err_and(went_away) {
            tokio::time::sleep(RETRY_AFTER).await;
            sent = pipe.query_async::<Vec<i64>>(&mut conn).await;
        }
        match sent {
            // PUBLISH answers how many subscribers received it: none, and it waits for them.
            Ok(received) => {
                for (o, n) in checked.into_iter().zip(received) {
                    if n == 0 {
                        held.push(o);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cluster commands failed; envelopes wait for Redis");
                for o in checked {
                    held.push(o);
                }
            }
        }
    }
}

/// Whether `e` says the connection to Redis went away (the command may not have reached it),
/// rather than Redis answering with an error.
fn went_away(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped()
}

/// Hands this relay's envelopes to `deliver`, subscribing again after Redis comes back.
async fn receive(
    client: redis::Client,
    id: String,
    names: Names,
    mut pubsub: redis::aio::PubSub,
    deliver: mpsc::Sender<Envelope>,
    reconnects: watch::Sender<u64>,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(m) = messages.next().await {
                match serde_json::from_slice::<Envelope>(m.get_payload_bytes()) {
                    Ok(envelope) => {
                        if deliver.send(envelope).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "an undecodable envelope was dropped"),
                }
            }
        }
        tracing::warn!("the cluster's message channel closed; subscribing again");
        pubsub = loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Ok(mut p) = client.get_async_pubsub().await else {
                continue;
            };
            if p.subscribe(&[names.relay_channel(&id), names.every_relay()])
                .await
                .is_ok()
            {
                break p;
            }
        };
        tracing::info!("subscribed to the cluster's messages again");
        reconnects.send_modify(|n| *n += 1);
    }
}
