//! The SQLite [`Store`]: one connection behind a mutex, WAL journal, foreign keys on, versioned
//! migrations (`rusqlite_migration`). Each write is one statement or one transaction, so a crash
//! at any instant leaves the database consistent.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

use super::migrations::{self, Dialect};
use super::*;
use orgs::{PRINCIPAL_SELECT, principal_from_row};

/// The migrations as SQLite runs them.
fn migration_sql() -> Vec<String> {
    migrations::FILES
        .iter()
        .map(|f| migrations::render(f, Dialect::Sqlite))
        .collect()
}

/// SQLite-backed store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Dropping this stops the background checkpointer.
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
}

/// How often the background thread moves the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// Commits do not wait for the disk (WAL with `synchronous = NORMAL`: a crash can lose the
    /// last commits but never corrupts), and checkpoints — the only step that syncs — run on a
    /// background connection every second instead of inside whichever commit crosses the
    /// auto-checkpoint size, which would stall the signaling hub.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut store = Self::init(Connection::open(path)?)?;
        store.db()?.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoint = Connection::open(path)?;
        checkpoint.busy_timeout(std::time::Duration::from_secs(5))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // PASSIVE never blocks writers; a busy database just means "next time".
                    if let Err(e) =
                        checkpoint.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| StoreError::Db(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        store._checkpointer = Some(stop);
        Ok(store)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> StoreResult<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let sql = migration_sql();
        Migrations::new(sql.iter().map(|s| M::up(s)).collect()).to_latest(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            _checkpointer: None,
        })
    }

    fn db(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }
}

/// `NotFound` unless a write touched a row (in the caller's organisation).
fn one_row(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

fn api_key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    let scopes: String = r.get(2)?;
    Ok(ApiKeyInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

impl Store for SqliteStore {
    fn user_count(&self) -> StoreResult<u64> {
        Ok(self
            .db()?
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn create_user(
        &self,
        org_name: &str,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<(OrgId, UserId)> {
        accounts::create_user(&mut *self.db()?, org_name, user, role, now)
    }

    fn user_for_login(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        accounts::user_for_login(&*self.db()?, email)
    }

    fn principal(&self, org: OrgId, user: UserId) -> StoreResult<Option<Principal>> {
        Ok(self
            .db()?
            .query_row(
                "SELECT o.id, o.name, u.id, u.email, u.full_name, u.short_name, m.role, u.totp_secret, '',
                        o.files_allowed, o.max_file_bytes
                 FROM memberships m JOIN users u ON u.id = m.user_id JOIN orgs o ON o.id = m.org_id
                 WHERE m.org_id = ?1 AND m.user_id = ?2 AND u.disabled = 0",
                params![org, user],
                principal_from_row,
            )
            .optional()?)
    }

    fn set_totp_pending(&self, org: OrgId, user: UserId, secret: &str) -> StoreResult<()> {
        let n = self.db()?.execute(
            "UPDATE users SET totp_pending = ?3 WHERE id = ?2
             AND id IN (SELECT user_id FROM memberships WHERE org_id = ?1)",
            params![org, user, secret],
        )?;
        one_row(n)
    }

    fn totp_pending(&self, org: OrgId, user: UserId) -> StoreResult<Option<String>> {
        Ok(self
            .db()?
            .query_row(
                "SELECT u.totp_pending FROM users u JOIN memberships m ON m.user_id = u.id
                 WHERE m.org_id = ?1 AND u.id = ?2",
                params![org, user],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    fn confirm_totp(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        let n = self.db()?.execute(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL
             WHERE id = ?2 AND totp_pending IS NOT NULL
             AND id IN (SELECT user_id FROM memberships WHERE org_id = ?1)",
            params![org, user],
        )?;
        one_row(n)
    }

    fn spend_totp_step(&self, org: OrgId, user: UserId, step: u64) -> StoreResult<bool> {
        credentials::spend_totp_step(&*self.db()?, org, user, step)
    }

    fn set_password(&self, org: OrgId, user: UserId, hash: &str) -> StoreResult<()> {
        one_row(credentials::set_password(&*self.db()?, org, user, hash)?)
    }

    fn clear_totp(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        one_row(credentials::clear_totp(&*self.db()?, org, user)?)
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
        self.db()?.execute(
            "INSERT INTO auth_sessions (org_id, user_id, token_hash, family, kind, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![org, user, hash, family, kind.as_str(), expires_at, now],
        )?;
        Ok(())
    }

    fn principal_for_token(
        &self,
        hash: &[u8],
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<Principal>> {
        let sql = format!(
            "{PRINCIPAL_SELECT} WHERE t.token_hash = ?1 AND t.kind = ?2 AND t.expires_at > ?3
             AND t.revoked_at IS NULL AND t.used_at IS NULL AND u.disabled = 0"
        );
        Ok(self
            .db()?
            .query_row(&sql, params![hash, kind.as_str(), now], principal_from_row)
            .optional()?)
    }

    fn refresh_state(&self, hash: &[u8], now: i64) -> StoreResult<Option<RefreshState>> {
        accounts::refresh_state(&*self.db()?, hash, now)
    }

    fn mark_refresh_used(&self, org: OrgId, hash: &[u8], now: i64) -> StoreResult<bool> {
        let n = self.db()?.execute(
            "UPDATE auth_sessions SET used_at = ?3 WHERE org_id = ?1 AND token_hash = ?2 AND used_at IS NULL",
            params![org, hash, now],
        )?;
        Ok(n == 1)
    }

    fn revoke_family(&self, org: OrgId, family: &str, now: i64) -> StoreResult<()> {
        self.db()?.execute(
            "UPDATE auth_sessions SET revoked_at = ?3 WHERE org_id = ?1 AND family = ?2 AND revoked_at IS NULL",
            params![org, family, now],
        )?;
        Ok(())
    }

    fn revoke_user_tokens(&self, org: OrgId, user: UserId, now: i64) -> StoreResult<()> {
        self.db()?.execute(
            "UPDATE auth_sessions SET revoked_at = ?3 WHERE org_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
            params![org, user, now],
        )?;
        Ok(())
    }

    fn revoke_other_families(
        &self,
        org: OrgId,
        user: UserId,
        keep: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.db()?.execute(
            "UPDATE auth_sessions SET revoked_at = ?4 WHERE org_id = ?1 AND user_id = ?2 AND family != ?3 AND revoked_at IS NULL",
            params![org, user, keep, now],
        )?;
        Ok(())
    }

    fn set_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<()> {
        let n = self.db()?.execute(
            "UPDATE memberships SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
            params![org, user, role.as_str()],
        )?;
        one_row(n)
    }

    fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT u.id, u.email, u.full_name, u.short_name, m.role, u.totp_secret
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 ORDER BY u.email",
        )?;
        let rows = stmt.query_map([org], |r| {
            let role: String = r.get(4)?;
            Ok(Member {
                id: r.get(0)?,
                email: r.get(1)?,
                full_name: r.get(2)?,
                short_name: r.get(3)?,
                role: Role::parse(&role).unwrap_or(Role::Viewer),
                totp_enabled: r.get::<_, Option<String>>(5)?.is_some(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let db = self.db()?;
        db.execute(
            "INSERT INTO api_keys (org_id, name, key_hash, permissions, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![org, name, hash, scopes.join(" "), by, now],
        )?;
        Ok(db.last_insert_rowid())
    }

    fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKeyInfo>> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT id, name, permissions, created_at, revoked_at FROM api_keys WHERE org_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([org], api_key_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_api_key(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        let n = self.db()?.execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE org_id = ?1 AND id = ?2",
            params![org, id, now],
        )?;
        one_row(n)
    }

    fn create_operator_key(&self, name: &str, hash: &[u8], now: i64) -> StoreResult<i64> {
        operator_keys::create(&*self.db()?, name, hash, now)
    }

    fn list_operator_keys(&self) -> StoreResult<Vec<OperatorKeyInfo>> {
        operator_keys::list(&*self.db()?)
    }

    fn revoke_operator_key(&self, id: i64, now: i64) -> StoreResult<()> {
        one_row(operator_keys::revoke(&*self.db()?, id, now)?)
    }

    fn operator_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<OperatorKeyInfo>> {
        operator_keys::by_hash(&*self.db()?, hash)
    }

    fn api_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<(OrgId, String, ApiKeyInfo)>> {
        Ok(self
            .db()?
            .query_row(
                "SELECT k.id, k.name, k.permissions, k.created_at, k.revoked_at, k.org_id, o.name
                 FROM api_keys k JOIN orgs o ON o.id = k.org_id
                 /* any org: the key's hash establishes it */
                 WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
                [hash],
                |r| Ok((r.get(5)?, r.get(6)?, api_key_from_row(r)?)),
            )
            .optional()?)
    }

    fn insert_share_code(
        &self,
        code_hash: &[u8],
        hostname: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let inserted = self.db()?.execute(
            "INSERT INTO share_codes (code_hash, state, hostname, created_at, expires_at) VALUES (?1, 'live', ?2, ?3, ?4)",
            params![code_hash, hostname, now, expires_at],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("share code collides with a live code"))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn close_share_code(&self, code_hash: &[u8], state: &'static str) -> StoreResult<()> {
        self.db()?.execute(
            "UPDATE share_codes SET state = ?2 WHERE code_hash = ?1 AND state = 'live'",
            params![code_hash, state],
        )?;
        Ok(())
    }

    fn void_live_share_codes(&self) -> StoreResult<u64> {
        Ok(self.db()?.execute(
            "UPDATE share_codes SET state = 'void' WHERE state = 'live'",
            [],
        )? as u64)
    }

    fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        self.db()?.execute(
            "INSERT INTO sessions (id, org_id, viewer_id, hostname, mode, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![s.id, s.org_id, s.viewer_id, s.hostname, s.mode, s.started_at],
        )?;
        Ok(())
    }

    fn end_session(
        &self,
        org: OrgId,
        id: &str,
        at: i64,
        reason: &str,
        chat_messages: Option<u32>,
    ) -> StoreResult<()> {
        self.db()?.execute(
            "UPDATE sessions SET ended_at = ?3, end_reason = ?4, chat_messages = ?5
             WHERE org_id = ?1 AND id = ?2 AND ended_at IS NULL",
            params![org, id, at, reason, chat_messages],
        )?;
        Ok(())
    }

    fn list_sessions(&self, org: OrgId, limit: u32) -> StoreResult<Vec<SessionRecord>> {
        orgs::list_sessions(&*self.db()?, org, limit)
    }

    fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        webhooks::append_audit(&mut *self.db()?, e)
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
        let db = self.db()?;
        db.execute(
            "INSERT INTO enrollment_tokens (org_id, token_hash, tags, max_uses, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![org, hash, tags.join(" "), max_uses, expires_at, now],
        )?;
        Ok(db.last_insert_rowid())
    }

    fn list_enrollment_tokens(&self, org: OrgId) -> StoreResult<Vec<EnrollmentTokenInfo>> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT id, tags, max_uses, uses, expires_at, revoked_at, created_at
             FROM enrollment_tokens WHERE org_id = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([org], |r| {
            let tags: String = r.get(1)?;
            Ok(EnrollmentTokenInfo {
                id: r.get(0)?,
                tags: tags.split_whitespace().map(str::to_owned).collect(),
                max_uses: r.get(2)?,
                uses: r.get(3)?,
                expires_at: r.get(4)?,
                revoked_at: r.get(5)?,
                created_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_enrollment_token(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        let n = self.db()?.execute(
            "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, ?3)
             WHERE org_id = ?1 AND id = ?2",
            params![org, id, now],
        )?;
        one_row(n)
    }

    fn use_enrollment_token(
        &self,
        hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(OrgId, Vec<String>)>> {
        // One statement: two machines racing for the last use cannot both get it.
        let row: Option<(OrgId, String)> = self
            .db()?
            .query_row(
                "UPDATE enrollment_tokens SET uses = uses + 1
                 /* any org: the token's hash establishes it */
                 WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND uses < max_uses
                 RETURNING org_id, tags",
                params![hash, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(org, tags)| (org, tags.split_whitespace().map(str::to_owned).collect())))
    }

    fn create_machine(&self, org: OrgId, m: &NewMachine, now: i64) -> StoreResult<i64> {
        machines::create(&*self.db()?, org, m, now)
    }

    fn list_machines(&self, org: OrgId) -> StoreResult<Vec<MachineInfo>> {
        machines::list(&*self.db()?, org, None)
    }

    fn revoke_machine(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        let n = self.db()?.execute(
            "UPDATE machines SET revoked_at = COALESCE(revoked_at, ?3) WHERE org_id = ?1 AND id = ?2",
            params![org, id, now],
        )?;
        one_row(n)
    }

    fn machine(&self, org: OrgId, id: i64) -> StoreResult<Option<MachineInfo>> {
        Ok(machines::list(&*self.db()?, org, Some(id))?.pop())
    }

    fn machine_key(&self, id: i64) -> StoreResult<Option<MachineKey>> {
        machines::key(&*self.db()?, id)
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
        let n = self.db()?.execute(
            "UPDATE machines SET last_seen_at = ?3, hostname = ?4, os = ?5, version = ?6
             WHERE org_id = ?1 AND id = ?2",
            params![org, id, now, hostname, os, version],
        )?;
        one_row(n)
    }

    fn set_machine_policy(
        &self,
        org: OrgId,
        id: i64,
        policy: Option<&MachinePolicy>,
    ) -> StoreResult<()> {
        one_row(machines::set_policy(&*self.db()?, org, id, policy)?)
    }

    fn group_policies(&self, org: OrgId) -> StoreResult<Vec<GroupPolicy>> {
        machines::group_policies(&*self.db()?, org)
    }

    fn set_group_policy(
        &self,
        org: OrgId,
        tag: &str,
        policy: Option<&MachinePolicy>,
        now: i64,
    ) -> StoreResult<()> {
        machines::set_group_policy(&*self.db()?, org, tag, policy, now)
    }

    fn create_webhook(
        &self,
        org: OrgId,
        url: &str,
        events: &[String],
        salt: &[u8],
        now: i64,
    ) -> StoreResult<i64> {
        let db = self.db()?;
        let events = serde_json::to_string(events).unwrap_or_else(|_| "[]".into());
        db.execute(
            "INSERT INTO webhooks (org_id, url, secret_salt, events, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![org, url, salt, events, now],
        )?;
        Ok(db.last_insert_rowid())
    }

    fn list_webhooks(&self, org: OrgId) -> StoreResult<Vec<WebhookInfo>> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT id, url, events, created_at FROM webhooks WHERE org_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([org], |r| {
            let events: String = r.get(2)?;
            Ok(WebhookInfo {
                id: r.get(0)?,
                url: r.get(1)?,
                events: serde_json::from_str(&events).unwrap_or_default(),
                created_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_webhook(&self, org: OrgId, id: i64) -> StoreResult<()> {
        let n = self.db()?.execute(
            "DELETE FROM webhooks WHERE org_id = ?1 AND id = ?2",
            params![org, id],
        )?;
        one_row(n)
    }

    fn list_deliveries(
        &self,
        org: OrgId,
        webhook: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryInfo>> {
        webhooks::list_deliveries(&*self.db()?, org, webhook, limit)
    }

    fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        webhooks::claim_due_deliveries(&*self.db()?, now, lease_until, limit)
    }

    fn finish_delivery(
        &self,
        org: OrgId,
        id: i64,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()> {
        webhooks::finish_delivery(&*self.db()?, org, id, outcome, now)
    }

    fn set_org_files(&self, org: OrgId, rules: &FileRules) -> StoreResult<()> {
        orgs::set_files(&*self.db()?, org, rules)
    }

    fn org_files(&self, org: OrgId) -> StoreResult<FileRules> {
        orgs::files(&*self.db()?, org)
    }

    fn list_audit(&self, org: OrgId, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        webhooks::list_audit(&*self.db()?, org, f)
    }

    fn create_recording(&self, r: &NewRecording) -> StoreResult<()> {
        recordings::create(&*self.db()?, r)
    }

    fn recording_for_upload(&self, hash: &[u8]) -> StoreResult<Option<RecordingUpload>> {
        recordings::for_upload(&*self.db()?, hash)
    }

    fn add_recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
        size: u64,
        sha256: &[u8; 32],
    ) -> StoreResult<()> {
        recordings::add_segment(&*self.db()?, org, id, n, size, sha256)
    }

    fn seal_recording(&self, org: OrgId, id: &str, signature: &str, now: i64) -> StoreResult<()> {
        recordings::seal(&*self.db()?, org, id, signature, now)
    }

    fn recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
    ) -> StoreResult<Option<RecordingSegment>> {
        recordings::segment(&*self.db()?, org, id, n)
    }

    fn recording(&self, org: OrgId, id: &str) -> StoreResult<Option<Recording>> {
        recordings::one(&*self.db()?, org, id)
    }

    fn list_recordings(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Recording>> {
        recordings::list(&*self.db()?, org, limit)
    }

    fn set_recording_access(
        &self,
        org: OrgId,
        id: &str,
        grants: &[RecordingGrant],
    ) -> StoreResult<()> {
        recordings::set_access(&mut *self.db()?, org, id, grants)
    }

    fn delete_recording(&self, org: OrgId, id: &str) -> StoreResult<()> {
        recordings::delete(&*self.db()?, org, id)
    }

    fn recording_settings(&self, org: OrgId) -> StoreResult<RecordingSettings> {
        recordings::settings(&*self.db()?, org)
    }

    fn set_recording_settings(&self, org: OrgId, settings: &RecordingSettings) -> StoreResult<()> {
        recordings::set_settings(&*self.db()?, org, settings)
    }

    fn expired_recordings(&self, now: i64, limit: u32) -> StoreResult<Vec<(OrgId, String)>> {
        recordings::expired(&*self.db()?, now, limit)
    }

    fn sso_settings(&self, org: OrgId) -> StoreResult<Option<SsoSettings>> {
        sso::settings(&*self.db()?, org)
    }

    fn set_sso_settings(&self, org: OrgId, s: Option<&SsoSettings>, now: i64) -> StoreResult<()> {
        sso::set_settings(&mut *self.db()?, org, s, now)
    }

    fn sso_org_for_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        sso::org_for_domain(&*self.db()?, domain)
    }

    fn sso_identity(&self, org: OrgId, issuer: &str, subject: &str) -> StoreResult<Option<UserId>> {
        sso::identity(&*self.db()?, org, issuer, subject)
    }

    fn create_member(
        &self,
        org: OrgId,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<UserId> {
        accounts::create_member(&mut *self.db()?, org, user, role, now)
    }

    fn link_sso_identity(
        &self,
        org: OrgId,
        user: UserId,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<()> {
        sso::link(&*self.db()?, org, user, issuer, subject, now)
    }

    fn insert_sso_grant(&self, grant: &SsoGrant) -> StoreResult<()> {
        sso::insert_grant(&*self.db()?, grant)
    }

    fn claim_due_sso_grants(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<SsoGrant>> {
        sso::claim_due_grants(&*self.db()?, now, lease_until, limit)
    }

    fn update_sso_grant(
        &self,
        org: OrgId,
        family: &str,
        refresh_token: &[u8],
        check_at: i64,
    ) -> StoreResult<()> {
        sso::update_grant(&*self.db()?, org, family, refresh_token, check_at)
    }

    fn delete_sso_grant(&self, org: OrgId, family: &str) -> StoreResult<()> {
        sso::delete_grant(&*self.db()?, org, family)
    }

    fn merge_member(
        &self,
        org: OrgId,
        from: UserId,
        into: UserId,
        now: i64,
    ) -> StoreResult<MergeCounts> {
        accounts::merge_member(&mut *self.db()?, org, from, into, now)
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Runs raw SQL, for tests that check what the schema refuses.
    pub(super) fn execute_raw(&self, sql: &str) -> StoreResult<u64> {
        Ok(self.db()?.execute(sql, [])? as u64)
    }
}

mod accounts;
mod credentials;
mod machines;
mod operator_keys;
mod orgs;
mod recordings;
mod sso;
#[cfg(test)]
mod tests;
mod webhooks;
