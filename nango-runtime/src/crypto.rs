//! Encryption of stored credentials: AES-256-GCM with a key from `NANGO_ENCRYPTION_KEY`.
//!
//! A sealed value is `version byte || 12-byte nonce || ciphertext+tag`. The connection's key is
//! bound as associated data, so a sealed secret copied onto another connection's row does not
//! open. Version 0 is "stored in clear", written only under the explicit insecure dev flag so a
//! forgotten key never silently leaks secrets to disk.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;

/// The environment variable holding the key: 32 bytes, base64 (as Nango's).
pub const ENCRYPTION_KEY_ENV: &str = "NANGO_ENCRYPTION_KEY";

const CLEAR: u8 = 0;
const AES_256_GCM: u8 = 1;

/// What went wrong with a key or a sealed value.
///
/// The messages say what to do without naming command-line flags: they also reach HTTP
/// responses (`POST /connection`); the CLI adds its own hints (see [`crate::cli`]).
///
/// ```
/// use nango_runtime::crypto::{CryptoError, Sealer};
/// assert_eq!(Sealer::NoKey.seal(b"x", b"").unwrap_err(), CryptoError::NoKey);
/// assert!(CryptoError::NoKey.to_string().contains("set NANGO_ENCRYPTION_KEY"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key is not base64.
    #[error("{ENCRYPTION_KEY_ENV} is not valid base64; generate one with `openssl rand -base64 32`")]
    KeyNotBase64(#[source] base64::DecodeError),
    /// The key does not decode to 32 bytes.
    #[error(
        "{ENCRYPTION_KEY_ENV} must be 32 bytes (256 bits) once base64-decoded, not {0}; generate one with `openssl rand -base64 32`"
    )]
    KeyLength(usize),
    /// A secret was to be sealed without a key (and clear storage was not asked for).
    #[error(
        "refusing to store credentials without an encryption key: set {ENCRYPTION_KEY_ENV} (e.g. `export {ENCRYPTION_KEY_ENV}=$(openssl rand -base64 32)`)"
    )]
    NoKey,
    /// A value sealed with a key was to be opened without one.
    #[error("the stored credentials are encrypted: set {ENCRYPTION_KEY_ENV} to the key they were stored with")]
    KeyNeeded,
    /// A value sealed with another key (or bound to another connection).
    #[error("cannot decrypt the stored credentials: {ENCRYPTION_KEY_ENV} is not the key they were stored with")]
    WrongKey,
    /// The cipher failed to encrypt.
    #[error("encryption failed")]
    EncryptionFailed,
    /// A sealed value too short to hold its nonce.
    #[error("stored credentials are truncated")]
    Truncated,
    /// A sealed value of a format this program does not know.
    #[error("unknown format {0} of stored credentials")]
    UnknownFormat(u8),
    /// An empty sealed value.
    #[error("stored credentials are empty")]
    Empty,
}

/// How secrets are sealed before they reach the store.
///
/// ```
/// use nango_runtime::crypto::Sealer;
/// let key = Sealer::generate_key();
/// let sealer = Sealer::from_base64(&key).unwrap();
/// let sealed = sealer.seal(b"ghp_secret", b"github/acme").unwrap();
/// assert_eq!(sealer.open(&sealed, b"github/acme").unwrap(), b"ghp_secret");
/// assert!(sealer.open(&sealed, b"github/other").is_err());
/// ```
#[derive(Clone)]
pub enum Sealer {
    /// AES-256-GCM with this key.
    Aes(Box<Aes256Gcm>),
    /// No key, and the user asked to store secrets in clear (development only).
    InsecureClear,
    /// No key: sealing fails with an error saying how to set one; values sealed in clear open.
    NoKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sealer::Aes(_) => "Sealer::Aes(***)",
            Sealer::InsecureClear => "Sealer::InsecureClear",
            Sealer::NoKey => "Sealer::NoKey",
        })
    }
}

impl Sealer {
    /// A sealer from a base64 key of 32 bytes.
    pub fn from_base64(key: &str) -> Result<Sealer, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(key.trim()).map_err(CryptoError::KeyNotBase64)?;
        if bytes.len() != 32 {
            return Err(CryptoError::KeyLength(bytes.len()));
        }
        Ok(Sealer::Aes(Box::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)))))
    }

    /// The sealer the environment asks for: the key in `NANGO_ENCRYPTION_KEY` if set, else
    /// clear storage when `insecure` is true, else [`Sealer::NoKey`].
    pub fn from_env(insecure: bool) -> Result<Sealer, CryptoError> {
        match std::env::var(ENCRYPTION_KEY_ENV) {
            Ok(key) if !key.trim().is_empty() => Sealer::from_base64(&key),
            _ if insecure => Ok(Sealer::InsecureClear),
            _ => Ok(Sealer::NoKey),
        }
    }

    /// Whether this sealer encrypts (a key is set), as opposed to storing in clear or refusing.
    pub fn has_key(&self) -> bool {
        matches!(self, Sealer::Aes(_))
    }

    /// A fresh random key, base64.
    pub fn generate_key() -> String {
        let key = Aes256Gcm::generate_key(&mut OsRng);
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// Seals `plain`, bound to `context` (e.g. the connection's key).
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Sealer::Aes(cipher) => {
                let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
                let sealed = cipher
                    .encrypt(&nonce, Payload { msg: plain, aad: context })
                    .map_err(|_| CryptoError::EncryptionFailed)?;
                let mut out = Vec::with_capacity(1 + nonce.len() + sealed.len());
                out.push(AES_256_GCM);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
                Ok(out)
            }
            Sealer::InsecureClear => {
                let mut out = Vec::with_capacity(1 + plain.len());
                out.push(CLEAR);
                out.extend_from_slice(plain);
                Ok(out)
            }
            Sealer::NoKey => Err(CryptoError::NoKey),
        }
    }

    /// Opens a value sealed by [`Sealer::seal`] with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match sealed.split_first() {
            Some((&CLEAR, rest)) => Ok(rest.to_vec()),
            Some((&AES_256_GCM, rest)) => {
                let Sealer::Aes(cipher) = self else {
                    return Err(CryptoError::KeyNeeded);
                };
                if rest.len() < 12 {
                    return Err(CryptoError::Truncated);
                }
                let (nonce, body) = rest.split_at(12);
                cipher
                    .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: context })
                    .map_err(|_| CryptoError::WrongKey)
            }
            Some((version, _)) => Err(CryptoError::UnknownFormat(*version)),
            None => Err(CryptoError::Empty),
        }
    }
}

/// Whether a sealed value holds its content in clear (stored without a key, under the insecure
/// development flag or because there was nothing secret).
///
/// ```
/// use nango_runtime::crypto::{Sealer, is_clear};
/// assert!(is_clear(&Sealer::InsecureClear.seal(b"x", b"").unwrap()));
/// assert!(!is_clear(&Sealer::from_base64(&Sealer::generate_key()).unwrap().seal(b"x", b"").unwrap()));
/// ```
pub fn is_clear(sealed: &[u8]) -> bool {
    sealed.first() == Some(&CLEAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_hide_the_secret_and_need_the_right_key() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let sealed = sealer.seal(b"ghp_very_secret_token", b"github\0acme").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert!(other.open(&sealed, b"github\0acme").unwrap_err().to_string().contains("not the key"));
        let needed = Sealer::NoKey.open(&sealed, b"github\0acme").unwrap_err();
        assert!(needed.to_string().contains("set NANGO_ENCRYPTION_KEY"));
        assert!(Sealer::NoKey.seal(b"x", b"").unwrap_err().to_string().contains("refusing"));
    }

    #[test]
    fn bad_keys_say_how_to_make_one() {
        assert!(Sealer::from_base64("not base64!").unwrap_err().to_string().contains("openssl rand -base64 32"));
        assert!(Sealer::from_base64("c2hvcnQ=").unwrap_err().to_string().contains("not 5"));
    }
}
