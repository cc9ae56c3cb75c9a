//! Secrets rabat must use again (a POS vendor's OAuth2 tokens), unlike its own tokens,
//! which it only ever compares and so keeps as hashes. They are sealed with
//! XChaCha20-Poly1305 under the operator's secrets key (`--secrets-key` /
//! `RABAT_SECRETS_KEY`, 64 hex digits), bound to the merchant and the field they belong
//! to, so a database dump alone yields no usable token and a sealed value cannot be moved
//! to another merchant or field.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2_11::Sha256;

/// Sealed values start with this, so another format can follow later.
const PREFIX: &str = "v1:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the server has no secrets key to store connector tokens with: the operator must set --secrets-key / RABAT_SECRETS_KEY (64 hex digits)"
    )]
    NoKey,
    #[error(
        "a stored connector secret cannot be opened with the server's secrets key (was the key changed?)"
    )]
    Unreadable,
}

const ARTIFACT_KEY_LABEL: &[u8] = b"rabat compiled-artifact mac v1";

/// The key compiled artifacts are authenticated with (see [`SecretsKey::artifact_key`]):
/// only a holder of the secrets key can write an artifact rabat will deserialize.
#[derive(Clone)]
pub struct ArtifactKey([u8; 32]);

impl fmt::Debug for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArtifactKey(<redacted>)")
    }
}

impl ArtifactKey {
    fn hmac(&self, engine: &str, module_sha256: &str, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        // Each part length-prefixed, so no two different triples feed the same bytes.
        for part in [engine.as_bytes(), module_sha256.as_bytes(), artifact] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The MAC (hex) over (engine key, module SHA-256, artifact).
    pub fn mac(&self, engine: &str, module_sha256: &str, artifact: &[u8]) -> String {
        hex::encode(
            self.hmac(engine, module_sha256, artifact)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `mac` (hex) is this key's MAC of the triple; compared in constant time.
    pub fn verify(&self, engine: &str, module_sha256: &str, artifact: &[u8], mac: &str) -> bool {
        let Ok(mac) = hex::decode(mac) else {
            return false;
        };
        self.hmac(engine, module_sha256, artifact)
            .verify_slice(&mac)
            .is_ok()
    }
}

/// The operator's 256-bit key. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretsKey([u8; 32]);

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

impl SecretsKey {
    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<SecretsKey, String> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key)
            .map_err(|_| "the secrets key must be 64 hex digits (32 random bytes)".to_owned())?;
        Ok(SecretsKey(key))
    }

    /// A random key, e.g. for tests or to print for an operator.
    pub fn generate() -> SecretsKey {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        SecretsKey(key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key that binds compiled artifacts to this server's secret: derived from the
    /// secrets key under its own label (HMAC-SHA256(secrets key, label)), so the sealing
    /// key is never used for anything else.
    pub fn artifact_key(&self) -> ArtifactKey {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(ARTIFACT_KEY_LABEL);
        ArtifactKey(mac.finalize().into_bytes().into())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }

    /// Seals `plaintext` for `context` (e.g. `bifit:<merchant>:access_token`).
    pub fn seal(&self, context: &str, plaintext: &str) -> Result<String, SecretsError> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        let sealed = self
            .cipher()
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| SecretsError::Unreadable)?;
        Ok(format!(
            "{PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(sealed)
        ))
    }

    /// Opens what [`SecretsKey::seal`] made for the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, SecretsError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .filter(|bytes| bytes.len() > 24)
            .ok_or(SecretsError::Unreadable)?;
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| SecretsError::Unreadable)?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plain = self
            .cipher()
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| SecretsError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SecretsError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_its_context_and_key() {
        let key = SecretsKey::generate();
        let sealed = key.seal("bifit:m1:access_token", "tok-123").unwrap();
        assert!(!sealed.contains("tok-123"));
        assert_ne!(
            sealed,
            key.seal("bifit:m1:access_token", "tok-123").unwrap()
        );
        assert_eq!(
            key.open("bifit:m1:access_token", &sealed).unwrap(),
            "tok-123"
        );
        assert_eq!(
            key.open("bifit:m2:access_token", &sealed),
            Err(SecretsError::Unreadable)
        );
        let other = SecretsKey::generate();
        assert_eq!(
            other.open("bifit:m1:access_token", &sealed),
            Err(SecretsError::Unreadable)
        );
        assert!(!format!("{key:?}").contains(&key.to_hex()));
        assert_eq!(SecretsKey::from_hex(&key.to_hex()), Ok(key));
        assert!(SecretsKey::from_hex("abc").is_err());
    }

    #[test]
    fn artifact_macs_bind_engine_module_bytes_and_key() {
        let key = SecretsKey::generate();
        let artifacts = key.artifact_key();
        let mac = artifacts.mac("engine-1", "sha-a", b"native code");
        assert!(artifacts.verify("engine-1", "sha-a", b"native code", &mac));
        assert!(!artifacts.verify("engine-2", "sha-a", b"native code", &mac));
        assert!(!artifacts.verify("engine-1", "sha-b", b"native code", &mac));
        assert!(!artifacts.verify("engine-1", "sha-a", b"native cod3", &mac));
        assert!(!artifacts.verify("engine-1", "sha-a", b"native code", ""));
        assert!(!artifacts.verify("engine-1", "sha-a", b"native code", "zz"));
        let other = SecretsKey::generate().artifact_key();
        assert!(!other.verify("engine-1", "sha-a", b"native code", &mac));
        // Length prefixes: moving bytes between the parts changes the MAC.
        assert_ne!(mac, artifacts.mac("engine-1s", "ha-a", b"native code"));
        // A separate key: the MAC is not an HMAC under the sealing key itself.
        assert!(!format!("{artifacts:?}").contains(&key.to_hex()));
    }
}
