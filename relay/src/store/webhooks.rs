//! Webhooks and their deliveries as the store hands them out.

use serde::Serialize;

use super::OrgId;

/// A webhook as listed for admins (its secret is never stored or listed).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WebhookInfo {
    /// Id.
    pub id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Audit actions delivered (`*` for all).
    pub events: Vec<String>,
    /// Unix ms.
    pub created_at: i64,
}

/// A delivery attempt's state, for admins.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DeliveryInfo {
    /// Id (also sent as `Tether-Delivery`).
    pub id: i64,
    /// The audit action delivered.
    pub action: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Unix ms of the next attempt, while pending.
    pub next_at: i64,
    /// Unix ms, once the receiver answered 2xx.
    pub delivered_at: Option<i64>,
    /// Unix ms, once retries ran out.
    pub failed_at: Option<i64>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    /// The last failure, when there was no status (timeout, refused, …).
    pub last_error: Option<String>,
}

/// A delivery due now, claimed by the sender (system-wide: the sender serves every org).
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// Delivery id.
    pub id: i64,
    /// Its organisation (every later write is scoped by it).
    pub org_id: OrgId,
    /// Target URL.
    pub url: String,
    /// Salt of the hook's signing secret.
    pub salt: Vec<u8>,
    /// The JSON body.
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i64,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered {
        /// HTTP status.
        status: u16,
    },
    /// Try again at `next_at`.
    Retry {
        /// HTTP status, if the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// Unix ms.
        next_at: i64,
    },
    /// No more attempts.
    GiveUp {
        /// HTTP status, if the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}
