// Generated from the Rust types in protocol/src/signal (`cargo test -p tether-protocol typescript` with TETHER_BLESS_VECTORS=1). Do not edit.

export type Message = { "type": "hello" } & Hello | { "type": "challenge" } & Challenge | { "type": "challenge_response" } & ChallengeResponse | { "type": "share_code" } & ShareCodeIssued | { "type": "renew_code" } & RenewCode | { "type": "connect" } & Connect | { "type": "connect_machine" } & ConnectMachine | { "type": "consent_pending" } & ConsentPending | { "type": "consent_request" } & ConsentRequest | { "type": "consent_response" } & ConsentResponse | { "type": "consent_cancel" } & ConsentCancel | { "type": "session_start" } & SessionStart | { "type": "sdp" } & Sdp | { "type": "ice" } & Ice | { "type": "session_end" } & SessionEnd | { "type": "file_transfer" } & FileTransfer | { "type": "folder_listed" } & FolderListed | { "type": "record" } & SetRecording | { "type": "recording" } & RecordingChanged | { "type": "error" } & ErrorMessage | { "type": "ping" } & Ping | { "type": "pong" } & Ping;

export type Hello = { 
/**
 * Software and version, e.g. `tether-agent/0.1.0`.
 */
client: string, 
/**
 * Operating system, e.g. `linux`, `windows`, `macos`.
 */
os: string, 
/**
 * The machine's host name, shown to the supporter.
 */
hostname: string, 
/**
 * Set by an enrolled agent (`tether-agent run`): its machine id. The relay then answers with
 * a [`Challenge`] that the machine key must sign before anything else happens.
 */
machine_id?: number, 
/**
 * Whether someone is signed in at the machine (false for a service at the login screen).
 * Policies can refuse unattended connections when nobody is there.
 */
local_user?: boolean, 
/**
 * Whether this agent can record its sessions (its stream is H.264). An organisation that
 * records every session refuses sessions with an agent that cannot.
 */
records?: boolean, };

export type Challenge = { 
/**
 * 32 random bytes, base64url without padding.
 */
nonce: string, };

export type ChallengeResponse = { 
/**
 * base64url (no padding) Ed25519 signature of [`machine_hello_message`].
 */
signature: string, };

export type ShareCodeIssued = { 
/**
 * The code, ten digits.
 */
code: string, 
/**
 * Seconds until the code expires if unused.
 */
expires_in_secs: number, };

export type RenewCode = Record<symbol, never>;

export type Connect = { 
/**
 * The share code the end user read out (grouping accepted).
 */
code: string, 
/**
 * What the viewer asks to do.
 */
mode: Mode, };

export type ConnectMachine = { 
/**
 * The machine, as listed by `GET /api/v1/machines`.
 */
machine_id: number, 
/**
 * What the viewer asks to do.
 */
mode: Mode, };

export type Mode = "control" | "view";

export type ConsentPending = { 
/**
 * Id to cancel the request with.
 */
request_id: RequestId, 
/**
 * Seconds the end user has to answer before it counts as a deny.
 */
timeout_secs: number, };

export type ConsentRequest = { 
/**
 * Echoed in the answer.
 */
request_id: RequestId, 
/**
 * Who asks.
 */
viewer: ViewerIdentity, 
/**
 * What they ask for.
 */
mode: Mode, 
/**
 * Seconds before no answer counts as a deny.
 */
timeout_secs: number, 
/**
 * Whether files could pass in this session (the organisation allows them), so the person
 * can be offered control without files.
 */
files?: boolean, 
/**
 * Whether the session will be recorded (the organisation records every session): the
 * person is told before answering, and refusing refuses the recording too.
 */
recorded?: boolean, 
/**
 * Whether the supporter may start recording during the session (the organisation records
 * on request): the person is told now, and again when a recording starts.
 */
may_record?: boolean, };

export type ViewerIdentity = { 
/**
 * Full name from the supporter's account.
 */
name: string, 
/**
 * E-mail address of the account.
 */
email: string, 
/**
 * The supporter's organisation.
 */
org: string, 
/**
 * True when the relay authenticated the account (always, for this version's relay).
 */
verified: boolean, };

export type ConsentResponse = { 
/**
 * The request answered.
 */
request_id: RequestId, 
/**
 * The answer.
 */
decision: Decision, };

export type Decision = "allow_control" | "allow_control_without_files" | "allow_view" | "deny";

export type ConsentCancel = { 
/**
 * The request withdrawn.
 */
request_id: RequestId, 
/**
 * Why.
 */
reason: CancelReason, };

export type CancelReason = "viewer_cancelled" | "viewer_left" | "timeout";

export type SessionStart = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * The receiver's role.
 */
role: Role, 
/**
 * The granted mode.
 */
mode: Mode, 
/**
 * STUN/TURN servers with credentials for this session only.
 */
ice_servers: Array<IceServer>, 
/**
 * Who is on the other end.
 */
peer: PeerInfo, 
/**
 * True when the machine's policy let the session start without asking the local user; the
 * agent shows that someone is connected.
 */
unattended?: boolean, 
/**
 * What files may pass (absent: any).
 */
files?: FileRules, 
/**
 * Whether the session is recorded; both ends say so for as long as it lasts.
 */
recorded?: boolean, 
/**
 * To the agent of a recorded session: where to send the recording.
 */
recording?: RecordingTicket, 
/**
 * Whether the supporter may start and stop recording during the session (`record`).
 */
may_record?: boolean, };

export type Role = "agent" | "viewer";

export type IceServer = { 
/**
 * `stun:` or `turn:` URLs.
 */
urls: Array<string>, 
/**
 * TURN username (`<expiry>:<session_id>`), absent for STUN.
 */
username?: string, 
/**
 * TURN password, absent for STUN.
 */
credential?: string, };

export type PeerInfo = { 
/**
 * The supporter's full name, or the machine's host name.
 */
name: string, 
/**
 * The supporter's organisation (absent for an agent).
 */
org?: string, 
/**
 * The supporter's e-mail (absent for an agent).
 */
email?: string, };

export type FileRules = { 
/**
 * Files may be transferred at all.
 */
allowed: boolean, 
/**
 * The largest file, in bytes; none for no limit.
 */
max_size?: number, 
/**
 * The supporter may browse the computer's disk and fetch files from it (an unattended
 * machine whose policy says so).
 */
browse?: boolean, };

export type RecordingTicket = { 
/**
 * The recording's id.
 */
recording_id: string, 
/**
 * The upload credential (`rup_…`), for this recording only.
 */
upload_token: string, };

export type Sdp = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * Offer or answer.
 */
kind: SdpKind, 
/**
 * The SDP text.
 */
sdp: string, };

export type SdpKind = "offer" | "answer";

export type Ice = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * The `candidate:` attribute line, without `a=`.
 */
candidate: string, 
/**
 * The media stream identification tag.
 */
sdp_mid?: string, 
/**
 * The m-line index.
 */
sdp_mline_index?: number, };

export type SessionEnd = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * Why.
 */
reason: EndReason, 
/**
 * From the party ending it: how many chat messages the session carried, either way. The
 * messages themselves travel peer to peer; the relay keeps only this count.
 */
chat_messages?: number, };

export type EndReason = "ended_by_viewer" | "ended_by_agent" | "ended_by_admin" | "viewer_left" | "agent_left" | "heartbeat_timeout" | "max_duration" | "revoked" | "relay_shutdown" | "connection_failed" | "other";

export type FileTransfer = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * Which way.
 */
direction: FileDirection, 
/**
 * The name it was sent under (at most 255 bytes; longer is refused).
 */
name: string, 
/**
 * Its announced size in bytes.
 */
size: number, 
/**
 * The SHA-256 of what arrived, in lowercase hex, when it was verified.
 */
sha256?: Sha256Hex, 
/**
 * How it ended.
 */
outcome: FileOutcome, 
/**
 * Why it failed, in English (at most 200 bytes).
 */
reason?: string, };

export type FileDirection = "to_agent" | "to_viewer";

export type FileOutcome = "saved" | "failed" | "cancelled";

export type Sha256Hex = string;

export type FolderListed = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * The folder listed, links and `..` resolved, as the computer's OS writes it; when
 * refused, the path as the supporter asked for it (empty: where browsing starts). At most
 * 1,024 bytes; longer is refused.
 */
path: string, 
/**
 * How many items were listed.
 */
entries: number, 
/**
 * Why nothing was listed; none when the folder was listed.
 */
refused?: BrowseCode, };

export type BrowseCode = "not_allowed" | "system_account" | "bad_path" | "not_found" | "denied" | "not_a_file" | "not_a_folder" | "too_large" | "busy" | "timeout" | "cancelled" | "ending" | "truncated" | "unnamed" | "other";

export type SetRecording = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * Start (true) or stop (false).
 */
on: boolean, };

export type RecordingChanged = { 
/**
 * The session.
 */
session_id: SessionId, 
/**
 * Whether it is being recorded from now on; both ends say so for as long as it is.
 */
recorded: boolean, 
/**
 * To the agent, when a recording starts: where to send it.
 */
recording?: RecordingTicket, };

export type ErrorMessage = { 
/**
 * Stable, machine-readable code.
 */
code: ErrorCode, 
/**
 * Human-readable English text (clients translate by `code`).
 */
message: string, 
/**
 * The consent request this error answers, if any.
 */
request_id?: RequestId, 
/**
 * For `throttled`: milliseconds before another attempt can succeed.
 */
retry_after_ms?: number, };

export type ErrorCode = "malformed" | "too_large" | "unsupported_version" | "unknown_type" | "not_allowed" | "unauthorized" | "forbidden" | "invalid_code" | "code_expired" | "throttled" | "agent_busy" | "agent_offline" | "policy_denied" | "consent_denied" | "consent_timeout" | "not_in_session" | "rate_limited" | "internal" | "unavailable" | "other";

export type Ping = { 
/**
 * Echoed in the `pong`.
 */
seq: number, };

export type RequestId = string;

export type SessionId = string;

export type Timeline = { 
/**
 * The events, in time order.
 */
events: Array<TimelineEvent>, 
/**
 * Events left out past [`MAX_EVENTS`].
 */
dropped: number, };

export type TimelineEvent = { "kind": "click", 
/**
 * When.
 */
t_ms: number, 
/**
 * Which button.
 */
button: Button, } | { "kind": "keys", 
/**
 * When the first was pressed.
 */
t_ms: number, 
/**
 * How many.
 */
count: number, } | { "kind": "clipboard", 
/**
 * When.
 */
t_ms: number, 
/**
 * To the computer (from the supporter), else to the supporter.
 */
to_agent: boolean, 
/**
 * Its length in characters.
 */
chars: number, } | { "kind": "file", 
/**
 * When.
 */
t_ms: number, 
/**
 * Which way.
 */
direction: FileDirection, 
/**
 * Its name (at most [`MAX_NAME_BYTES`]).
 */
name: string, 
/**
 * Its size in bytes.
 */
size: number, 
/**
 * How it ended.
 */
outcome: FileOutcome, } | { "kind": "display", 
/**
 * When.
 */
t_ms: number, 
/**
 * The display's index.
 */
index: number, };

export type Button = "left" | "middle" | "right" | "back" | "forward";
