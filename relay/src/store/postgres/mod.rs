//! The PostgreSQL [`Store`], for relays that share one database: a small pool of connections,
//! each with its prepared statements, migrated from the same files as SQLite
//! ([`super::migrations`]) under an advisory lock, so relays starting together migrate once.
//!
//! The store's methods are synchronous, like SQLite's, and may be called from any thread: the
//! connections' sockets run on the store's own one-thread runtime, and a call waits for its
//! answer on the calling thread, which the relay keeps off its async workers
//! ([`super::offload`]). A connection that breaks is opened again by the next call; until then
//! its errors count as [`StoreError::is_busy`], so the signaling hub retries its writes.

use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use tokio_postgres::types::ToSql;

use super::*;
use pool::Conn;
pub(crate) use pool::is_transient;

mod accounts;
mod machines;
mod pool;
mod recordings;
mod sso;
mod webhooks;

/// Connections per relay unless the URL's `pool_size`-free configuration says otherwise.
pub const DEFAULT_POOL: usize = 4;

/// Query parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// PostgreSQL-backed store.
pub struct PostgresStore {
    slots: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Runs the connections' sockets; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

/// `NotFound` unless a write touched a row (in the caller's organisation).
fn one_row(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Whether `e` is a uniqueness violation.
fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(p) if p.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION))
}

/// A `u32` count as PostgreSQL's `BIGINT`.
fn big(n: u32) -> i64 {
    i64::from(n)
}

impl Store for PostgresStore {
    fn user_count(&self) -> StoreResult<u64> {
        self.with(|c| {
            let n: i64 = c
                .row("SELECT COUNT(*) FROM users", &[])?
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or(0);
            Ok(n.max(0) as u64)
        })
    }

    fn create_user(
        &self,
        org_name: &str,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<(OrgId, UserId)> {
        self.with(|c| accounts::create_user(c, org_name, user, role, now))
    }

    fn user_for_login(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        self.with(|c| accounts::user_for_login(c, email))
    }

    fn principal(&self, org: OrgId, user: UserId) -> StoreResult<Option<Principal>> {
        self.with(|c| accounts::principal(c, org, user))
    }

    fn set_totp_pending(&self, org: OrgId, user: UserId, secret: &str) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE users SET totp_pending = $3 WHERE id = $2
                 AND id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
                &[&org, &user, &secret],
            )?)
        })
    }

    fn totp_pending(&self, org: OrgId, user: UserId) -> StoreResult<Option<String>> {
        self.with(|c| {
            Ok(c.row(
                "SELECT u.totp_pending FROM users u JOIN memberships m ON m.user_id = u.id
                 WHERE m.org_id = $1 AND u.id = $2",
                &[&org, &user],
            )?
            .map(|r| r.try_get::<_, Option<String>>(0))
            .transpose()?
            .flatten())
        })
    }

    fn confirm_totp(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL
                 WHERE id = $2 AND totp_pending IS NOT NULL
                 AND id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
                &[&org, &user],
            )?)
        })
    }

    fn spend_totp_step(&self, org: OrgId, user: UserId, step: u64) -> StoreResult<bool> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        self.with(|c| {
            Ok(c.exec(
                "UPDATE users SET totp_last_step = $3
                 WHERE (totp_last_step IS NULL OR totp_last_step < $3)
                 AND id = $2 AND id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
                &[&org, &user, &step],
            )? == 1)
        })
    }

    fn set_password(&self, org: OrgId, user: UserId, hash: &str) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE users SET password_hash = $3
                 WHERE id = $2 AND id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
                &[&org, &user, &hash],
            )?)
        })
    }

    fn clear_totp(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE users SET totp_secret = NULL, totp_pending = NULL
                 WHERE id = $2 AND id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
                &[&org, &user],
            )?)
        })
    }

    fn insert_token(
        &self,
        org: OrgId,
        user: UserId,
        hash: &[u8],
        kind: TokenKind,
        family: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        self.with(|c| {
            c.exec(
                "INSERT INTO auth_sessions (org_id, user_id, token_hash, family, kind, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&org, &user, &hash, &family, &kind.as_str(), &expires_at, &now],
            )?;
            Ok(())
        })
    }

    fn principal_for_token(
        &self,
        hash: &[u8],
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<Principal>> {
        self.with(|c| accounts::principal_for_token(c, hash, kind, now))
    }

    fn refresh_state(&self, hash: &[u8], now: i64) -> StoreResult<Option<RefreshState>> {
        self.with(|c| accounts::refresh_state(c, hash, now))
    }

    fn mark_refresh_used(&self, org: OrgId, hash: &[u8], now: i64) -> StoreResult<bool> {
        self.with(|c| {
            Ok(c.exec(
                "UPDATE auth_sessions SET used_at = $3
                 WHERE org_id = $1 AND token_hash = $2 AND used_at IS NULL",
                &[&org, &hash, &now],
            )? == 1)
        })
    }

    fn revoke_family(&self, org: OrgId, family: &str, now: i64) -> StoreResult<()> {
        self.with(|c| {
            c.exec(
                "UPDATE auth_sessions SET revoked_at = $3
                 WHERE org_id = $1 AND family = $2 AND revoked_at IS NULL",
                &[&org, &family, &now],
            )?;
            Ok(())
        })
    }

    fn revoke_user_tokens(&self, org: OrgId, user: UserId, now: i64) -> StoreResult<()> {
        self.with(|c| {
            c.exec(
                "UPDATE auth_sessions SET revoked_at = $3
                 WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[&org, &user, &now],
            )?;
            Ok(())
        })
    }

    fn revoke_other_families(
        &self,
        org: OrgId,
        user: UserId,
        keep: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.with(|c| {
            c.exec(
                "UPDATE auth_sessions SET revoked_at = $4
                 WHERE org_id = $1 AND user_id = $2 AND family != $3 AND revoked_at IS NULL",
                &[&org, &user, &keep, &now],
            )?;
            Ok(())
        })
    }

    fn set_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2",
                &[&org, &user, &role.as_str()],
            )?)
        })
    }

    fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        self.with(|c| accounts::list_members(c, org))
    }

    fn create_api_key(
        &self,
        org: OrgId,
        name: &str,
        hash: &[u8],
        scopes: &[String],
        by: UserId,
        now: i64,
    ) -> StoreResult<i64> {
        let scopes = scopes.join(" ");
        self.with(|c| {
            accounts::returned_id(c.row(
                "INSERT INTO api_keys (org_id, name, key_hash, permissions, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&org, &name, &hash, &scopes, &by, &now],
            )?)
        })
    }

    fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKeyInfo>> {
        self.with(|c| {
            c.rows(
                "SELECT id, name, permissions, created_at, revoked_at FROM api_keys
                 WHERE org_id = $1 ORDER BY id",
                &[&org],
            )?
            .iter()
            .map(accounts::api_key_from_row)
            .collect()
        })
    }

    fn revoke_api_key(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
                 WHERE org_id = $1 AND id = $2",
                &[&org, &id, &now],
            )?)
        })
    }

    fn create_operator_key(&self, name: &str, hash: &[u8], now: i64) -> StoreResult<i64> {
        self.with(|c| {
            accounts::returned_id(c.row(
                "INSERT INTO operator_keys (name, key_hash, created_at) VALUES ($1, $2, $3)
                 RETURNING id",
                &[&name, &hash, &now],
            )?)
        })
    }

    fn list_operator_keys(&self) -> StoreResult<Vec<OperatorKeyInfo>> {
        self.with(|c| {
            c.rows(
                "SELECT id, name, created_at, revoked_at FROM operator_keys ORDER BY id",
                &[],
            )?
            .iter()
            .map(accounts::operator_key_from_row)
            .collect()
        })
    }

    fn revoke_operator_key(&self, id: i64, now: i64) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE operator_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                &[&id, &now],
            )?)
        })
    }

    fn operator_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<OperatorKeyInfo>> {
        self.with(|c| {
            c.row(
                "SELECT id, name, created_at, revoked_at FROM operator_keys
                 WHERE key_hash = $1 AND revoked_at IS NULL",
                &[&hash],
            )?
            .as_ref()
            .map(accounts::operator_key_from_row)
            .transpose()
        })
    }

    fn api_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<(OrgId, String, ApiKeyInfo)>> {
        self.with(|c| accounts::api_key_for_hash(c, hash))
    }

    fn insert_share_code(
        &self,
        code_hash: &[u8],
        hostname: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let inserted = self.with(|c| {
            c.exec(
                "INSERT INTO share_codes (code_hash, state, hostname, created_at, expires_at)
                 VALUES ($1, 'live', $2, $3, $4)",
                &[&code_hash, &hostname, &now, &expires_at],
            )
        });
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("share code collides with a live code"))
            }
            Err(e) => Err(e),
        }
    }

    fn close_share_code(&self, code_hash: &[u8], state: &'static str) -> StoreResult<()> {
        self.with(|c| {
            c.exec(
                "UPDATE share_codes SET state = $2 WHERE code_hash = $1 AND state = 'live'",
                &[&code_hash, &state],
            )?;
            Ok(())
        })
    }

    fn void_live_share_codes(&self) -> StoreResult<u64> {
        self.with(|c| {
            c.exec(
                "UPDATE share_codes SET state = 'void' WHERE state = 'live'",
                &[],
            )
        })
    }

    fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        self.with(|c| {
            c.exec(
                "INSERT INTO sessions (id, org_id, viewer_id, hostname, mode, started_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &s.id,
                    &s.org_id,
                    &s.viewer_id,
                    &s.hostname,
                    &s.mode,
                    &s.started_at,
                ],
            )?;
            Ok(())
        })
    }

    fn end_session(
        &self,
        org: OrgId,
        id: &str,
        at: i64,
        reason: &str,
        chat_messages: Option<u32>,
    ) -> StoreResult<()> {
        let chat = chat_messages.map(big);
        self.with(|c| {
            c.exec(
                "UPDATE sessions SET ended_at = $3, end_reason = $4, chat_messages = $5
                 WHERE org_id = $1 AND id = $2 AND ended_at IS NULL",
                &[&org, &id, &at, &reason, &chat],
            )?;
            Ok(())
        })
    }

    fn list_sessions(&self, org: OrgId, limit: u32) -> StoreResult<Vec<SessionRecord>> {
        self.with(|c| accounts::list_sessions(c, org, big(limit.min(500))))
    }

    fn create_enrollment_token(
        &self,
        org: OrgId,
        hash: &[u8],
        tags: &[String],
        max_uses: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<i64> {
        let tags = tags.join(" ");
        self.with(|c| {
            accounts::returned_id(c.row(
                "INSERT INTO enrollment_tokens (org_id, token_hash, tags, max_uses, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&org, &hash, &tags, &max_uses, &expires_at, &now],
            )?)
        })
    }

    fn list_enrollment_tokens(&self, org: OrgId) -> StoreResult<Vec<EnrollmentTokenInfo>> {
        self.with(|c| machines::list_enrollment_tokens(c, org))
    }

    fn revoke_enrollment_token(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, $3)
                 WHERE org_id = $1 AND id = $2",
                &[&org, &id, &now],
            )?)
        })
    }

    fn use_enrollment_token(
        &self,
        hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(OrgId, Vec<String>)>> {
        self.with(|c| machines::use_enrollment_token(c, hash, now))
    }

    fn create_machine(&self, org: OrgId, m: &NewMachine, now: i64) -> StoreResult<i64> {
        let created = self.with(|c| machines::create(c, org, m, now));
        match created {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("machine key already enrolled"))
            }
            other => other,
        }
    }

    fn list_machines(&self, org: OrgId) -> StoreResult<Vec<MachineInfo>> {
        self.with(|c| machines::list(c, org, None))
    }

    fn revoke_machine(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE machines SET revoked_at = COALESCE(revoked_at, $3)
                 WHERE org_id = $1 AND id = $2",
                &[&org, &id, &now],
            )?)
        })
    }

    fn machine(&self, org: OrgId, id: i64) -> StoreResult<Option<MachineInfo>> {
        Ok(self.with(|c| machines::list(c, org, Some(id)))?.pop())
    }

    fn machine_key(&self, id: i64) -> StoreResult<Option<MachineKey>> {
        self.with(|c| machines::key(c, id))
    }

    fn machine_seen(
        &self,
        org: OrgId,
        id: i64,
        hostname: &str,
        os: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "UPDATE machines SET last_seen_at = $3, hostname = $4, os = $5, version = $6
                 WHERE org_id = $1 AND id = $2",
                &[&org, &id, &now, &hostname, &os, &version],
            )?)
        })
    }

    fn set_machine_policy(
        &self,
        org: OrgId,
        id: i64,
        policy: Option<&MachinePolicy>,
    ) -> StoreResult<()> {
        self.with(|c| one_row(machines::set_policy(c, org, id, policy)?))
    }

    fn group_policies(&self, org: OrgId) -> StoreResult<Vec<GroupPolicy>> {
        self.with(|c| machines::group_policies(c, org))
    }

    fn set_group_policy(
        &self,
        org: OrgId,
        tag: &str,
        policy: Option<&MachinePolicy>,
        now: i64,
    ) -> StoreResult<()> {
        self.with(|c| machines::set_group_policy(c, org, tag, policy, now))
    }

    fn create_webhook(
        &self,
        org: OrgId,
        url: &str,
        events: &[String],
        salt: &[u8],
        now: i64,
    ) -> StoreResult<i64> {
        let events = serde_json::to_string(events).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            accounts::returned_id(c.row(
                "INSERT INTO webhooks (org_id, url, secret_salt, events, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&org, &url, &salt, &events, &now],
            )?)
        })
    }

    fn list_webhooks(&self, org: OrgId) -> StoreResult<Vec<WebhookInfo>> {
        self.with(|c| webhooks::list(c, org))
    }

    fn delete_webhook(&self, org: OrgId, id: i64) -> StoreResult<()> {
        self.with(|c| {
            one_row(c.exec(
                "DELETE FROM webhooks WHERE org_id = $1 AND id = $2",
                &[&org, &id],
            )?)
        })
    }

    fn list_deliveries(
        &self,
        org: OrgId,
        webhook: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryInfo>> {
        self.with(|c| webhooks::list_deliveries(c, org, webhook, limit))
    }

    fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        self.with(|c| webhooks::claim_due_deliveries(c, now, lease_until, big(limit)))
    }

    fn finish_delivery(
        &self,
        org: OrgId,
        id: i64,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()> {
        self.with(|c| webhooks::finish_delivery(c, org, id, outcome, now))
    }

    fn set_org_files(&self, org: OrgId, rules: &FileRules) -> StoreResult<()> {
        let max = rules.max_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let allowed = i64::from(rules.allowed);
        self.with(|c| {
            one_row(c.exec(
                "UPDATE orgs SET files_allowed = $2, max_file_bytes = $3 WHERE id = $1",
                &[&org, &allowed, &max],
            )?)
        })
    }

    fn org_files(&self, org: OrgId) -> StoreResult<FileRules> {
        self.with(|c| accounts::org_files(c, org))
    }

    fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.with(|c| webhooks::append_audit(c, e))
    }

    fn list_audit(&self, org: OrgId, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        self.with(|c| webhooks::list_audit(c, org, f))
    }

    fn create_recording(&self, r: &NewRecording) -> StoreResult<()> {
        self.with(|c| recordings::create(c, r))
    }

    fn recording_for_upload(&self, hash: &[u8]) -> StoreResult<Option<RecordingUpload>> {
        self.with(|c| recordings::for_upload(c, hash))
    }

    fn add_recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
        size: u64,
        sha256: &[u8; 32],
    ) -> StoreResult<()> {
        self.with(|c| recordings::add_segment(c, org, id, n, size, sha256))
    }

    fn seal_recording(&self, org: OrgId, id: &str, signature: &str, now: i64) -> StoreResult<()> {
        self.with(|c| recordings::seal(c, org, id, signature, now))
    }

    fn recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
    ) -> StoreResult<Option<RecordingSegment>> {
        self.with(|c| recordings::segment(c, org, id, n))
    }

    fn recording(&self, org: OrgId, id: &str) -> StoreResult<Option<Recording>> {
        self.with(|c| recordings::one(c, org, id))
    }

    fn list_recordings(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Recording>> {
        self.with(|c| recordings::list(c, org, limit))
    }

    fn set_recording_access(
        &self,
        org: OrgId,
        id: &str,
        grants: &[RecordingGrant],
    ) -> StoreResult<()> {
        self.with(|c| recordings::set_access(c, org, id, grants))
    }

    fn delete_recording(&self, org: OrgId, id: &str) -> StoreResult<()> {
        self.with(|c| recordings::delete(c, org, id))
    }

    fn recording_settings(&self, org: OrgId) -> StoreResult<RecordingSettings> {
        self.with(|c| recordings::settings(c, org))
    }

    fn set_recording_settings(&self, org: OrgId, settings: &RecordingSettings) -> StoreResult<()> {
        self.with(|c| recordings::set_settings(c, org, settings))
    }

    fn expired_recordings(&self, now: i64, limit: u32) -> StoreResult<Vec<(OrgId, String)>> {
        self.with(|c| recordings::expired(c, now, limit))
    }

    fn sso_settings(&self, org: OrgId) -> StoreResult<Option<SsoSettings>> {
        self.with(|c| sso::settings(c, org))
    }

    fn set_sso_settings(&self, org: OrgId, s: Option<&SsoSettings>, now: i64) -> StoreResult<()> {
        self.with(|c| sso::set_settings(c, org, s, now))
    }

    fn sso_org_for_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        self.with(|c| sso::org_for_domain(c, domain))
    }

    fn sso_identity(&self, org: OrgId, issuer: &str, subject: &str) -> StoreResult<Option<UserId>> {
        self.with(|c| sso::identity(c, org, issuer, subject))
    }

    fn create_member(
        &self,
        org: OrgId,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<UserId> {
        self.with(|c| accounts::create_member(c, org, user, role, now))
    }

    fn link_sso_identity(
        &self,
        org: OrgId,
        user: UserId,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.with(|c| sso::link(c, org, user, issuer, subject, now))
    }

    fn insert_sso_grant(&self, grant: &SsoGrant) -> StoreResult<()> {
        self.with(|c| sso::insert_grant(c, grant))
    }

    fn claim_due_sso_grants(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<SsoGrant>> {
        self.with(|c| sso::claim_due_grants(c, now, lease_until, limit))
    }

    fn update_sso_grant(
        &self,
        org: OrgId,
        family: &str,
        refresh_token: &[u8],
        check_at: i64,
    ) -> StoreResult<()> {
        self.with(|c| sso::update_grant(c, org, family, refresh_token, check_at))
    }

    fn delete_sso_grant(&self, org: OrgId, family: &str) -> StoreResult<()> {
        self.with(|c| sso::delete_grant(c, org, family))
    }

    fn merge_member(
        &self,
        org: OrgId,
        from: UserId,
        into: UserId,
        now: i64,
    ) -> StoreResult<MergeCounts> {
        self.with(|c| accounts::merge_member(c, org, from, into, now))
    }
}

#[cfg(test)]
impl PostgresStore {
    /// Runs raw SQL, for tests that check what the schema refuses.
    pub(super) fn execute_raw(&self, sql: &str) -> StoreResult<u64> {
        self.with(|c| c.exec_raw(sql))
    }
}
