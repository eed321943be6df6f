//! Secrets: argon2id password hashes, opaque tokens stored as SHA-256, TOTP, and the keyed hash
//! under which share codes are stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string())
}

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Refuses a new password that is too short.
pub fn check_new_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::BadRequest(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Checks a password against a PHC string (constant-time inside argon2).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A PHC string for a password nobody has, so that unknown accounts cost the same time to refuse.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("tether-no-such-user").expect("hashing a constant works"))
}

/// A new opaque token: `prefix` + 32 random bytes, base64url.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// How a token is stored: its SHA-256. Tokens have 256 bits of entropy, so no salt or slow hash
/// is needed, and a lookup by hash compares nothing in application memory.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A short random id for requests and sessions (`[A-Za-z0-9_-]`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Keyed hash under which share codes are stored and looked up.
pub fn code_hash(key: &[u8], code: &str) -> CodeHash {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"share-code:");
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A share code's keyed hash, held inline: the hub keeps one per live code and per code spent
/// in the last [`code_ttl`](crate::Config), so none may cost an allocation of its own (thousands
/// of small allocations made as agents leave pin the pages their sockets freed).
pub type CodeHash = [u8; 32];

/// A subkey of the relay key for one purpose (`label`), so each use has its own key.
pub fn derive_key(key: &[u8], label: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"derive:");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Seals `plain` with AES-256-GCM under `key` (32 bytes, from [`derive_key`]) and a random
/// nonce: `nonce ‖ ciphertext ‖ tag`. For secrets the relay must read back (a provider's
/// client secret) or hand to a browser to return unchanged (a sign-in's state).
pub fn seal(key: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
    let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Internal("seal key".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut out = plain.to_vec();
    LessSafeKey::new(key)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut out)
        .map_err(|_| Error::Internal("sealing failed".into()))?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&out);
    Ok(sealed)
}

/// Opens what [`seal`] sealed under `key`; `None` if it was altered or sealed under another key.
pub fn open(key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::empty(), &mut body).ok()?;
    Some(plain.to_vec())
}

/// TOTP (RFC 6238, SHA-1, 6 digits, 30 s steps, ±1 step of skew) for a base32 secret.
pub fn totp(secret_b32: &str, account: &str) -> Result<totp_rs::TOTP> {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("stored TOTP secret: {e:?}")))?;
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("Tether".into()),
        account.into(),
    )
    .map_err(|e| Error::Internal(format!("TOTP: {e}")))
}

/// A fresh base32 TOTP secret (160 bits).
pub fn new_totp_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    totp_rs::Secret::Raw(bytes.to_vec())
        .to_encoded()
        .to_string()
}

/// The 30-second time step whose code `code` is, at Unix time `now_secs` with one step of skew
/// either way, or `None` if it is none of them. Each step may be spent once
/// ([`crate::store::Store::spend_totp_step`]), so a code seen over a shoulder or in a log cannot
/// be replayed. Compared in constant time.
pub fn totp_step(secret_b32: &str, account: &str, code: &str, now_secs: u64) -> Option<u64> {
    let t = totp(secret_b32, account).ok()?;
    let code = code.trim().as_bytes();
    let now = now_secs / t.step;
    let mut found = None;
    for step in now.saturating_sub(1)..=now + 1 {
        let expected = t.generate(step * t.step);
        if bool::from(expected.as_bytes().ct_eq(code)) {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_when_right() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = new_token("tat_");
        assert_ne!(a, new_token("tat_"));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_eq!(token_hash(&a).len(), 32);
    }

    #[test]
    fn sealed_secrets_open_only_unchanged_and_under_their_key() {
        let key = derive_key(&[7; 32], "test");
        let sealed = seal(&key, b"client secret").unwrap();
        assert_eq!(open(&key, &sealed).as_deref(), Some(&b"client secret"[..]));
        assert_ne!(
            seal(&key, b"client secret").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&key, &altered), None);
        assert_eq!(open(&derive_key(&[8; 32], "test"), &sealed), None);
        assert_eq!(open(&key, &sealed[..5]), None);
    }

    #[test]
    fn totp_round_trip() {
        let s = new_totp_secret();
        let t = totp(&s, "jane@acme").unwrap();
        let code = t.generate(1_700_000_000);
        let step = 1_700_000_000 / 30;
        assert_eq!(totp_step(&s, "jane@acme", &code, 1_700_000_000), Some(step));
        // One step of skew either way, and the step named is the code's, not the clock's.
        assert_eq!(totp_step(&s, "jane@acme", &code, 1_700_000_030), Some(step));
        assert_eq!(totp_step(&s, "jane@acme", &code, 1_699_999_970), Some(step));
        assert_eq!(totp_step(&s, "jane@acme", &code, 1_700_000_300), None);
        assert_eq!(totp_step(&s, "jane@acme", " 000000x", 1_700_000_000), None);
    }
}
