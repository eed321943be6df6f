//! The store as the async parts of the relay call it: every call made on a tokio worker of a
//! multi-threaded runtime runs in [`tokio::task::block_in_place`], so the worker's other tasks
//! move to another thread while SQLite waits for its lock, a busy database or the disk. Calls
//! from plain threads (the hub's writer, `spawn_blocking`) and from a current-thread runtime
//! (tests) run as they are.

use std::sync::Arc;

use tokio::runtime::{Handle, RuntimeFlavor};

use super::*;

/// Runs `f` on the store on a blocking thread, off the async workers on any runtime; the error
/// says what failed (the store, or the thread).
pub async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A store whose calls never hold up a tokio worker's other tasks.
pub struct Offloaded(pub Arc<dyn Store>);

/// Runs `f`, handing the worker's other tasks to another thread first if this is a worker of a
/// multi-threaded runtime.
fn offload<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Store for Offloaded {
    fn user_count(&self) -> StoreResult<u64> {
        offload(|| self.0.user_count())
    }

    fn create_user(
        &self,
        org_name: &str,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<(OrgId, UserId)> {
        offload(|| self.0.create_user(org_name, user, role, now))
    }

    fn user_for_login(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        offload(|| self.0.user_for_login(email))
    }

    fn principal(&self, org: OrgId, user: UserId) -> StoreResult<Option<Principal>> {
        offload(|| self.0.principal(org, user))
    }

    fn set_totp_pending(&self, org: OrgId, user: UserId, secret: &str) -> StoreResult<()> {
        offload(|| self.0.set_totp_pending(org, user, secret))
    }

    fn totp_pending(&self, org: OrgId, user: UserId) -> StoreResult<Option<String>> {
        offload(|| self.0.totp_pending(org, user))
    }

    fn confirm_totp(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        offload(|| self.0.confirm_totp(org, user))
    }

    fn spend_totp_step(&self, org: OrgId, user: UserId, step: u64) -> StoreResult<bool> {
        offload(|| self.0.spend_totp_step(org, user, step))
    }

    fn set_password(&self, org: OrgId, user: UserId, hash: &str) -> StoreResult<()> {
        offload(|| self.0.set_password(org, user, hash))
    }

    fn clear_totp(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        offload(|| self.0.clear_totp(org, user))
    }

    #[allow(clippy::too_many_arguments)]
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
        offload(|| {
            self.0
                .insert_token(org, user, hash, kind, family, expires_at, now)
        })
    }

    fn principal_for_token(
        &self,
        hash: &[u8],
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<Principal>> {
        offload(|| self.0.principal_for_token(hash, kind, now))
    }

    fn refresh_state(&self, hash: &[u8], now: i64) -> StoreResult<Option<RefreshState>> {
        offload(|| self.0.refresh_state(hash, now))
    }

    fn mark_refresh_used(&self, org: OrgId, hash: &[u8], now: i64) -> StoreResult<bool> {
        offload(|| self.0.mark_refresh_used(org, hash, now))
    }

    fn revoke_family(&self, org: OrgId, family: &str, now: i64) -> StoreResult<()> {
        offload(|| self.0.revoke_family(org, family, now))
    }

    fn revoke_user_tokens(&self, org: OrgId, user: UserId, now: i64) -> StoreResult<()> {
        offload(|| self.0.revoke_user_tokens(org, user, now))
    }

    fn revoke_other_families(
        &self,
        org: OrgId,
        user: UserId,
        keep: &str,
        now: i64,
    ) -> StoreResult<()> {
        offload(|| self.0.revoke_other_families(org, user, keep, now))
    }

    fn set_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<()> {
        offload(|| self.0.set_role(org, user, role))
    }

    fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        offload(|| self.0.list_members(org))
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
        offload(|| self.0.create_api_key(org, name, hash, scopes, by, now))
    }

    fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKeyInfo>> {
        offload(|| self.0.list_api_keys(org))
    }

    fn revoke_api_key(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        offload(|| self.0.revoke_api_key(org, id, now))
    }

    fn create_operator_key(&self, name: &str, hash: &[u8], now: i64) -> StoreResult<i64> {
        offload(|| self.0.create_operator_key(name, hash, now))
    }

    fn list_operator_keys(&self) -> StoreResult<Vec<OperatorKeyInfo>> {
        offload(|| self.0.list_operator_keys())
    }

    fn revoke_operator_key(&self, id: i64, now: i64) -> StoreResult<()> {
        offload(|| self.0.revoke_operator_key(id, now))
    }

    fn operator_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<OperatorKeyInfo>> {
        offload(|| self.0.operator_key_for_hash(hash))
    }

    fn api_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<(OrgId, String, ApiKeyInfo)>> {
        offload(|| self.0.api_key_for_hash(hash))
    }

    fn insert_share_code(
        &self,
        code_hash: &[u8],
        hostname: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        offload(|| {
            self.0
                .insert_share_code(code_hash, hostname, now, expires_at)
        })
    }

    fn close_share_code(&self, code_hash: &[u8], state: &'static str) -> StoreResult<()> {
        offload(|| self.0.close_share_code(code_hash, state))
    }

    fn void_live_share_codes(&self) -> StoreResult<u64> {
        offload(|| self.0.void_live_share_codes())
    }

    fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        offload(|| self.0.create_session(session))
    }

    fn end_session(
        &self,
        org: OrgId,
        id: &str,
        at: i64,
        reason: &str,
        chat_messages: Option<u32>,
    ) -> StoreResult<()> {
        offload(|| self.0.end_session(org, id, at, reason, chat_messages))
    }

    fn list_sessions(&self, org: OrgId, limit: u32) -> StoreResult<Vec<SessionRecord>> {
        offload(|| self.0.list_sessions(org, limit))
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
        offload(|| {
            self.0
                .create_enrollment_token(org, hash, tags, max_uses, expires_at, now)
        })
    }

    fn list_enrollment_tokens(&self, org: OrgId) -> StoreResult<Vec<EnrollmentTokenInfo>> {
        offload(|| self.0.list_enrollment_tokens(org))
    }

    fn revoke_enrollment_token(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        offload(|| self.0.revoke_enrollment_token(org, id, now))
    }

    fn use_enrollment_token(
        &self,
        hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(OrgId, Vec<String>)>> {
        offload(|| self.0.use_enrollment_token(hash, now))
    }

    fn create_machine(&self, org: OrgId, m: &NewMachine, now: i64) -> StoreResult<i64> {
        offload(|| self.0.create_machine(org, m, now))
    }

    fn list_machines(&self, org: OrgId) -> StoreResult<Vec<MachineInfo>> {
        offload(|| self.0.list_machines(org))
    }

    fn revoke_machine(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()> {
        offload(|| self.0.revoke_machine(org, id, now))
    }

    fn machine(&self, org: OrgId, id: i64) -> StoreResult<Option<MachineInfo>> {
        offload(|| self.0.machine(org, id))
    }

    fn machine_key(&self, id: i64) -> StoreResult<Option<MachineKey>> {
        offload(|| self.0.machine_key(id))
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
        offload(|| self.0.machine_seen(org, id, hostname, os, version, now))
    }

    fn set_machine_policy(
        &self,
        org: OrgId,
        id: i64,
        policy: Option<&MachinePolicy>,
    ) -> StoreResult<()> {
        offload(|| self.0.set_machine_policy(org, id, policy))
    }

    fn group_policies(&self, org: OrgId) -> StoreResult<Vec<GroupPolicy>> {
        offload(|| self.0.group_policies(org))
    }

    fn set_group_policy(
        &self,
        org: OrgId,
        tag: &str,
        policy: Option<&MachinePolicy>,
        now: i64,
    ) -> StoreResult<()> {
        offload(|| self.0.set_group_policy(org, tag, policy, now))
    }

    fn create_webhook(
        &self,
        org: OrgId,
        url: &str,
        events: &[String],
        salt: &[u8],
        now: i64,
    ) -> StoreResult<i64> {
        offload(|| self.0.create_webhook(org, url, events, salt, now))
    }

    fn list_webhooks(&self, org: OrgId) -> StoreResult<Vec<WebhookInfo>> {
        offload(|| self.0.list_webhooks(org))
    }

    fn delete_webhook(&self, org: OrgId, id: i64) -> StoreResult<()> {
        offload(|| self.0.delete_webhook(org, id))
    }

    fn list_deliveries(
        &self,
        org: OrgId,
        webhook: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryInfo>> {
        offload(|| self.0.list_deliveries(org, webhook, limit))
    }

    fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        offload(|| self.0.claim_due_deliveries(now, lease_until, limit))
    }

    fn finish_delivery(
        &self,
        org: OrgId,
        id: i64,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()> {
        offload(|| self.0.finish_delivery(org, id, outcome, now))
    }

    fn set_org_files(&self, org: OrgId, rules: &FileRules) -> StoreResult<()> {
        offload(|| self.0.set_org_files(org, rules))
    }

    fn org_files(&self, org: OrgId) -> StoreResult<FileRules> {
        offload(|| self.0.org_files(org))
    }

    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        offload(|| self.0.append_audit(entry))
    }

    fn list_audit(&self, org: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        offload(|| self.0.list_audit(org, filter))
    }

    fn create_recording(&self, r: &NewRecording) -> StoreResult<()> {
        offload(|| self.0.create_recording(r))
    }

    fn recording_for_upload(&self, hash: &[u8]) -> StoreResult<Option<RecordingUpload>> {
        offload(|| self.0.recording_for_upload(hash))
    }

    fn add_recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
        size: u64,
        sha256: &[u8; 32],
    ) -> StoreResult<()> {
        offload(|| self.0.add_recording_segment(org, id, n, size, sha256))
    }

    fn seal_recording(&self, org: OrgId, id: &str, signature: &str, now: i64) -> StoreResult<()> {
        offload(|| self.0.seal_recording(org, id, signature, now))
    }

    fn recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
    ) -> StoreResult<Option<RecordingSegment>> {
        offload(|| self.0.recording_segment(org, id, n))
    }

    fn recording(&self, org: OrgId, id: &str) -> StoreResult<Option<Recording>> {
        offload(|| self.0.recording(org, id))
    }

    fn list_recordings(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Recording>> {
        offload(|| self.0.list_recordings(org, limit))
    }

    fn set_recording_access(
        &self,
        org: OrgId,
        id: &str,
        grants: &[RecordingGrant],
    ) -> StoreResult<()> {
        offload(|| self.0.set_recording_access(org, id, grants))
    }

    fn delete_recording(&self, org: OrgId, id: &str) -> StoreResult<()> {
        offload(|| self.0.delete_recording(org, id))
    }

    fn recording_settings(&self, org: OrgId) -> StoreResult<RecordingSettings> {
        offload(|| self.0.recording_settings(org))
    }

    fn set_recording_settings(&self, org: OrgId, settings: &RecordingSettings) -> StoreResult<()> {
        offload(|| self.0.set_recording_settings(org, settings))
    }

    fn expired_recordings(&self, now: i64, limit: u32) -> StoreResult<Vec<(OrgId, String)>> {
        offload(|| self.0.expired_recordings(now, limit))
    }

    fn sso_settings(&self, org: OrgId) -> StoreResult<Option<SsoSettings>> {
        offload(|| self.0.sso_settings(org))
    }

    fn set_sso_settings(&self, org: OrgId, s: Option<&SsoSettings>, now: i64) -> StoreResult<()> {
        offload(|| self.0.set_sso_settings(org, s, now))
    }

    fn sso_org_for_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        offload(|| self.0.sso_org_for_domain(domain))
    }

    fn sso_identity(&self, org: OrgId, issuer: &str, subject: &str) -> StoreResult<Option<UserId>> {
        offload(|| self.0.sso_identity(org, issuer, subject))
    }

    fn create_member(
        &self,
        org: OrgId,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<UserId> {
        offload(|| self.0.create_member(org, user, role, now))
    }

    fn link_sso_identity(
        &self,
        org: OrgId,
        user: UserId,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<()> {
        offload(|| self.0.link_sso_identity(org, user, issuer, subject, now))
    }

    fn insert_sso_grant(&self, grant: &SsoGrant) -> StoreResult<()> {
        offload(|| self.0.insert_sso_grant(grant))
    }

    fn claim_due_sso_grants(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<SsoGrant>> {
        offload(|| self.0.claim_due_sso_grants(now, lease_until, limit))
    }

    fn update_sso_grant(
        &self,
        org: OrgId,
        family: &str,
        refresh_token: &[u8],
        check_at: i64,
    ) -> StoreResult<()> {
        offload(|| {
            self.0
                .update_sso_grant(org, family, refresh_token, check_at)
        })
    }

    fn delete_sso_grant(&self, org: OrgId, family: &str) -> StoreResult<()> {
        offload(|| self.0.delete_sso_grant(org, family))
    }

    fn merge_member(
        &self,
        org: OrgId,
        from: UserId,
        into: UserId,
        now: i64,
    ) -> StoreResult<MergeCounts> {
        offload(|| self.0.merge_member(org, from, into, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    /// On a runtime with one worker, a store call stuck on a database another connection has
    /// locked does not stop the worker's other tasks: they finish first, and the call goes on
    /// once the lock is released.
    #[test]
    fn a_blocked_store_call_does_not_hold_up_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tether.db");
        let sqlite = SqliteStore::open(&path).unwrap();
        let user = NewUser {
            email: "a@x".into(),
            full_name: "A".into(),
            short_name: "A".into(),
            password_hash: "x".into(),
        };
        let (org, _) = sqlite.create_user("Acme", &user, Role::Owner, 0).unwrap();
        let store = Arc::new(Offloaded(Arc::new(sqlite)));
        let lock = rusqlite::Connection::open(&path).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (order_tx, order_rx) = std::sync::mpsc::channel();
        rt.block_on(async move {
            let (started_tx, started) = tokio::sync::oneshot::channel();
            let blocked = {
                let (store, order) = (store.clone(), order_tx.clone());
                tokio::spawn(async move {
                    // No await from here to the call: the worker is in it once this is sent.
                    started_tx.send(()).unwrap();
                    let r = store.set_org_files(org, &FileRules::NONE);
                    order.send("store call").unwrap();
                    r
                })
            };
            started.await.unwrap();
            let other = tokio::spawn(async move {
                order_tx.send("other task").unwrap();
            });
            other.await.unwrap();
            lock.execute_batch("COMMIT").unwrap();
            blocked
                .await
                .unwrap()
                .expect("the write goes through once unlocked");
        });
        let order: Vec<&str> = order_rx.try_iter().collect();
        assert_eq!(order, ["other task", "store call"]);
    }
}
