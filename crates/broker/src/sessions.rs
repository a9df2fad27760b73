//! Session tokens: short-lived, HMAC-SHA256-signed, scoped to one workspace, one user and a set of
//! browser origins. Format: `pbs.<base64url(claims JSON)>.<base64url(tag)>`; the tag covers
//! everything before the last dot. The signing key is derived from a master key whose id the claims
//! carry, so tokens survive a key rotation while the old key stays in the ring.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hashbrown::HashMap;
use hmac::{Hmac, Mac};
use patchbay_protocol::{FieldError, SessionRequest, SessionResponse};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::Config;
use crate::crypto::Keyring;
use crate::error::{ApiError, ApiResult};
use crate::ids::{now_unix, rfc3339};

const PREFIX: &str = "pbs.";
const MAX_ORIGINS: usize = 20;
const MAX_USER_ID_LEN: usize = 256;
/// Verified tokens remembered before expired ones are swept (and, if that is not enough, all are
/// forgotten): a few megabytes at most.
const MAX_VERIFIED: usize = 10_000;

/// What a session token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Id of the master key whose derived key signed the token.
    pub kid: String,
    /// Workspace id.
    pub ws: String,
    /// The workspace's user id.
    pub sub: String,
    /// Allowed browser origins.
    #[serde(default)]
    pub origins: Vec<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, a bad signature, or an unknown key.
    #[error("invalid session token")]
    Invalid,
    /// Valid but past its expiry.
    #[error("session token expired")]
    Expired,
}

/// Signs `claims` with the key named by `claims.kid`.
pub fn sign(keyring: &Keyring, claims: &Claims) -> Option<String> {
    let key = keyring.session_key(&claims.kid)?;
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).ok()?);
    let signed = format!("{PREFIX}{payload}");
    let tag = URL_SAFE_NO_PAD.encode(mac(key, signed.as_bytes()).finalize().into_bytes());
    Some(format!("{signed}.{tag}"))
}

/// Checks the signature, then the expiry against `now`.
pub fn verify(keyring: &Keyring, token: &str, now: i64) -> Result<Claims, TokenError> {
    let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
    let payload = signed.strip_prefix(PREFIX).ok_or(TokenError::Invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?;
    // The claims are parsed before the tag is checked only to learn which key to check it with;
    // nothing else in them is trusted until the tag matches.
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
    let key = keyring.session_key(&claims.kid).ok_or(TokenError::Invalid)?;
    mac(key, signed.as_bytes()).verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Tokens whose signature already checked out, with their claims. The SDK sends its token with
/// every call, and decoding it, checking the tag and parsing the claims each time cost ~3.5 % of an
/// invoke's CPU. Keyed by the whole token, so only the exact text that verified is found here; the
/// expiry is checked on every use. The map's fast hash is safe although tokens come from callers:
/// only tokens that verified are stored, and only the broker's key holders can make those.
#[derive(Default)]
pub struct VerifiedTokens {
    tokens: Mutex<HashMap<Box<str>, Arc<Claims>>>,
}

impl VerifiedTokens {
    /// [`verify`], remembering tokens that pass.
    pub fn verify(&self, keyring: &Keyring, token: &str, now: i64) -> Result<Arc<Claims>, TokenError> {
        let known = self.tokens().get(token).cloned();
        if let Some(claims) = known {
            return if now >= claims.exp { Err(TokenError::Expired) } else { Ok(claims) };
        }
        let claims = Arc::new(verify(keyring, token, now)?);
        let mut tokens = self.tokens();
        if tokens.len() >= MAX_VERIFIED {
            tokens.retain(|_, claims| now < claims.exp);
            if tokens.len() >= MAX_VERIFIED {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Claims>>> {
        self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn mac(key: &[u8; 32], data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key size"));
    mac.update(data);
    mac
}

/// Normalises a browser origin (`https://app.example.com[:port]`), or says why it is not one.
pub fn normalize_origin(origin: &str) -> Result<String, &'static str> {
    let url = url::Url::parse(origin).map_err(|_| "is not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be http or https");
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err("must be scheme://host[:port]");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a path, query or fragment");
    }
    Ok(url.origin().ascii_serialization())
}

/// Validates a session request and signs its token (the HTTP handler and the CLI both call this).
pub fn mint(
    config: &Config,
    keyring: &Keyring,
    workspace_id: &str,
    request: SessionRequest,
) -> ApiResult<SessionResponse> {
    let mut problems = Vec::new();
    let user_id = request.user_id.trim();
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_LEN || user_id.chars().any(char::is_control) {
        problems.push(FieldError {
            field: "userId".into(),
            reason: format!("must be 1 to {MAX_USER_ID_LEN} printable characters"),
        });
    }
    let max = config.session_max_ttl_seconds;
    let ttl = request.ttl_seconds.unwrap_or(config.session_default_ttl_seconds);
    if ttl == 0 || ttl > max {
        problems
            .push(FieldError { field: "ttlSeconds".into(), reason: format!("must be between 1 and {max}") });
    }
    if request.allowed_origins.len() > MAX_ORIGINS {
        problems.push(FieldError {
            field: "allowedOrigins".into(),
            reason: format!("at most {MAX_ORIGINS} origins"),
        });
    }
    let mut origins = Vec::new();
    for (i, origin) in request.allowed_origins.iter().enumerate() {
        match normalize_origin(origin) {
            Ok(o) => origins.push(o),
            Err(reason) => {
                problems.push(FieldError { field: format!("allowedOrigins[{i}]"), reason: reason.into() })
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    let now = now_unix();
    let exp = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    let claims = Claims {
        kid: keyring.active_id().to_owned(),
        ws: workspace_id.to_owned(),
        sub: user_id.to_owned(),
        origins,
        iat: now,
        exp,
    };
    let token = sign(keyring, &claims).ok_or_else(|| ApiError::internal("session signing failed"))?;
    Ok(SessionResponse { token, expires_at: rfc3339(exp) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(kid: &str, exp: i64) -> Claims {
        Claims {
            kid: kid.into(),
            ws: "ws_1".into(),
            sub: "alice".into(),
            origins: vec!["http://localhost:3000".into()],
            iat: 100,
            exp,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let ring = Keyring::parse(&Keyring::generate_entry("k1")).expect("ring");
        let token = sign(&ring, &claims("k1", 200)).expect("sign");
        assert_eq!(verify(&ring, &token, 199), Ok(claims("k1", 200)));
        assert_eq!(verify(&ring, &token, 200), Err(TokenError::Expired));
    }

    #[test]
    fn forged_tokens_are_invalid() {
        let ring = Keyring::parse(&Keyring::generate_entry("k1")).expect("ring");
        let other = Keyring::parse(&Keyring::generate_entry("k1")).expect("ring");
        let token = sign(&other, &claims("k1", 200)).expect("sign");
        assert_eq!(verify(&ring, &token, 150), Err(TokenError::Invalid), "signed with another key");

        let genuine = sign(&ring, &claims("k1", 200)).expect("sign");
        let (_, tag) = genuine.rsplit_once('.').expect("tag");
        let mut lifted = claims("k1", 200);
        lifted.sub = "mallory".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&lifted).expect("json"));
        let forged = format!("{PREFIX}{payload}.{tag}");
        assert_eq!(verify(&ring, &forged, 150), Err(TokenError::Invalid), "claims swapped under a real tag");

        for junk in ["", "pbs.", "pbs.a.b", "Bearer x", "pbs..", &genuine[..genuine.len() - 2]] {
            assert_eq!(verify(&ring, junk, 150), Err(TokenError::Invalid), "{junk:?}");
        }
    }

    #[test]
    fn remembered_tokens_still_expire_and_only_the_exact_token_is_remembered() {
        let ring = Keyring::parse(&Keyring::generate_entry("k1")).expect("ring");
        let verified = VerifiedTokens::default();
        let token = sign(&ring, &claims("k1", 200)).expect("sign");
        assert_eq!(verified.verify(&ring, &token, 150).as_deref(), Ok(&claims("k1", 200)));
        assert_eq!(verified.verify(&ring, &token, 199).as_deref(), Ok(&claims("k1", 200)), "remembered");
        assert_eq!(verified.verify(&ring, &token, 200), Err(TokenError::Expired), "remembered, then expired");

        // The remembered token with one character of its tag changed is checked, and refused.
        let mut tampered = token.clone();
        let last = tampered.pop().expect("tag");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(verified.verify(&ring, &tampered, 150), Err(TokenError::Invalid));
        let other = Keyring::parse(&Keyring::generate_entry("k1")).expect("ring");
        let foreign = sign(&other, &claims("k1", 200)).expect("sign");
        assert_eq!(
            verified.verify(&ring, &foreign, 150),
            Err(TokenError::Invalid),
            "signed with another key"
        );
    }

    #[test]
    fn origins_are_normalised_or_refused() {
        assert_eq!(normalize_origin("HTTP://LocalHost:3000").as_deref(), Ok("http://localhost:3000"));
        assert_eq!(normalize_origin("https://app.example.com:443").as_deref(), Ok("https://app.example.com"));
        for bad in ["app.example.com", "ftp://x", "https://x/path", "https://u@x", "https://x?q"] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
    }
}
