//! Single sign-on with OpenID Connect: an organisation's members sign in at its identity
//! provider (authorization code flow with PKCE), and the relay checks what comes back.
//!
//! Discovery, the token exchange and every check of the `id_token` (signature against the
//! provider's current keys, issuer, audience, expiry and issue time with a minute of skew,
//! nonce) are
//! `openidconnect`'s; the relay supplies the HTTP client ([`Outbound`]: `https` to public
//! addresses unless `sso_allow_private`) and decides who the person is in Tether
//! ([`crate::api::sso`]). Discovery and the keys are read again for each sign-in, so a provider
//! that rotates its keys is followed at once.
//!
//! Between the redirect to the provider and the way back, the sign-in's state, nonce and PKCE
//! verifier travel in a cookie sealed with a key derived from the relay key ([`Pending`]): any
//! relay of a cluster can finish what another began, nothing is stored, and a callback is
//! bound to the browser that started it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::auth;
use crate::error::{Error, Result};
use crate::outbound::Outbound;
use crate::store::{OrgId, Role, SsoSettings};

/// How long a person has at the provider before the sign-in must start again.
pub const PENDING_SECS: u64 = 600;
/// How long a discovery document serves checks of sign-ins.
const CHECK_DISCOVERY_FOR: Duration = Duration::from_secs(300);
/// Largest answer read from a provider (discovery, keys, tokens).
const ANSWER_LIMIT: usize = 1 << 20;

/// Claims beyond the standard ones, read for the role mapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    rest: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for Extra {}

type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type Client = openidconnect::Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Seconds the provider's clock may differ from the relay's.
const CLOCK_SKEW_SECS: i64 = 60;

/// A sign-in between the redirect to the provider and the way back, sealed in a cookie.
#[derive(Serialize, Deserialize)]
struct Pending {
    org: OrgId,
    state: String,
    nonce: String,
    verifier: String,
    /// Unix seconds after which it is refused.
    expires: u64,
}

/// Who the provider says signed in, once every check passed.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The organisation the sign-in began for.
    pub org: OrgId,
    /// The provider's issuer URL.
    pub issuer: String,
    /// The provider's stable id of the person.
    pub subject: String,
    /// E-mail, lower case, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider vouches for the e-mail (`email_verified`).
    pub email_verified: bool,
    /// Full name, if given.
    pub name: Option<String>,
    /// Given name, if given.
    pub given_name: Option<String>,
    /// The values of the organisation's role claim (a string or a list of strings).
    pub claim_values: Vec<String>,
    /// The provider's refresh token, if it gave one.
    pub refresh_token: Option<String>,
}

/// Single sign-on's keys and HTTP client.
pub struct Sso {
    secret_key: Vec<u8>,
    state_key: Vec<u8>,
    refresh_key: Vec<u8>,
    http: Http,
    /// Discovery documents for checks, by issuer, with when they were read.
    discovered: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

/// The HTTP client `openidconnect` calls: [`Outbound`], answers up to [`ANSWER_LIMIT`].
#[derive(Clone)]
struct Http(Outbound);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send + 'c>>;

    fn call(&'c self, req: HttpRequest) -> Self::Future {
        Box::pin(self.0.send(req, ANSWER_LIMIT, "identity provider"))
    }
}

/// An error and its causes in one line (openidconnect's own messages are terse).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

impl Sso {
    /// Keys derived from the relay key; `allow_private` lets issuers use `http` and private
    /// addresses.
    pub fn new(relay_key: &[u8], allow_private: bool) -> Sso {
        Sso {
            secret_key: auth::derive_key(relay_key, "sso-client-secret"),
            state_key: auth::derive_key(relay_key, "sso-pending"),
            refresh_key: auth::derive_key(relay_key, "sso-refresh-token"),
            http: Http(Outbound::new(allow_private)),
            discovered: Mutex::new(HashMap::new()),
        }
    }

    /// Seals a client secret for the store.
    pub fn seal_secret(&self, secret: &str) -> Result<Vec<u8>> {
        auth::seal(&self.secret_key, secret.as_bytes())
    }

    /// Checks an issuer URL's form and that its discovery document and keys can be read.
    pub async fn check_issuer(&self, issuer: &str) -> Result<()> {
        crate::outbound::check_url(issuer, self.http.0.allows_private(), "issuer URL")?;
        self.discover(issuer).await.map(drop)
    }

    async fn discover(&self, issuer: &str) -> Result<CoreProviderMetadata> {
        let url = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| Error::BadRequest(format!("the issuer URL: {e}")))?;
        CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| Error::Provider(format!("discovery at {issuer}: {}", chain(&e))))
    }

    /// Discovery for checks of sign-ins: kept for [`CHECK_DISCOVERY_FOR`] per issuer, so a round
    /// of checks asks each provider once, not once per sign-in. (Sign-ins read it afresh: their
    /// id_tokens are checked against the keys of the moment.)
    async fn discover_for_checks(&self, issuer: &str) -> Result<CoreProviderMetadata> {
        let kept = self
            .discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(issuer)
            .cloned();
        if let Some((at, meta)) = kept
            && at.elapsed() < CHECK_DISCOVERY_FOR
        {
            return Ok(meta);
        }
        let meta = self.discover(issuer).await?;
        let mut kept = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|_, (at, _)| at.elapsed() < CHECK_DISCOVERY_FOR);
        kept.insert(issuer.to_owned(), (Instant::now(), meta.clone()));
        Ok(meta)
    }

    /// The client for `s` with discovery read afresh, and whether the provider offers
    /// `offline_access` (refresh tokens the relay can check the sign-in with).
    async fn client(&self, s: &SsoSettings, redirect: &str) -> Result<(Client, bool)> {
        let meta = self.discover(&s.issuer).await?;
        self.client_from(meta, s, redirect)
    }

    fn client_from(
        &self,
        meta: CoreProviderMetadata,
        s: &SsoSettings,
        redirect: &str,
    ) -> Result<(Client, bool)> {
        let secret = auth::open(&self.secret_key, &s.client_secret)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                Error::Internal(
                    "the stored client secret does not open under this relay key".into(),
                )
            })?;
        let offline = meta
            .scopes_supported()
            .is_some_and(|scopes| scopes.iter().any(|sc| sc.as_str() == "offline_access"));
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|e| Error::Config(format!("redirect URL: {e}")))?;
        let client = Client::from_provider_metadata(
            meta,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(redirect);
        Ok((client, offline))
    }

    /// Begins a sign-in for `org`: the provider's URL to send the browser to, and the sealed
    /// value of the cookie that must come back with it.
    pub async fn start(
        &self,
        org: OrgId,
        s: &SsoSettings,
        redirect: &str,
        login_hint: &str,
        now_secs: u64,
    ) -> Result<(String, String)> {
        let (client, offline) = self.client(s, redirect).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("login_hint", login_hint)
            .set_pkce_challenge(challenge);
        if offline {
            // A refresh token lets the relay ask later whether the person may still sign in.
            request = request.add_scope(Scope::new("offline_access".into()));
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            org,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            expires: now_secs + PENDING_SECS,
        };
        let json = serde_json::to_vec(&pending).map_err(|e| Error::Internal(e.to_string()))?;
        let sealed = auth::seal(&self.state_key, &json)?;
        Ok((url.to_string(), URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The organisation a sealed pending sign-in is for, if it opens and has not expired.
    pub fn pending_org(&self, cookie: &str, now_secs: u64) -> Option<OrgId> {
        self.pending(cookie, now_secs).map(|p| p.org)
    }

    fn pending(&self, cookie: &str, now_secs: u64) -> Option<Pending> {
        let sealed = URL_SAFE_NO_PAD.decode(cookie).ok()?;
        let json = auth::open(&self.state_key, &sealed)?;
        let p: Pending = serde_json::from_slice(&json).ok()?;
        (now_secs <= p.expires).then_some(p)
    }

    /// Finishes a sign-in: checks `state` against the cookie's, exchanges the code (with the
    /// PKCE verifier) and has every claim of the `id_token` checked.
    pub async fn finish(
        &self,
        s: &SsoSettings,
        redirect: &str,
        cookie: &str,
        code: &str,
        state: &str,
        now_secs: u64,
    ) -> Result<Identity> {
        let p = self.pending(cookie, now_secs).ok_or_else(|| {
            Error::BadRequest("the sign-in expired or began in another browser".into())
        })?;
        if !bool::from(p.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(Error::BadRequest(
                "the sign-in's state does not match".into(),
            ));
        }
        let (client, _) = self.client(s, redirect).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Error::Provider(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(p.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| Error::Provider(format!("token exchange: {}", chain(&e))))?;
        let id_token = tokens
            .extra_fields()
            .id_token()
            .ok_or_else(|| Error::Provider("the provider sent no id_token".into()))?;
        let verifier = client
            .id_token_verifier()
            // The provider's clock and the relay's differ a little: a token is taken until a
            // minute past its expiry, and refused if issued more than a minute from now.
            .set_time_fn(|| chrono::Utc::now() - chrono::TimeDelta::seconds(CLOCK_SKEW_SECS))
            .set_issue_time_verifier_fn(|iat| {
                let latest = chrono::Utc::now() + chrono::TimeDelta::seconds(CLOCK_SKEW_SECS);
                if iat > latest {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            });
        let claims = id_token
            .claims(&verifier, &Nonce::new(p.nonce))
            .map_err(|e| Error::Provider(format!("id_token refused: {}", chain(&e))))?;
        let name = |n: Option<&openidconnect::LocalizedClaim<_>>| {
            n.and_then(|n| n.get(None))
                .map(|v: &openidconnect::EndUserName| v.to_string())
        };
        let given = claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|v| v.to_string());
        Ok(Identity {
            org: p.org,
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_lowercase()),
            email_verified: vouched(claims.email_verified(), claims.additional_claims()),
            name: name(claims.name()),
            given_name: given,
            claim_values: claim_values(claims.additional_claims(), &s.role_claim),
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        })
    }

    /// Seals a provider's refresh token for the store.
    pub fn seal_refresh(&self, token: &str) -> Result<Vec<u8>> {
        auth::seal(&self.refresh_key, token.as_bytes())
    }

    /// Asks the provider, with the sign-in's sealed refresh token, whether the person may still
    /// sign in.
    pub async fn check(&self, s: &SsoSettings, redirect: &str, sealed: &[u8]) -> Checked {
        let Some(token) =
            auth::open(&self.refresh_key, sealed).and_then(|b| String::from_utf8(b).ok())
        else {
            return Checked::Ended(
                "the stored refresh token does not open under this relay key".into(),
            );
        };
        let client = match self.discover_for_checks(&s.issuer).await {
            Ok(meta) => self.client_from(meta, s, redirect).map(|(c, _)| c),
            Err(e) => Err(e),
        };
        let client = match client {
            Ok(c) => c,
            Err(e) => return Checked::Unknown(e.to_string()),
        };
        let asked = match client.exchange_refresh_token(&RefreshToken::new(token)) {
            Ok(request) => request.request_async(&self.http).await,
            Err(e) => return Checked::Unknown(format!("the provider has no token endpoint: {e}")),
        };
        match asked {
            Ok(tokens) => match tokens.refresh_token() {
                Some(next) => match self.seal_refresh(next.secret()) {
                    Ok(sealed) => Checked::Live(Some(sealed)),
                    Err(e) => Checked::Unknown(e.to_string()),
                },
                None => Checked::Live(None),
            },
            Err(RequestTokenError::ServerResponse(r))
                if *r.error() == CoreErrorResponseType::InvalidGrant =>
            {
                Checked::Ended(format!(
                    "the provider refused the refresh token: {}",
                    r.error_description()
                        .map_or("invalid_grant", String::as_str)
                ))
            }
            Err(e) => Checked::Unknown(format!("refresh: {}", chain(&e))),
        }
    }
}

/// What asking the provider about a sign-in found.
#[derive(Debug)]
pub enum Checked {
    /// The person may still sign in; a new sealed refresh token if the provider rotated it.
    Live(Option<Vec<u8>>),
    /// The provider no longer accepts the sign-in (the person was disabled, removed, or signed
    /// out there): why.
    Ended(String),
    /// The provider could not be asked (down, unreachable): checked again next time.
    Unknown(String),
}

/// Whether the provider vouches for the e-mail: `email_verified`, or Entra ID's `xms_edov` (the
/// e-mail's domain is verified as the tenant's), since Entra ID sends no `email_verified`.
fn vouched(email_verified: Option<bool>, extra: &Extra) -> bool {
    email_verified == Some(true)
        || extra.rest.get("xms_edov") == Some(&serde_json::Value::Bool(true))
}

/// The values of claim `name`: a string, or the strings of a list.
fn claim_values(extra: &Extra, name: &str) -> Vec<String> {
    match extra.rest.get(name) {
        Some(serde_json::Value::String(v)) => vec![v.clone()],
        Some(serde_json::Value::Array(vs)) => vs
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The role the mapping gives a person whose role claim holds `values`: the most powerful of
/// the matching rules', else the default; `None` refuses them.
pub fn role_for(s: &SsoSettings, values: &[String]) -> Option<Role> {
    s.role_map
        .iter()
        .filter(|r| values.contains(&r.value))
        .map(|r| r.role)
        .min()
        .or(s.default_role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RoleRule;

    fn settings(default: Option<Role>) -> SsoSettings {
        SsoSettings {
            issuer: "https://id.example".into(),
            client_id: "c".into(),
            client_secret: Vec::new(),
            domains: vec!["acme.example".into()],
            role_claim: "groups".into(),
            role_map: vec![
                RoleRule {
                    value: "helpdesk".into(),
                    role: Role::Technician,
                },
                RoleRule {
                    value: "it-admins".into(),
                    role: Role::Admin,
                },
            ],
            default_role: default,
            provision: true,
            password_login: true,
        }
    }

    #[test]
    fn the_most_powerful_matching_rule_wins_else_the_default() {
        let s = settings(Some(Role::Viewer));
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            role_for(&s, &v(&["helpdesk", "it-admins"])),
            Some(Role::Admin)
        );
        assert_eq!(role_for(&s, &v(&["helpdesk"])), Some(Role::Technician));
        assert_eq!(role_for(&s, &v(&["sales"])), Some(Role::Viewer));
        assert_eq!(role_for(&settings(None), &v(&["sales"])), None);
    }

    #[test]
    fn a_role_claim_is_a_string_or_a_list_of_strings() {
        let extra: Extra =
            serde_json::from_str(r#"{"groups": ["a", 3, "b"], "dept": "it", "n": 1}"#).unwrap();
        assert_eq!(claim_values(&extra, "groups"), ["a", "b"]);
        assert_eq!(claim_values(&extra, "dept"), ["it"]);
        assert!(claim_values(&extra, "n").is_empty());
        assert!(claim_values(&extra, "missing").is_empty());
    }

    #[test]
    fn an_email_is_vouched_for_by_email_verified_or_entras_domain_check() {
        let extra = |json: &str| serde_json::from_str::<Extra>(json).unwrap();
        assert!(vouched(Some(true), &extra("{}")));
        assert!(!vouched(Some(false), &extra("{}")));
        assert!(!vouched(None, &extra("{}")));
        assert!(vouched(None, &extra(r#"{"xms_edov": true}"#)));
        assert!(
            !vouched(None, &extra(r#"{"xms_edov": "true"}"#)),
            "a string is not a yes"
        );
        assert!(!vouched(Some(false), &extra(r#"{"xms_edov": false}"#)));
    }

    #[test]
    fn a_pending_sign_in_opens_only_unchanged_unexpired_and_under_its_key() {
        let sso = Sso::new(&[1; 32], true);
        let p = Pending {
            org: 7,
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            expires: 1_000,
        };
        let sealed = auth::seal(&sso.state_key, &serde_json::to_vec(&p).unwrap()).unwrap();
        let cookie = URL_SAFE_NO_PAD.encode(&sealed);
        assert_eq!(sso.pending_org(&cookie, 1_000), Some(7));
        assert_eq!(sso.pending_org(&cookie, 1_001), None, "expired");
        assert_eq!(Sso::new(&[2; 32], true).pending_org(&cookie, 0), None);
        assert_eq!(sso.pending_org("not base64!", 0), None);
        let mut altered = sealed;
        altered[20] ^= 1;
        assert_eq!(sso.pending_org(&URL_SAFE_NO_PAD.encode(altered), 0), None);
    }
}
