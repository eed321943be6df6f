//! coturn REST credentials: `username = "<unix expiry>:<session_id>"`,
//! `credential = base64(HMAC-SHA1(secret, username))`. Any TURN server sharing the secret (the
//! embedded one, or an external coturn with `static-auth-secret`) can check them statelessly.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// A username/credential pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredential {
    /// `<expiry>:<session_id>`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub credential: String,
}

fn mac(secret: &[u8], username: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(username.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Mints the credential for `session_id`, valid until `expires_unix` (seconds).
pub fn mint(secret: &[u8], session_id: &str, expires_unix: u64) -> TurnCredential {
    let username = format!("{expires_unix}:{session_id}");
    let credential = STANDARD.encode(mac(secret, &username));
    TurnCredential {
        username,
        credential,
    }
}

/// Why a presented credential is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The username is not `<expiry>:<id>`.
    Malformed,
    /// The expiry has passed.
    Expired,
    /// The password does not match.
    Forged,
}

/// Checks a credential at `now_unix`; constant-time in the password comparison.
pub fn verify(
    secret: &[u8],
    username: &str,
    credential: &str,
    now_unix: u64,
) -> Result<(), Refusal> {
    let (expiry, id) = username.split_once(':').ok_or(Refusal::Malformed)?;
    let expiry: u64 = expiry.parse().map_err(|_| Refusal::Malformed)?;
    if id.is_empty() {
        return Err(Refusal::Malformed);
    }
    if expiry <= now_unix {
        return Err(Refusal::Expired);
    }
    let expected = STANDARD.encode(mac(secret, username));
    if bool::from(expected.as_bytes().ct_eq(credential.as_bytes())) {
        Ok(())
    } else {
        Err(Refusal::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // Computed independently: printf '%s' '1700000000:se_1' | openssl dgst -sha1 -hmac secret -binary | base64
        let c = mint(b"secret", "se_1", 1_700_000_000);
        assert_eq!(c.username, "1700000000:se_1");
        assert_eq!(c.credential, "qReSuKJBsoFfPm4a8hUazq7pX+4=");
        assert_eq!(
            verify(b"secret", &c.username, &c.credential, 1_699_999_999),
            Ok(())
        );
    }

    #[test]
    fn refuses_expired_forged_and_malformed() {
        let c = mint(b"secret", "se_1", 100);
        assert_eq!(
            verify(b"secret", &c.username, &c.credential, 100),
            Err(Refusal::Expired)
        );
        assert_eq!(
            verify(b"other", &c.username, &c.credential, 50),
            Err(Refusal::Forged)
        );
        assert_eq!(
            verify(b"secret", "200:se_2", &c.credential, 50),
            Err(Refusal::Forged)
        );
        assert_eq!(
            verify(b"secret", "nonsense", "x", 50),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            verify(b"secret", "abc:se", "x", 50),
            Err(Refusal::Malformed)
        );
    }
}
