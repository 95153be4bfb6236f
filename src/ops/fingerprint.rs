//! Version numbers derived from content: a Delta application transaction needs a non-negative
//! i64 that changes whenever what it records changes (a query's text, its inputs' versions).

use sha2::{Digest, Sha256};

/// The first 8 bytes of the SHA-256 of `parts` (in order), as a non-negative i64.
pub fn version_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> i64 {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    let digest = hash.finalize();
    let bytes: [u8; 8] = digest[..8].try_into().expect("a sha256 has 32 bytes");
    i64::from_le_bytes(bytes) & i64::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stable_non_negative_and_change_with_content() {
        let a = version_of([b"schema".as_slice(), b"hash"]);
        assert_eq!(a, version_of([b"schema".as_slice(), b"hash"]));
        assert!(a >= 0);
        assert_ne!(a, version_of([b"schema".as_slice(), b"hash2"]));
    }
}
