//! The hash that ties a checked-in models file to the nango.yaml it was generated from.
//!
//! `nango generate` writes it in the models file's header and in a constant check that the
//! compiler evaluates over the nango.yaml it reads at build time (`include_bytes!`): one
//! function, usable in `const` context, computes both, so they agree by construction.

/// FNV-1a (64 bits) of some bytes: stable across versions and platforms, and cheap enough for
/// the compiler to evaluate over a whole nango.yaml. Not a cryptographic hash: it tells an
/// edited file from the original, nothing more.
///
/// ```
/// use nango_types::source_hash::source_hash;
/// const HASH: u64 = source_hash(b"models: {}\n");
/// assert_eq!(HASH, source_hash("models: {}\n".as_bytes()));
/// assert_ne!(HASH, source_hash(b"models: {}\n\n"));
/// assert_eq!(source_hash(b""), 0xcbf2_9ce4_8422_2325);
/// ```
pub const fn source_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}
