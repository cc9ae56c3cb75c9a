//! Secrets: API keys and POS tokens are generated here from a CSPRNG, shown to the merchant
//! once, and stored only as their SHA-256. A leaked database therefore leaks no usable
//! credential, and a 256-bit random token needs no slow password hash.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of merchant API keys (makes a leaked key recognisable to secret scanners).
pub const API_KEY_PREFIX: &str = "rabat_ak_";
/// Prefix of POS tokens.
pub const POS_TOKEN_PREFIX: &str = "rabat_pt_";

/// The SHA-256 of a secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `secret` as presented by a caller.
    pub fn of(secret: &str) -> TokenHash {
        TokenHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Whether a presented secret is the configured one, compared as hashes in constant
    /// time (the operator token).
    pub fn same_secret(presented: &str, expected: &str) -> bool {
        TokenHash::of(presented)
            .0
            .ct_eq(&TokenHash::of(expected).0)
            .into()
    }

    /// Lower-case hex, the stored form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored form; `None` if it is not 64 hex digits.
    pub fn from_hex(text: &str) -> Option<TokenHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(TokenHash(bytes))
    }

    /// Compares without an early exit, so timing reveals nothing about where hashes differ.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell hashes apart in logs.
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// A freshly generated secret: the plaintext to hand out once, and the hash to store.
#[derive(Clone)]
pub struct Secret {
    pub plaintext: String,
    pub hash: TokenHash,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("plaintext", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// A new merchant API key.
pub fn new_api_key() -> Secret {
    generate(API_KEY_PREFIX)
}

/// A new POS token.
pub fn new_pos_token() -> Secret {
    generate(POS_TOKEN_PREFIX)
}

/// Whether `presented` is the secret whose hash is `stored` (constant time).
pub fn verify(presented: &str, stored: &TokenHash) -> bool {
    TokenHash::of(presented).ct_eq(stored)
}

fn generate(prefix: &str) -> Secret {
    let plaintext = format!("{prefix}{}", random_hex(32));
    let hash = TokenHash::of(&plaintext);
    Secret { plaintext, hash }
}

/// `bytes` random bytes from the thread-local CSPRNG (ChaCha, seeded from the OS), as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_verify_only_themselves() {
        let a = new_api_key();
        let b = new_api_key();
        assert!(a.plaintext.starts_with(API_KEY_PREFIX));
        assert_eq!(a.plaintext.len(), API_KEY_PREFIX.len() + 64);
        assert_ne!(a.plaintext, b.plaintext);
        assert!(verify(&a.plaintext, &a.hash));
        assert!(!verify(&b.plaintext, &a.hash));
        assert!(new_pos_token().plaintext.starts_with(POS_TOKEN_PREFIX));
    }

    #[test]
    fn hex_round_trip_and_debug_hides_plaintext() {
        let s = new_pos_token();
        assert_eq!(TokenHash::from_hex(&s.hash.to_hex()), Some(s.hash));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert!(!format!("{s:?}").contains(&s.plaintext));
    }
}
