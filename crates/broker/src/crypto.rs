//! Credentials at rest: AES-256-GCM under master keys from the environment, with the key id stored
//! beside every ciphertext so keys can rotate (new writes use the active key; old ones stay readable
//! while their key is in the ring).

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// Problems with the key configuration or a ciphertext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key list could not be parsed.
    #[error("master keys: {0} (expected `id:base64-of-32-bytes[,id:…]`)")]
    BadKeyList(String),
    /// A ciphertext names a key id the ring does not hold.
    #[error("no master key with id `{0}` (was it removed from the ring?)")]
    UnknownKey(String),
    /// Authentication failed: wrong key, wrong owner binding or tampered data.
    #[error("ciphertext failed authentication")]
    Tampered,
    /// The plaintext is beyond what AES-GCM can seal.
    #[error("plaintext too large to seal")]
    TooLarge,
}

/// The master keys. The first one listed is the active key.
pub struct Keyring {
    active: String,
    ciphers: HashMap<String, Aes256Gcm>,
    session_keys: HashMap<String, [u8; 32]>,
}

/// A ciphertext and the id of the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Master key id.
    pub key_id: String,
    /// Nonce followed by ciphertext and tag.
    pub blob: Vec<u8>,
}

impl Keyring {
    /// Parses `id:base64,id:base64` (the first is active).
    pub fn parse(list: &str) -> Result<Keyring, CryptoError> {
        let mut active = None;
        let mut ciphers = HashMap::new();
        let mut session_keys = HashMap::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry.split_once(':').ok_or_else(|| {
                CryptoError::BadKeyList(format!("entry without an id: `{}…`", prefix(entry)))
            })?;
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(CryptoError::BadKeyList(format!("bad key id `{id}`")));
            }
            let key = Zeroizing::new(
                STANDARD
                    .decode(b64)
                    .map_err(|_| CryptoError::BadKeyList(format!("key `{id}` is not base64")))?,
            );
            if key.len() != 32 {
                return Err(CryptoError::BadKeyList(format!("key `{id}` is {} bytes, not 32", key.len())));
            }
            let cipher =
                Aes256Gcm::new_from_slice(&key).map_err(|_| CryptoError::BadKeyList("bad key".into()))?;
            if ciphers.insert(id.to_owned(), cipher).is_some() {
                return Err(CryptoError::BadKeyList(format!("key id `{id}` appears twice")));
            }
            session_keys.insert(id.to_owned(), derive(&key, b"patchbay/session-token/v1"));
            active.get_or_insert_with(|| id.to_owned());
        }
        let active = active.ok_or_else(|| CryptoError::BadKeyList("no keys".into()))?;
        Ok(Keyring { active, ciphers, session_keys })
    }

    /// A fresh random key list entry (`id:base64`), for `keygen` and the demo.
    pub fn generate_entry(id: &str) -> String {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        format!("{id}:{}", STANDARD.encode(key.as_ref()))
    }

    /// Id of the key new ciphertexts use.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Encrypts `plaintext` with the active key, bound to `aad` (the owner of the data), so a
    /// ciphertext copied onto another user's row fails to open.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = &self.ciphers[&self.active];
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .map_err(|_| CryptoError::TooLarge)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(Sealed { key_id: self.active.clone(), blob })
    }

    /// Decrypts a ciphertext sealed by any key in the ring.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let cipher =
            self.ciphers.get(&sealed.key_id).ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.blob.len() < NONCE_LEN {
            return Err(CryptoError::Tampered);
        }
        let (nonce, ciphertext) = sealed.blob.split_at(NONCE_LEN);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Tampered)
    }

    /// The HMAC key for session tokens signed under master key `id`.
    pub fn session_key(&self, id: &str) -> Option<&[u8; 32]> {
        self.session_keys.get(id)
    }
}

fn derive(master: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // HKDF-SHA256 expand of 32 bytes cannot fail (the limit is 255 * 32).
    let _ = Hkdf::<Sha256>::new(None, master).expand(info, &mut out);
    out
}

fn prefix(s: &str) -> &str {
    s.get(..4).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(list: &str) -> Keyring {
        Keyring::parse(list).expect("valid key list")
    }

    #[test]
    fn sealed_data_opens_only_with_the_same_owner_binding() {
        let k = ring(&Keyring::generate_entry("k1"));
        let sealed = k.seal(b"hunter2", b"ws|alice|app").expect("seal");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.blob.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(k.open(&sealed, b"ws|alice|app").expect("opens").as_slice(), b"hunter2");
        assert!(matches!(k.open(&sealed, b"ws|bob|app"), Err(CryptoError::Tampered)));
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable_and_writes_with_the_new_key() {
        let old = Keyring::generate_entry("k1");
        let sealed = ring(&old).seal(b"secret", b"aad").expect("seal");
        let rotated = ring(&format!("{},{}", Keyring::generate_entry("k2"), old));
        assert_eq!(rotated.open(&sealed, b"aad").expect("old key still opens").as_slice(), b"secret");
        assert_eq!(rotated.seal(b"x", b"aad").expect("seal").key_id, "k2");
        let without_old = ring(&Keyring::generate_entry("k2"));
        assert!(matches!(without_old.open(&sealed, b"aad"), Err(CryptoError::UnknownKey(id)) if id == "k1"));
    }

    #[test]
    fn bad_key_lists_are_rejected_with_a_reason() {
        for bad in ["", "nokey", "k1:notbase64!", "k1:AAAA", "k1:AAAA,k1:AAAA"] {
            assert!(Keyring::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let entry = Keyring::generate_entry("k1");
        assert!(matches!(Keyring::parse(&format!("{entry},{entry}")), Err(CryptoError::BadKeyList(_))));
    }

    #[test]
    fn tampered_blobs_fail() {
        let k = ring(&Keyring::generate_entry("k1"));
        let mut sealed = k.seal(b"secret", b"aad").expect("seal");
        let last = sealed.blob.len() - 1;
        sealed.blob[last] ^= 1;
        assert!(matches!(k.open(&sealed, b"aad"), Err(CryptoError::Tampered)));
        sealed.blob.truncate(3);
        assert!(matches!(k.open(&sealed, b"aad"), Err(CryptoError::Tampered)));
    }
}
