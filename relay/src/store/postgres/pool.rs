//! The PostgreSQL store's connections: opening them on the store's own runtime, handing one
//! to each call, dropping the ones that broke, and migrating the database on the first.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, Row, Statement};

use super::super::migrations::{self, Dialect};
use super::super::*;
use super::{Params, PostgresStore};

/// One connection and the statements it has prepared, by their SQL.
pub(super) struct Conn {
    client: Client,
    prepared: HashMap<String, Statement>,
}

/// Waits for `f` on the calling thread. The futures of a connected client only talk to the
/// connection's task through channels, so no runtime is needed here.
fn wait<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

impl Conn {
    fn prepare(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = wait(self.client.prepare(sql))?;
        self.prepared.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Every row `sql` returns.
    pub(super) fn rows(&mut self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        let s = self.prepare(sql)?;
        Ok(wait(self.client.query(&s, params))?)
    }

    /// The row `sql` returns, if any.
    pub(super) fn row(&mut self, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
        let s = self.prepare(sql)?;
        Ok(wait(self.client.query_opt(&s, params))?)
    }

    /// Runs `sql`; returns the rows it changed.
    pub(super) fn exec(&mut self, sql: &str, params: Params<'_>) -> StoreResult<u64> {
        let s = self.prepare(sql)?;
        Ok(wait(self.client.execute(&s, params))?)
    }

    /// Runs `sql` unprepared (for tests).
    #[cfg(test)]
    pub(super) fn exec_raw(&mut self, sql: &str) -> StoreResult<u64> {
        Ok(wait(self.client.execute(sql, &[]))?)
    }

    /// Runs `f` in a transaction, committed if it returns `Ok`.
    pub(super) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        wait(self.client.batch_execute("BEGIN"))?;
        match f(self) {
            Ok(v) => {
                wait(self.client.batch_execute("COMMIT"))?;
                Ok(v)
            }
            Err(e) => {
                // A broken connection is dropped by the pool; a live one must not stay in the
                // failed transaction.
                let _ = wait(self.client.batch_execute("ROLLBACK"));
                Err(e)
            }
        }
    }
}

/// Whether a call that failed with `e` may succeed later, on this or a new connection: the
/// connection or server went away, or the server asked to retry.
pub(crate) fn is_transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return code.code().starts_with("08")
            || [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(code);
    }
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or `key=value` string) with `pool`
    /// connections, and migrates it to the latest schema.
    pub fn open(url: &str, pool: usize) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Config(format!("database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A database that vanished without closing (a partition, a dead host) is noticed in
        // seconds, not after TCP's retransmissions, so the calls waiting on it fail and retry
        // on a new connection.
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(15));
        }
        config.keepalives_idle(Duration::from_secs(15));
        config.application_name("tether-relay");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres-io")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("starting the database runtime: {e}")))?;
        let store = PostgresStore {
            slots: (0..pool.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            config,
            tls: tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()),
            runtime: Some(runtime),
        };
        store.with(migrate)?;
        Ok(store)
    }

    /// A new connection, its socket driven by the store's runtime.
    fn connect(&self) -> StoreResult<Conn> {
        let runtime = self.runtime.as_ref().ok_or(StoreError::Poisoned)?;
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let connecting = runtime.spawn(async move {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "database connection lost");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = wait(connecting).map_err(|e| StoreError::Unavailable(e.to_string()))??;
        Ok(Conn {
            client,
            prepared: HashMap::new(),
        })
    }

    /// Runs `f` on a free connection (or waits for one), connecting first if it is closed.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Conn) -> StoreResult<T>) -> StoreResult<T> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => self.slots[start % n]
                .lock()
                .map_err(|_| StoreError::Poisoned)?,
        };
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            *slot = Some(self.connect()?);
        }
        let conn = slot.as_mut().ok_or(StoreError::Poisoned)?;
        let result = f(conn);
        if let Err(StoreError::Postgres(e)) = &result
            && is_transient(e)
        {
            *slot = None;
        }
        result
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which an async caller may not do.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// TLS to the database, verified against the system's certificate authorities; used when the URL
/// asks for it (`sslmode=require`) or the server offers it (`prefer`, the default).
fn tls_config() -> tokio_rustls::rustls::ClientConfig {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| unreachable!("ring supports the default TLS versions"))
}

/// Applies the migrations this database lacks, one transaction each, holding an advisory lock
/// so that relays starting at once take turns.
fn migrate(c: &mut Conn) -> StoreResult<()> {
    /// The advisory lock's key: "tether" in ASCII.
    const LOCK: i64 = 0x7465_7468_6572;
    c.exec("SELECT pg_advisory_lock($1)", &[&LOCK])?;
    let result = (|| {
        wait(c.client.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        ))?;
        let done: i64 = c
            .row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        if done > migrations::FILES.len() as i64 {
            return Err(StoreError::Config(format!(
                "the database is at schema version {done}, newer than this relay's {}",
                migrations::FILES.len()
            )));
        }
        for (i, file) in migrations::FILES.iter().enumerate().skip(done as usize) {
            let sql = migrations::render(file, Dialect::Postgres);
            let version = i as i64 + 1;
            c.transaction(|c| {
                wait(c.client.batch_execute(&sql))?;
                c.exec(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[&version],
                )?;
                Ok(())
            })?;
        }
        Ok(())
    })();
    let unlocked = c.exec("SELECT pg_advisory_unlock($1)", &[&LOCK]);
    result.and(unlocked.map(|_| ()))
}
