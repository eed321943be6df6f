// Generated from the Rust types of the relay's HTTP API (`cargo test -p tether-relay typescript` with TETHER_BLESS_VECTORS=1). Do not edit.

import type { FileRules } from "./signal";

export type ErrorBody = { 
/**
 * What went wrong.
 */
error: ErrorDetail, };

export type ErrorDetail = { 
/**
 * A stable code, e.g. `unauthorized`, `throttled`, `not_found`.
 */
code: string, 
/**
 * For people; not stable.
 */
message: string, 
/**
 * When to try again (`throttled`, `rate_limited`), also as `Retry-After` in seconds.
 */
retry_after_ms?: number, };

export type LoginRequest = { email: string, password: string, totp?: string, };

export type TokenResponse = { access_token: string, refresh_token: string, expires_in: number, user: Principal, };

export type RefreshRequest = { refresh_token?: string, };

export type TotpOffer = { secret: string, otpauth_url: string, };

export type TotpEnroll = { password: string, };

export type TotpConfirm = { code: string, };

export type SsoStart = { 
/**
 * The person's e-mail: its domain names the organisation and provider.
 */
email: string, };

export type SsoRedirect = { url: string, };

export type PasswordChange = { current_password: string, new_password: string, };

export type PasswordReset = { new_password: string, };

export type Principal = { 
/**
 * The organisation.
 */
org_id: number, 
/**
 * Its name.
 */
org_name: string, 
/**
 * The user.
 */
user_id: number, 
/**
 * E-mail.
 */
email: string, 
/**
 * Full name.
 */
full_name: string, 
/**
 * Short name.
 */
short_name: string, 
/**
 * Role in the organisation.
 */
role: Role, 
/**
 * Whether TOTP is enrolled.
 */
totp_enabled: boolean, 
/**
 * What files may pass in the organisation's sessions.
 */
files: FileRules, };

export type Role = "owner" | "admin" | "technician" | "viewer";

export type Member = { 
/**
 * User id.
 */
id: number, 
/**
 * E-mail.
 */
email: string, 
/**
 * Full name.
 */
full_name: string, 
/**
 * Short name.
 */
short_name: string, 
/**
 * Role in this organisation.
 */
role: Role, 
/**
 * Whether TOTP is enrolled.
 */
totp_enabled: boolean, };

export type RoleChange = { role: Role, };

export type MergeBody = { 
/**
 * The member who stays.
 */
into: number, };

export type Merged = { 
/**
 * The member who stays.
 */
into: number, 
/**
 * The e-mail of the account merged away.
 */
from_email: string, 
/**
 * What moved.
 */
moved: MergeCounts, 
/**
 * Machine and group policies that named the duplicate and now name the one who stays.
 */
policies: number, };

export type MergeCounts = { 
/**
 * Sessions they ran.
 */
sessions: number, 
/**
 * Recordings they own.
 */
recordings: number, 
/**
 * Recordings shared with them.
 */
grants: number, 
/**
 * Identities at identity providers.
 */
identities: number, 
/**
 * API keys they created.
 */
keys: number, };

export type FilesBody = { allowed: boolean, max_size?: number | null, };

export type NewKey = { name: string, 
/**
 * What the key may do.
 */
scopes: Array<string>, };

export type CreatedKey = { key: string, 
/**
 * Id.
 */
id: number, 
/**
 * Label.
 */
name: string, 
/**
 * Granted scopes.
 */
scopes: Array<string>, 
/**
 * Unix ms.
 */
created_at: number, 
/**
 * Unix ms, if revoked.
 */
revoked_at: number | null, };

export type ApiKeyInfo = { 
/**
 * Id.
 */
id: number, 
/**
 * Label.
 */
name: string, 
/**
 * Granted scopes.
 */
scopes: Array<string>, 
/**
 * Unix ms.
 */
created_at: number, 
/**
 * Unix ms, if revoked.
 */
revoked_at: number | null, };

export type TurnCredentials = { urls: Array<string>, username: string, credential: string, ttl_secs: number, };

export type SessionRecord = { 
/**
 * Session id.
 */
id: string, 
/**
 * The viewer's organisation.
 */
org_id: number, 
/**
 * The supporter.
 */
viewer_id: number | null, 
/**
 * The machine's host name.
 */
hostname: string, 
/**
 * `control` or `view`.
 */
mode: string, 
/**
 * Unix ms.
 */
started_at: number, 
/**
 * Unix ms, once ended.
 */
ended_at: number | null, 
/**
 * Why it ended.
 */
end_reason: string | null, 
/**
 * How many chat messages it carried (never their content), as the party that ended it
 * counted them.
 */
chat_messages: number | null, };

export type AuditEntry = { 
/**
 * Row id (0 before insertion).
 */
id: number, 
/**
 * The organisation concerned, when known.
 */
org_id: number | null, 
/**
 * Unix milliseconds.
 */
at: number, 
/**
 * `user:<id>`, `agent:<host>`, `ip:<addr>` or `system`.
 */
actor: string, 
/**
 * What was attempted, e.g. `login`, `connect`, `consent`, `session_end`.
 */
action: string, 
/**
 * `ok`, `denied`, `wrong_code`, `throttled`, …
 */
outcome: string, 
/**
 * Extra facts.
 */
detail: unknown, };

export type NewWebhook = { url: string, events: Array<string>, };

export type CreatedWebhook = { secret: string, 
/**
 * Id.
 */
id: number, 
/**
 * Where deliveries are POSTed.
 */
url: string, 
/**
 * Audit actions delivered (`*` for all).
 */
events: Array<string>, 
/**
 * Unix ms.
 */
created_at: number, };

export type WebhookInfo = { 
/**
 * Id.
 */
id: number, 
/**
 * Where deliveries are POSTed.
 */
url: string, 
/**
 * Audit actions delivered (`*` for all).
 */
events: Array<string>, 
/**
 * Unix ms.
 */
created_at: number, };

export type DeliveryInfo = { 
/**
 * Id (also sent as `Tether-Delivery`).
 */
id: number, 
/**
 * The audit action delivered.
 */
action: string, 
/**
 * Attempts so far.
 */
attempts: number, 
/**
 * Unix ms of the next attempt, while pending.
 */
next_at: number, 
/**
 * Unix ms, once the receiver answered 2xx.
 */
delivered_at: number | null, 
/**
 * Unix ms, once retries ran out.
 */
failed_at: number | null, 
/**
 * The receiver's last HTTP status.
 */
last_status: number | null, 
/**
 * The last failure, when there was no status (timeout, refused, …).
 */
last_error: string | null, };

export type NewToken = { 
/**
 * Lifetime in seconds (60 s to a year).
 */
expires_in_secs: number, 
/**
 * Enrollments allowed.
 */
max_uses: number, 
/**
 * Tags for the machines it enrolls.
 */
tags: Array<string>, };

export type CreatedToken = { token: string, 
/**
 * Id.
 */
id: number, 
/**
 * Tags given to machines enrolled with it.
 */
tags: Array<string>, 
/**
 * Enrollments allowed.
 */
max_uses: number, 
/**
 * Enrollments so far.
 */
uses: number, 
/**
 * Unix ms after which it is refused.
 */
expires_at: number, 
/**
 * Unix ms, if revoked.
 */
revoked_at: number | null, 
/**
 * Unix ms.
 */
created_at: number, };

export type EnrollmentTokenInfo = { 
/**
 * Id.
 */
id: number, 
/**
 * Tags given to machines enrolled with it.
 */
tags: Array<string>, 
/**
 * Enrollments allowed.
 */
max_uses: number, 
/**
 * Enrollments so far.
 */
uses: number, 
/**
 * Unix ms after which it is refused.
 */
expires_at: number, 
/**
 * Unix ms, if revoked.
 */
revoked_at: number | null, 
/**
 * Unix ms.
 */
created_at: number, };

export type Enroll = { token: string, 
/**
 * base64url (no padding) of the 32-byte Ed25519 public key.
 */
public_key: string, 
/**
 * base64url of the Ed25519 signature over [`PROOF_CONTEXT`] + SHA-256(token).
 */
proof: string, hostname: string, os: string, version: string, };

export type Enrolled = { machine_id: number, org_id: number, };

export type Unenroll = { machine_id: number, 
/**
 * Unix seconds when the agent signed.
 */
timestamp: number, 
/**
 * base64url Ed25519 signature over [`UNENROLL_CONTEXT`] `<machine_id>:<timestamp>`.
 */
signature: string, };

export type MachineInfo = { 
/**
 * Id.
 */
id: number, 
/**
 * Host name it reported.
 */
hostname: string, 
/**
 * Operating system it reported.
 */
os: string, 
/**
 * Agent version it reported.
 */
version: string, 
/**
 * Tags from its enrollment token.
 */
tags: Array<string>, 
/**
 * Unix ms it was last connected, if ever.
 */
last_seen_at: number | null, 
/**
 * Unix ms, if revoked.
 */
revoked_at: number | null, 
/**
 * Unix ms of enrollment.
 */
created_at: number, 
/**
 * Who may connect, and how: its own policy, else its group's, else the default.
 */
policy: MachinePolicy, 
/**
 * Where [`Self::policy`] comes from.
 */
policy_source: PolicySource, 
/**
 * The tag whose group policy applies, with [`PolicySource::Group`].
 */
policy_group?: string, 
/**
 * Whether its agent is connected now (filled in by the relay, not stored).
 */
online: boolean, };

export type PolicySource = "machine" | "group" | "default";

export type MachinePolicy = { 
/**
 * Roles whose members may connect.
 */
roles: Array<PolicyRole>, 
/**
 * Users (by id) who may connect whatever their role.
 */
users: Array<number>, 
/**
 * Whether the person at the machine must allow each session (default: yes).
 */
require_consent: boolean, 
/**
 * Whether a session may start when nobody is signed in at the machine (default: no).
 */
allow_without_user: boolean, 
/**
 * When connecting is allowed; any time if absent.
 */
hours?: Hours | null, 
/**
 * Whether supporters in an unattended control session may browse the machine's disk and
 * fetch files from it (default: no). Sessions the person allows never browse.
 */
browse_files: boolean, 
/**
 * Which of the machine's sessions are recorded, beyond what its organisation records: the
 * greater of the two applies (e.g. `always` for an unattended server in an organisation
 * that records on request). Default: as the organisation says.
 */
recording: RecordingMode, };

export type PolicyRole = "owner" | "admin" | "technician";

export type Hours = { 
/**
 * Days the window opens on, 1 = Monday … 7 = Sunday.
 */
days: Array<number>, 
/**
 * Opening time, `HH:MM`.
 */
from: string, 
/**
 * Closing time, `HH:MM`; earlier than `from` for a window that runs past midnight.
 */
to: string, 
/**
 * The machine's offset from UTC in minutes (e.g. 60 for CET, -300 for EST).
 */
utc_offset_minutes: number, 
/**
 * The machine's IANA time zone (`Europe/Amsterdam`); when given it decides the offset at
 * each moment, daylight-saving time included, and `utc_offset_minutes` is unused.
 */
time_zone?: string | null, };

export type Group = { tag: string, machines: number, policy?: MachinePolicy, updated_at?: number, };

export type SsoView = { issuer: string, client_id: string, 
/**
 * Whether a client secret is stored (it is never shown again).
 */
has_client_secret: boolean, domains: Array<string>, role_claim: string, role_map: Array<RoleRule>, default_role?: Role | null, provision: boolean, password_login: boolean, 
/**
 * The redirect URI to register at the provider.
 */
redirect_uri: string, };

export type SsoBody = { 
/**
 * The provider's issuer URL, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.
 */
issuer: string, client_id: string, 
/**
 * Required the first time; left out, the stored one is kept.
 */
client_secret?: string | null, 
/**
 * E-mail domains whose people sign in through this provider.
 */
domains: Array<string>, 
/**
 * The claim the role mapping reads; default `groups`.
 */
role_claim?: string | null, role_map: Array<RoleRule>, 
/**
 * The role of a person no rule matches; `null` refuses them.
 */
default_role?: Role | null, 
/**
 * Whether a first sign-in creates the member.
 */
provision: boolean, 
/**
 * Whether members may still sign in with a password (owners always may).
 */
password_login: boolean, };

export type RoleRule = { 
/**
 * A value of the claim, e.g. a group's name or id.
 */
value: string, 
/**
 * The role it grants (never `owner`: owners are made in Tether).
 */
role: Role, };

export type Recording = { 
/**
 * Its id (`rec_…`).
 */
id: string, 
/**
 * The session recorded.
 */
session_id: string, 
/**
 * The supporter who started it, or whom the policy names.
 */
owner_id: number | null, 
/**
 * Unix ms.
 */
started_at: number, 
/**
 * Unix ms it ended and was signed; none while it is being recorded.
 */
sealed_at: number | null, 
/**
 * How many segments it has.
 */
segment_count: number, 
/**
 * Their bytes in all.
 */
bytes: number, 
/**
 * Its segments in order (only when one recording is read).
 */
segments: Array<RecordingSegment>, 
/**
 * Who besides the organisation's admins and its owner may see it.
 */
access: Array<RecordingGrant>, };

export type RecordingSegment = { 
/**
 * Its place, from 1.
 */
n: number, 
/**
 * Bytes.
 */
size: number, 
/**
 * SHA-256 of its bytes, hex.
 */
sha256: string, };

export type RecordingGrant = { 
/**
 * Who.
 */
grantee: Grantee, 
/**
 * May also download its signed segments (to keep or verify offline).
 */
download: boolean, 
/**
 * May also delete it.
 */
delete: boolean, };

export type Grantee = { "user": number } | { "role": Role };

export type RecordingSettings = { 
/**
 * Days a recording is kept (1 to 3650); expired ones are deleted within the hour.
 */
retention_days: number, 
/**
 * Which sessions are recorded (default: none).
 */
mode: RecordingMode, };

export type RecordingMode = "off" | "on_request" | "always";

export type Manifest = { 
/**
 * [`FORMAT`].
 */
format: string, 
/**
 * The recording's id (where the chain starts).
 */
recording_id: string, 
/**
 * The segments, in order.
 */
segments: Array<Segment>, 
/**
 * The chain's last head, hex.
 */
head: string, 
/**
 * The signing relay's public key (Ed25519, base64url).
 */
public_key: string, 
/**
 * The signature of the head and the count (Ed25519, base64url).
 */
signature: string, };

export type Segment = { 
/**
 * Its file in the recording's folder (a plain name, no folders).
 */
file: string, 
/**
 * Bytes.
 */
size: number, 
/**
 * SHA-256 of its bytes, hex.
 */
sha256: string, };
