//! The TypeScript declarations of the HTTP API's bodies (`web/src/generated/api.ts`),
//! generated from the same types the handlers (de)serialise and the OpenAPI document describes,
//! so the browser app cannot drift from them. Checked like the protocol vectors: rerun with
//! `TETHER_BLESS_VECTORS=1` after a change and review the diff.

use std::collections::BTreeSet;

use ts_rs::{Config, TS};

use super::{account, admin, auth, enrollment, groups, machines, merge, sso, webhooks};
use crate::error::{ErrorBody, ErrorDetail};
use crate::policy::{Hours, MachinePolicy, PolicyRole};
use crate::recording::{Manifest, Segment};
use crate::store::{
    ApiKeyInfo, AuditEntry, DeliveryInfo, EnrollmentTokenInfo, Grantee, MachineInfo, Member,
    MergeCounts, PolicySource, Principal, Recording, RecordingGrant, RecordingMode,
    RecordingSegment, RecordingSettings, Role, RoleRule, SessionRecord, WebhookInfo,
};

/// The file, relative to the relay crate.
const FILE: &str = "../web/src/generated/api.ts";

/// Types declared in the signaling declarations, which this file imports.
const IMPORTED: &[&str] = &["FileRules"];

/// Every type a request or response body is made of, in the order they are declared.
macro_rules! declared {
    ($cfg:expr, $($t:ty),* $(,)?) => {
        vec![$((<$t as TS>::name($cfg), <$t as TS>::decl($cfg), <$t as TS>::dependencies($cfg)
            .into_iter().map(|d| d.ts_name).collect::<Vec<_>>())),*]
    };
}

/// Each type's name, declaration and the names it uses.
fn declarations(cfg: &Config) -> Vec<(String, String, Vec<String>)> {
    declared!(
        cfg,
        ErrorBody,
        ErrorDetail,
        // Signing in and the account.
        auth::LoginRequest,
        auth::TokenResponse,
        auth::RefreshRequest,
        auth::TotpOffer,
        auth::TotpEnroll,
        auth::TotpConfirm,
        sso::SsoStart,
        sso::SsoRedirect,
        account::PasswordChange,
        account::PasswordReset,
        Principal,
        Role,
        // The organisation.
        Member,
        admin::RoleChange,
        merge::MergeBody,
        merge::Merged,
        MergeCounts,
        admin::FilesBody,
        admin::NewKey,
        admin::CreatedKey,
        ApiKeyInfo,
        admin::TurnCredentials,
        SessionRecord,
        AuditEntry,
        webhooks::NewWebhook,
        webhooks::CreatedWebhook,
        WebhookInfo,
        DeliveryInfo,
        // Enrolled computers and their policies.
        enrollment::NewToken,
        enrollment::CreatedToken,
        EnrollmentTokenInfo,
        machines::Enroll,
        machines::Enrolled,
        machines::Unenroll,
        MachineInfo,
        PolicySource,
        MachinePolicy,
        PolicyRole,
        Hours,
        groups::Group,
        // Single sign-on.
        sso::SsoView,
        sso::SsoBody,
        RoleRule,
        // Recordings.
        Recording,
        RecordingSegment,
        RecordingGrant,
        Grantee,
        RecordingSettings,
        RecordingMode,
        Manifest,
        Segment,
    )
}

/// JSON numbers: every integer in a body fits in a double.
fn config() -> Config {
    Config::new().with_large_int("number")
}

/// The file's text.
fn generated() -> String {
    let mut out = String::from(
        "// Generated from the Rust types of the relay's HTTP API (`cargo test -p tether-relay \
         typescript` with TETHER_BLESS_VECTORS=1). Do not edit.\n\n",
    );
    out.push_str(&format!(
        "import type {{ {} }} from \"./signal\";\n",
        IMPORTED.join(", ")
    ));
    for (_, decl, _) in declarations(&config()) {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

/// The names of `all` and of the imported types: what the file lets a declaration use.
fn declared_or_imported(all: &[(String, String, Vec<String>)]) -> BTreeSet<&str> {
    all.iter()
        .map(|(n, _, _)| n.as_str())
        .chain(IMPORTED.iter().copied())
        .collect()
}

#[test]
fn every_type_a_body_uses_is_declared_or_imported() {
    let all = declarations(&config());
    let declared = declared_or_imported(&all);
    let missing: BTreeSet<&str> = all
        .iter()
        .flat_map(|(_, _, deps)| deps.iter().map(String::as_str))
        .filter(|d| !declared.contains(d))
        .collect();
    assert!(missing.is_empty(), "not declared: {missing:?}");
}

#[test]
fn every_schema_of_the_openapi_document_is_declared() {
    let doc = serde_json::to_value(super::document()).expect("the document serialises");
    let schemas: BTreeSet<&str> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .map(String::as_str)
        .collect();
    let all = declarations(&config());
    let declared = declared_or_imported(&all);
    let missing: Vec<_> = schemas.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "in the OpenAPI document, not declared: {missing:?}"
    );
}

#[test]
fn typescript_declarations_match_the_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    tether_tests::check_blessed(&path, &generated());
}
