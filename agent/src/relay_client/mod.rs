//! The agent's connection to the relay: says `hello`, receives share codes, asks the local user
//! about consent requests, follows sessions, and reconnects with the protocol's backoff machine
//! after a relay restart or a network loss — forever, until told to stop.

pub(crate) mod http;
mod sessions;

use sessions::Sessions;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tether_protocol::reconnect::{Backoff, Reconnect};
use tether_protocol::signal::{
    self, ChallengeResponse, ConsentResponse, Decision, ErrorMessage, Hello, Message, Ping,
    RequestId, SessionEnd, SessionId, SessionStart, ShareCodeIssued,
};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::consent::{ConsentPrompt, PromptFuture};
use crate::error::{Error, Result};
use crate::machine::MachineIdentity;
use crate::session::SessionConfig;

/// What the client reports to its owner (the CLI or the desktop app).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Connected and greeted.
    Connected,
    /// A share code to show.
    Code(ShareCodeIssued),
    /// A session began.
    SessionStarted(SessionStart),
    /// A session ended.
    SessionEnded(SessionEnd),
    /// The relay refused something.
    RelayError(ErrorMessage),
    /// The supporter started (`recorded`) or stopped recording a session.
    Recording {
        /// The session.
        session_id: SessionId,
        /// Whether it is being recorded from now on.
        recorded: bool,
    },
    /// The supporter of a session sent a chat message.
    Chat {
        /// The session.
        session_id: SessionId,
        /// The message.
        text: String,
    },
    /// A file from the supporter arrived and was verified.
    FileReceived {
        /// The session.
        session_id: SessionId,
        /// Where it is.
        path: std::path::PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// A file the person chose, or the browsing supporter asked for, is on its way to the
    /// supporter.
    FileSending {
        /// The session.
        session_id: SessionId,
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The supporter asked for it (else the person chose it).
        fetched: bool,
    },
    /// The browsing supporter asked for a folder's listing.
    FolderListed {
        /// The session.
        session_id: SessionId,
        /// The folder (what was asked for, when refused).
        path: String,
        /// Why nothing was listed.
        refused: Option<tether_protocol::files::BrowseCode>,
    },
    /// A file from the supporter is coming in.
    FileReceiving {
        /// The session.
        session_id: SessionId,
        /// Its name.
        name: String,
        /// Its size in bytes, as announced.
        size: u64,
    },
    /// How far a file is on its way, either way (a few times a second).
    FileProgress {
        /// The session.
        session_id: SessionId,
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Bytes sent or written so far.
        done: u64,
        /// Going to the supporter (else coming from them).
        outgoing: bool,
    },
    /// A file the person chose reached the supporter, verified there.
    FileSent {
        /// The session.
        session_id: SessionId,
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A file did not arrive (cancelled, refused or failed), either way.
    FileFailed {
        /// The session; none when no session was running.
        session_id: Option<SessionId>,
        /// The file's name.
        name: String,
        /// Why, in English.
        reason: String,
        /// Why, where UIs have words of their own for it.
        failure: Option<crate::files::Failure>,
        /// It was going to the supporter (else coming from them).
        outgoing: bool,
    },
    /// A chat message the person typed could not be sent.
    ChatNotSent {
        /// Why, in words for them.
        reason: String,
    },
    /// The connection is gone; the next attempt is in `retry_in`.
    Disconnected {
        /// Why.
        reason: String,
        /// When the next attempt starts.
        retry_in: Duration,
    },
}

/// What the client's owner (the desktop app) asks of it, on behalf of the person at the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// Discard the share code and get a new one (ignored while disconnected: the next
    /// connection brings a fresh code anyway).
    RenewCode,
    /// Send a chat message to the supporter of `session`, or of every live session.
    Chat {
        /// The session; `None` for all of them.
        session: Option<SessionId>,
        /// The message.
        text: String,
    },
    /// Send a file to the supporter of `session`, or of the only live session (with several,
    /// it is refused: the person may not mean it for each of them).
    SendFile {
        /// The session; `None` for the only one.
        session: Option<SessionId>,
        /// The file.
        path: std::path::PathBuf,
    },
    /// Cancel the file on its way to the supporter of a session and those queued before the
    /// cancel.
    CancelFiles(SessionId),
    /// Cancel the file coming in from the supporter of a session.
    CancelIncoming(SessionId),
    /// End a session at once, held keys released. Works while the relay is unreachable too:
    /// the media connection is closed here, and the relay is told when it is back.
    EndSession(SessionId),
    /// Stop injecting the supporter's input (held keys released) or resume it; the screen keeps
    /// streaming.
    PauseInput {
        /// The session.
        session: SessionId,
        /// Paused or not.
        paused: bool,
    },
    /// Make a control session view-only for the rest of the session.
    ViewOnly(SessionId),
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The relay's base URL (`http://host:port`, or `ws://`).
    pub relay: String,
    /// This machine's name, shown to supporters.
    pub hostname: String,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// An extra trusted CA certificate (PEM) for a `https://` relay.
    pub ca_file: Option<std::path::PathBuf>,
    /// How sessions stream and inject; `None` answers consent and follows sessions on the
    /// signaling channel only (no media), which the relay tests use.
    pub media: Option<SessionConfig>,
    /// The enrolled machine this agent signs in as; `None` for ad hoc support with share codes
    /// only. Only an enrolled machine accepts unattended sessions.
    pub machine: Option<MachineIdentity>,
    /// Whether somebody is signed in at the machine, as the relay's policies need to know;
    /// `None` reports yes, the safe reading.
    pub local_user: Option<bool>,
}

/// Where the agent's WebSocket goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayUrl {
    /// The full `ws://` or `wss://` URL of the agent endpoint.
    pub url: String,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Host name (or address) to connect to and, with TLS, to verify.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `host:port` as written in the URL, for the HTTP `Host` header.
    pub authority: String,
    /// The path the relay is served under (empty at the root), without a trailing `/`.
    pub prefix: String,
}

/// The agent WebSocket endpoint for a relay base URL (`http://`, `https://`, `ws://`, `wss://`).
pub fn agent_url(relay: &str) -> Result<RelayUrl> {
    let relay = relay.trim_end_matches('/');
    let (tls, rest) = if let Some(r) = relay
        .strip_prefix("http://")
        .or(relay.strip_prefix("ws://"))
    {
        (false, r)
    } else if let Some(r) = relay
        .strip_prefix("https://")
        .or(relay.strip_prefix("wss://"))
    {
        (true, r)
    } else {
        return Err(Error::Relay(format!(
            "{relay:?} is not an http(s):// or ws(s):// URL"
        )));
    };
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        // [v6 address] or [v6 address]:port
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| Error::Relay(format!("bad address in {relay:?}")))?;
        match after.strip_prefix(':') {
            Some(p) => (
                h,
                p.parse()
                    .map_err(|_| Error::Relay(format!("bad port in {relay:?}")))?,
            ),
            None if after.is_empty() => (h, default_port),
            None => return Err(Error::Relay(format!("bad address in {relay:?}"))),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse()
                    .map_err(|_| Error::Relay(format!("bad port in {relay:?}")))?,
            ),
            None => (authority, default_port),
        }
    };
    if host.is_empty() {
        return Err(Error::Relay(format!("no host in {relay:?}")));
    }
    let scheme = if tls { "wss" } else { "ws" };
    Ok(RelayUrl {
        url: format!("{scheme}://{rest}/api/v1/ws/agent"),
        tls,
        host: host.to_owned(),
        port,
        authority: authority.to_owned(),
        prefix: if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        },
    })
}

/// Anything a WebSocket can run over: plain TCP or TLS.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// TLS settings for `wss://` relays: the system's trusted roots, plus `ca_file` if given
/// (a private CA, or a self-signed relay certificate).
pub fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        // A malformed system certificate is skipped, as browsers do.
        let _ = roots.add(c);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| Error::Relay(format!("reading {}: {e}", path.display())))?;
        for c in certs {
            let c = c.map_err(|e| Error::Relay(format!("reading {}: {e}", path.display())))?;
            roots
                .add(c)
                .map_err(|e| Error::Relay(format!("{}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        // Every handshake will fail, and say so; the client keeps retrying meanwhile.
        tracing::warn!(
            "no trusted root certificates: install the system's CA bundle or pass --ca-file"
        );
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Relay(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The agent endpoint of `relay` and, for `https://`/`wss://`, its TLS settings.
pub(crate) fn endpoint(
    relay: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<(RelayUrl, Option<tokio_rustls::TlsConnector>)> {
    let url = agent_url(relay)?;
    let tls = if url.tls {
        Some(tls_connector(ca_file)?)
    } else {
        None
    };
    Ok((url, tls))
}

/// A TCP connection to the relay, wrapped in TLS for `https://` relays.
pub(crate) async fn connect_io(
    url: &RelayUrl,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> std::result::Result<Box<dyn Io>, String> {
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("cannot reach the relay: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match tls {
        Some(c) => {
            let name = rustls_pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| format!("bad relay host name: {e}"))?;
            Box::new(
                c.connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with the relay failed: {e}"))?,
            )
        }
        None => Box::new(tcp),
    };
    Ok(io)
}

async fn open_socket(
    url: &RelayUrl,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> std::result::Result<tokio_tungstenite::WebSocketStream<Box<dyn Io>>, String> {
    let io = connect_io(url, tls).await?;
    let (ws, _) = tokio_tungstenite::client_async(url.url.as_str(), io)
        .await
        .map_err(|e| format!("cannot reach the relay: {e}"))?;
    Ok(ws)
}

fn hello(cfg: &ClientConfig) -> Message {
    Message::Hello(Hello {
        client: format!("tether-agent/{}", env!("CARGO_PKG_VERSION")),
        os: std::env::consts::OS.to_owned(),
        hostname: cfg.hostname.clone(),
        machine_id: cfg.machine.as_ref().map(|m| m.id),
        local_user: cfg.local_user.unwrap_or(true),
        // Sessions record their H.264 stream as it is sent; VP8 has no MP4 form browsers play.
        records: cfg
            .media
            .as_ref()
            .is_some_and(|m| m.stream.codec == crate::encode::Codec::H264),
    })
}

/// Signs in once as `cfg.machine` and reports whether the relay accepts the machine:
/// [`Error::MachineRefused`] when it was revoked or is unknown, [`Error::Relay`] when the relay
/// cannot be reached. `tether-agent status` and installers use it.
pub async fn check_sign_in(cfg: &ClientConfig) -> Result<()> {
    let machine = cfg
        .machine
        .as_ref()
        .ok_or_else(|| Error::Config("this agent is not enrolled".into()))?;
    let (url, tls) = endpoint(&cfg.relay, cfg.ca_file.as_deref())?;
    let ws = open_socket(&url, tls.as_ref())
        .await
        .map_err(Error::Relay)?;
    let (mut tx, mut rx) = ws.split();
    tx.send(Ws::text(signal::encode(&hello(cfg))))
        .await
        .map_err(|e| Error::Relay(format!("sending hello: {e}")))?;
    if let Some(reason) = sign_in(machine, &mut tx, &mut rx).await {
        return Err(Error::Relay(reason));
    }
    let answer = tokio::time::timeout(CHALLENGE_WAIT, async {
        while let Some(Ok(frame)) = rx.next().await {
            if let Ws::Text(t) = frame {
                return signal::decode(&t).ok();
            }
        }
        None
    })
    .await
    .map_err(|_| Error::Relay("the relay did not answer the signature in time".into()))?;
    let _ = tx.close().await;
    match answer {
        Some(Message::Error(e)) if e.code == signal::ErrorCode::Unauthorized => {
            Err(Error::MachineRefused(e.message))
        }
        Some(Message::Error(e)) => Err(Error::Relay(e.message)),
        Some(_) => Ok(()),
        None => Err(Error::Relay("the relay closed the connection".into())),
    }
}

/// Runs until `shutdown` resolves, reconnecting as needed. `commands` carries what the owner
/// asks for; an owner with nothing to ask passes a receiver whose sender is dropped.
pub async fn run(
    cfg: ClientConfig,
    prompt: &mut dyn ConsentPrompt,
    events: mpsc::UnboundedSender<ClientEvent>,
    mut commands: mpsc::UnboundedReceiver<ClientCommand>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let (url, tls) = endpoint(&cfg.relay, cfg.ca_file.as_deref())?;
    let hello = hello(&cfg);
    let mut sessions = Sessions::new(cfg.media.clone(), events.clone());
    sessions.record_to(&cfg.relay, cfg.ca_file.as_deref());
    let mut rc = Reconnect::new(cfg.backoff);
    rc.start().map_err(|e| Error::Relay(e.to_string()))?;
    tokio::pin!(shutdown);
    let link = Link {
        url: &url,
        tls: tls.as_ref(),
        hello: &hello,
        machine: cfg.machine.as_ref(),
    };
    loop {
        let reason = tokio::select! {
            r = attempt(&link, &mut rc, prompt, &events, &mut commands, &mut sessions) => Some(r?),
            _ = &mut shutdown => None,
        };
        let Some(reason) = reason else {
            sessions.end_all().await;
            return Ok(());
        };
        let now = Instant::now();
        let until = rc
            .failed(now, rand::rng().random())
            .map_err(|e| Error::Relay(e.to_string()))?;
        // The owner may have gone away; the client keeps its promise to reconnect regardless.
        let _ = events.send(ClientEvent::Disconnected {
            reason,
            retry_in: until - now,
        });
        // Stop and pause work while the relay is away: media still flows peer to peer.
        let wait = tokio::time::sleep_until(until.into());
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                _ = &mut shutdown => {
                    sessions.end_all().await;
                    return Ok(());
                }
                Some(cmd) = commands.recv() => {
                    if let Some(ev) = sessions.command(cmd, false) {
                        let _ = events.send(ev);
                    }
                }
            }
        }
        rc.handle_timeout(Instant::now());
    }
}

/// What every connection attempt uses.
struct Link<'a> {
    url: &'a RelayUrl,
    tls: Option<&'a tokio_rustls::TlsConnector>,
    hello: &'a Message,
    machine: Option<&'a MachineIdentity>,
}

/// How long the relay has to send an enrolled machine its challenge.
const CHALLENGE_WAIT: Duration = Duration::from_secs(15);

/// Answers the relay's challenge with the machine key; `Some(reason)` when that could not be
/// done. Whether the relay accepts the signature comes in the next frame.
async fn sign_in(
    machine: &MachineIdentity,
    tx: &mut (impl SinkExt<Ws, Error = tokio_tungstenite::tungstenite::Error> + Unpin),
    rx: &mut (
             impl StreamExt<Item = std::result::Result<Ws, tokio_tungstenite::tungstenite::Error>>
             + Unpin
         ),
) -> Option<String> {
    let first = tokio::time::timeout(CHALLENGE_WAIT, async {
        loop {
            match rx.next().await {
                Some(Ok(Ws::Text(t))) => return Some(signal::decode(&t)),
                Some(Ok(Ws::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    let nonce = match first {
        Err(_) => return Some("the relay sent no challenge in time".into()),
        Ok(None) => return Some("the relay closed the connection".into()),
        Ok(Some(Ok(Message::Challenge(c)))) => c.nonce,
        Ok(Some(Ok(Message::Error(e)))) => return Some(format!("the relay says: {}", e.message)),
        Ok(Some(_)) => return Some("the relay did not send a challenge".into()),
    };
    let signature = match machine.answer(&nonce).await {
        Ok(s) => s,
        Err(e) => return Some(format!("answering the challenge: {e}")),
    };
    let m = Message::ChallengeResponse(ChallengeResponse { signature });
    tx.send(Ws::text(signal::encode(&m)))
        .await
        .err()
        .map(|e| format!("answering the challenge: {e}"))
}

/// One connection attempt; returns why it ended, or `Err` when retrying cannot help.
async fn attempt(
    link: &Link<'_>,
    rc: &mut Reconnect,
    prompt: &mut dyn ConsentPrompt,
    events: &mpsc::UnboundedSender<ClientEvent>,
    commands: &mut mpsc::UnboundedReceiver<ClientCommand>,
    sessions: &mut Sessions,
) -> Result<String> {
    let ws = match open_socket(link.url, link.tls).await {
        Ok(ws) => ws,
        Err(e) => return Ok(e),
    };
    let (mut tx, mut rx) = ws.split();
    if let Err(e) = tx.send(Ws::text(signal::encode(link.hello))).await {
        return Ok(format!("sending hello: {e}"));
    }
    if let Some(machine) = link.machine
        && let Some(reason) = sign_in(machine, &mut tx, &mut rx).await
    {
        return Ok(reason);
    }
    // The relay's answer to a bad signature is an `unauthorized` error before anything else.
    let mut signed_in = link.machine.is_none();
    if rc.connected(Instant::now()).is_err() {
        return Ok("internal: reconnect state".into());
    }
    let _ = events.send(ClientEvent::Connected);

    // The open prompt: its request, its future, the way to withdraw it, and the deadline.
    let mut open: Option<OpenPrompt> = None;
    loop {
        let deadline = open.as_ref().and_then(|o| o.deadline);
        tokio::select! {
            Some(cmd) = commands.recv() => {
                if let Some(ev) = sessions.command(cmd, true) {
                    let _ = events.send(ev);
                }
            }
            Some(m) = sessions.out_rx.recv() => {
                if let Message::SessionEnd(e) = &m
                    && sessions.forget(&e.session_id)
                {
                    let _ = events.send(ClientEvent::SessionEnded(e.clone()));
                }
                if let Err(e) = tx.send(Ws::text(signal::encode(&m))).await {
                    return Ok(format!("connection lost: {e}"));
                }
            }
            decision = async {
                match open.as_mut() {
                    Some(o) => o.future.as_mut().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(o) = open.take() else { continue };
                if let Some(decision) = decision {
                    let m = Message::ConsentResponse(ConsentResponse { request_id: o.request_id, decision });
                    if let Err(e) = tx.send(Ws::text(signal::encode(&m))).await {
                        return Ok(format!("sending the answer: {e}"));
                    }
                }
            }
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(o) = open.as_mut() {
                    // The prompt resolves to None on its next poll; the relay records the deny.
                    o.withdraw("no answer in time; counted as deny");
                    o.deadline = None;
                }
            }
            frame = rx.next() => {
                let text = match frame {
                    Some(Ok(Ws::Text(t))) => t,
                    Some(Ok(Ws::Close(_))) | None => return Ok("the relay closed the connection".into()),
                    Some(Err(e)) => return Ok(format!("connection lost: {e}")),
                    Some(Ok(_)) => continue,
                };
                let msg = match signal::decode(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable frame from the relay");
                        continue;
                    }
                };
                if !signed_in {
                    if let Message::Error(e) = &msg
                        && e.code == signal::ErrorCode::Unauthorized
                    {
                        return Err(Error::MachineRefused(e.message.clone()));
                    }
                    signed_in = true;
                }
                match msg {
                    Message::ShareCode(c) => { let _ = events.send(ClientEvent::Code(c)); }
                    Message::ConsentRequest(req) => {
                        if open.is_some() {
                            // One question at a time; the relay never sends two, so refuse safely.
                            let m = Message::ConsentResponse(ConsentResponse { request_id: req.request_id, decision: Decision::Deny });
                            let _ = tx.send(Ws::text(signal::encode(&m))).await;
                            continue;
                        }
                        let (withdraw, withdrawn) = oneshot::channel();
                        open = Some(OpenPrompt {
                            request_id: req.request_id.clone(),
                            deadline: Some(Instant::now() + Duration::from_secs(u64::from(req.timeout_secs))),
                            withdraw: Some(withdraw),
                            future: prompt.ask(&req, withdrawn),
                        });
                    }
                    Message::ConsentCancel(c) => {
                        if let Some(o) = open.as_mut().filter(|o| o.request_id == c.request_id) {
                            o.withdraw(match c.reason {
                                signal::CancelReason::Timeout => "no answer in time; counted as deny",
                                signal::CancelReason::ViewerCancelled => "the supporter cancelled",
                                signal::CancelReason::ViewerLeft => "the supporter disconnected",
                            });
                        }
                    }
                    Message::SessionStart(s) if s.unattended && link.machine.is_none() => {
                        // Only an enrolled machine's policy can waive consent; refuse anything else.
                        tracing::warn!(session = %s.session_id, "refused an unattended session: this agent is not enrolled");
                        let m = Message::SessionEnd(SessionEnd::new(s.session_id, signal::EndReason::EndedByAgent));
                        if let Err(e) = tx.send(Ws::text(signal::encode(&m))).await {
                            return Ok(format!("connection lost: {e}"));
                        }
                    }
                    Message::SessionStart(s) => {
                        sessions.start(&s);
                        let _ = events.send(ClientEvent::SessionStarted(s));
                    }
                    Message::SessionEnd(s) => {
                        // A relay shutting down ends no session: its media goes on peer to peer.
                        let known = sessions.started.contains(&s.session_id)
                            && s.reason != signal::EndReason::RelayShutdown;
                        sessions.route(&s.session_id.clone(), Message::SessionEnd(s.clone()));
                        if known {
                            let _ = events.send(ClientEvent::SessionEnded(s));
                        }
                    }
                    Message::Sdp(m) => sessions.route(&m.session_id.clone(), Message::Sdp(m)),
                    Message::Ice(m) => sessions.route(&m.session_id.clone(), Message::Ice(m)),
                    Message::Recording(r) => {
                        let (session_id, recorded) = (r.session_id.clone(), r.recorded);
                        if sessions.started.contains(&session_id) {
                            sessions.route(&session_id.clone(), Message::Recording(r));
                            let _ = events.send(ClientEvent::Recording { session_id, recorded });
                        }
                    }
                    Message::Error(e) => { let _ = events.send(ClientEvent::RelayError(e)); }
                    Message::Ping(Ping { seq }) => {
                        let _ = tx.send(Ws::text(signal::encode(&Message::Pong(Ping { seq })))).await;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A consent prompt on screen.
struct OpenPrompt {
    request_id: RequestId,
    /// When silence becomes a deny; cleared once the prompt has been told.
    deadline: Option<Instant>,
    withdraw: Option<oneshot::Sender<String>>,
    future: PromptFuture,
}

impl OpenPrompt {
    fn withdraw(&mut self, why: &str) {
        if let Some(w) = self.withdraw.take() {
            // The prompt may have just resolved; then there is nobody to tell.
            let _ = w.send(why.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = agent_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(u.url, "ws://127.0.0.1:8080/api/v1/ws/agent");
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "127.0.0.1", 8080));
        let u = agent_url("https://relay.example/").unwrap();
        assert_eq!(u.url, "wss://relay.example/api/v1/ws/agent");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port),
            (true, "relay.example", 443)
        );
        let u = agent_url("wss://[::1]:8443").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (true, "::1", 8443));
        let u = agent_url("https://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 443));
        let u = agent_url("https://example.com:8443/tether/").unwrap();
        assert_eq!(u.url, "wss://example.com:8443/tether/api/v1/ws/agent");
        assert_eq!(
            (u.authority.as_str(), u.prefix.as_str()),
            ("example.com:8443", "/tether")
        );
        assert_eq!(agent_url("http://[::1]:80").unwrap().authority, "[::1]:80");
        assert!(agent_url("ftp://x").is_err());
        assert!(agent_url("http://x:notaport").is_err());
        assert!(agent_url("https://").is_err());
    }
}
