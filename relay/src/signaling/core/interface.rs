//! What goes into the hub's core and what comes out: the time, the configuration, inputs and
//! effects.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tether_protocol::lifecycle::Timeouts;
use tether_protocol::signal::{FileRules, Hello, Message, Mode, SessionId};

use super::ConnId;
use crate::auth::CodeHash;
use crate::signaling::budget::{ClusterBudget, GuessRules, Guesser};
use crate::signaling::metrics::Counter;
use crate::store::{
    AuditEntry, MachineInfo, NewRecording, Principal, RecordingMode, SessionRecord,
};

/// Where the cluster's directory says a share code or an enrolled machine is, when this relay
/// does not hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Elsewhere {
    /// On no other live relay (or this relay is not in a cluster).
    #[default]
    Nowhere,
    /// On this other relay.
    On(String),
    /// The directory could not be asked (Redis out of reach): it may be on another relay.
    Unknown,
}

/// The time an input happens at: the monotonic instant for deadlines, the wall clock for rows.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// For deadlines and budgets.
    pub at: Instant,
    /// Unix milliseconds, for what is written down and for TURN expiries.
    pub unix_ms: i64,
}

impl Now {
    /// The current time, read by the driver.
    pub fn current() -> Self {
        Now {
            at: Instant::now(),
            unix_ms: crate::unix_millis(),
        }
    }

    /// `d` later.
    pub fn plus(self, d: Duration) -> Self {
        Now {
            at: self.at + d,
            unix_ms: self.unix_ms + d.as_millis() as i64,
        }
    }

    pub(super) fn unix_secs(self) -> u64 {
        (self.unix_ms / 1000).max(0) as u64
    }
}

/// What the core needs to know of the relay's configuration.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Code, consent and session timing.
    pub timeouts: Timeouts,
    /// Share-code guessing budgets.
    pub guessing: GuessRules,
    /// STUN URLs handed out without credentials.
    pub stun_urls: Vec<String>,
    /// TURN URLs handed out with per-session credentials.
    pub turn_urls: Vec<String>,
    /// Shared secret for TURN REST credentials.
    pub turn_secret: Vec<u8>,
    /// Share-code (not enrolled) agent sockets one address may hold.
    pub max_anonymous_agents_per_ip: usize,
    /// Key for hashing share codes at rest.
    pub code_key: Vec<u8>,
}

/// An enrolled machine whose agent proved it holds the machine key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineLogin {
    /// The machine.
    pub id: i64,
    /// Its organisation.
    pub org_id: i64,
}

/// Why a connection went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Closed or failed.
    Left,
    /// Stopped answering heartbeats.
    HeartbeatTimeout,
}

/// Something that happened on a connection.
#[derive(Debug)]
pub enum Input {
    /// An agent said `hello` (and, for an enrolled machine, proved its key).
    AgentJoined {
        /// Its connection.
        conn: ConnId,
        /// What it said.
        hello: Hello,
        /// The machine it proved to be, if enrolled.
        machine: Option<MachineLogin>,
        /// The client address.
        ip: IpAddr,
    },
    /// A signed-in supporter's socket opened.
    ViewerJoined {
        /// Its connection.
        conn: ConnId,
        /// Who signed in.
        principal: Principal,
        /// The client address.
        ip: IpAddr,
    },
    /// A decoded message from an agent.
    FromAgent {
        /// The agent's connection.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// A decoded message from a viewer (`connect` and `connect_machine` come as their own
    /// inputs, with what the driver read for them).
    FromViewer {
        /// The viewer's connection.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// A viewer typed a share code.
    Connect {
        /// The viewer's connection.
        conn: ConnId,
        /// The code as typed.
        code: String,
        /// What they asked for.
        mode: Mode,
        /// The organisation's file rules, read when the request came.
        files: FileRules,
        /// Which sessions the organisation records, read when the request came.
        record: RecordingMode,
        /// Where the cluster's directory says this code is shown, if not here.
        elsewhere: Elsewhere,
        /// What the cluster's copies of the guessing budgets say (every relay charges them;
        /// the default on a single relay).
        cluster: ClusterBudget,
    },
    /// A viewer asked for an enrolled machine by id.
    ConnectMachine {
        /// The viewer's connection.
        conn: ConnId,
        /// The machine asked for.
        machine_id: i64,
        /// What they asked for.
        mode: Mode,
        /// The machine as the store has it in the viewer's organisation (`Err`: the read failed).
        machine: Result<Option<Box<MachineInfo>>, ()>,
        /// The organisation's file rules, read when the request came.
        files: FileRules,
        /// Which sessions the organisation records, read when the request came.
        record: RecordingMode,
        /// Where the cluster's directory says the machine's agent is connected, if not here.
        elsewhere: Elsewhere,
    },
    /// An agent's socket closed.
    AgentGone {
        /// Its connection.
        conn: ConnId,
        /// Why.
        why: Gone,
    },
    /// A viewer's socket closed.
    ViewerGone {
        /// Its connection.
        conn: ConnId,
        /// Why.
        why: Gone,
    },
}

/// A row for the store, written in the order the core produced it.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// An audit entry.
    Audit(AuditEntry),
    /// A share code went live.
    InsertCode {
        /// Its keyed hash.
        hash: CodeHash,
        /// The agent's host name.
        hostname: String,
        /// Unix ms.
        created_at: i64,
        /// Unix ms.
        expires_at: i64,
    },
    /// A live share code ended (`used`, `expired` or `void`).
    CloseCode {
        /// Its keyed hash.
        hash: CodeHash,
        /// The final state.
        state: &'static str,
    },
    /// A session started.
    CreateSession(SessionRecord),
    /// A session's recording started (written before the agent is told where to send it).
    CreateRecording(NewRecording),
    /// A session ended.
    EndSession {
        /// Its organisation.
        org: i64,
        /// The session.
        id: String,
        /// Unix ms.
        at: i64,
        /// The end reason's wire name.
        reason: String,
        /// The chat count the ending party reported.
        chat_messages: Option<u32>,
    },
}

/// What the driver is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Queue a message on a connection.
    Send(ConnId, Message),
    /// Close a connection (after what was queued before).
    Close(ConnId),
    /// Write to the store.
    Write(Write),
    /// Add one to a counter.
    Count(Counter),
    /// TURN credentials with this username are live for the session.
    TurnOpen {
        /// The session.
        session: SessionId,
        /// The TURN username handed out.
        username: String,
    },
    /// The session's TURN credentials are dead.
    TurnClose(SessionId),
    /// A wrong code was charged to these buckets: charge the cluster's copies too.
    GuessCharged {
        /// Who guessed: their account, address and organisation, and the cluster's bucket.
        who: Guesser,
        /// The guess locked the account (a campaign is running).
        locked: bool,
    },
    /// The viewer's request, and everything it sends from now on, belongs to another relay of
    /// the cluster: tunnel the connection there.
    Forward {
        /// The viewer.
        conn: ConnId,
        /// The relay that shows the code.
        relay: String,
    },
}
