//! The IDX files of the original MNIST distribution (raw or gzip-compressed).
//!
//! Layout (big-endian): magic `0x00000803` for images, then count, rows, cols as `u32`, then
//! `count · rows · cols` pixel bytes; magic `0x00000801` for labels, then count, then `count`
//! label bytes. Headers, sizes and label ranges are validated; a file that is shorter or longer
//! than its header announces is an error.

use crate::{DataError, Mnist};
use std::io::Read;
use std::path::Path;

/// Magic number of an IDX image file (`u8` data, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX label file (`u8` data, 1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic `1f 8b`.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    gunzip_if_gz(raw, &path.display().to_string())
}

/// Gunzips `bytes` if they start with the gzip magic, otherwise returns them unchanged.
pub fn gunzip_if_gz(bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt {
                path: name.into(),
                format: "gzip".into(),
                message: e.to_string(),
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn be_u32(b: &[u8], at: usize, name: &str, what: &str) -> Result<u32, DataError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| DataError::Size {
            path: name.into(),
            what: format!("header ({what})"),
            found: b.len(),
            expected: at + 4,
        })
}

fn check_magic(b: &[u8], name: &str, magic: u32) -> Result<(), DataError> {
    let m = be_u32(b, 0, name, "magic")?;
    if m != magic {
        return Err(DataError::Header {
            path: name.into(),
            field: "magic".into(),
            found: format!("{m:#010x}"),
            expected: format!("{magic:#010x}"),
        });
    }
    Ok(())
}

/// Parses an IDX image file: `(count, rows, cols, pixels)`.
pub fn parse_images(b: &[u8], name: &str) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    check_magic(b, name, IMAGES_MAGIC)?;
    let n = be_u32(b, 4, name, "count")? as usize;
    let rows = be_u32(b, 8, name, "rows")? as usize;
    let cols = be_u32(b, 12, name, "cols")? as usize;
    if rows == 0 || cols == 0 {
        return Err(DataError::Header {
            path: name.into(),
            field: "rows/cols".into(),
            found: format!("{rows}×{cols}"),
            expected: "both ≥ 1".into(),
        });
    }
    let body = &b[16..];
    check_size(
        name,
        "pixel data",
        body.len(),
        image_bytes(name, n, rows, cols, 0)?,
    )?;
    Ok((n, rows, cols, body.to_vec()))
}

/// `n · rows · cols + extra` bytes, or a header error naming the dimensions when that overflows.
pub(crate) fn image_bytes(
    name: &str,
    n: usize,
    rows: usize,
    cols: usize,
    extra: usize,
) -> Result<usize, DataError> {
    n.checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(extra))
        .ok_or_else(|| DataError::Header {
            path: name.into(),
            field: "dimensions".into(),
            found: format!("{n}×{rows}×{cols}"),
            expected: "a size that fits in memory".into(),
        })
}

/// `Ok` when `what` of file `name` has `expected` bytes, else a size error naming both.
pub(crate) fn check_size(
    name: &str,
    what: &str,
    found: usize,
    expected: usize,
) -> Result<(), DataError> {
    if found == expected {
        return Ok(());
    }
    Err(DataError::Size {
        path: name.into(),
        what: what.into(),
        found,
        expected,
    })
}

/// Parses an IDX label file.
pub fn parse_labels(b: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    check_magic(b, name, LABELS_MAGIC)?;
    let n = be_u32(b, 4, name, "count")? as usize;
    let body = &b[8..];
    check_size(name, "label data", body.len(), n)?;
    if let Some(i) = body.iter().position(|&l| l > 9) {
        return Err(DataError::Header {
            path: name.into(),
            field: format!("label[{i}]"),
            found: body[i].to_string(),
            expected: "a digit 0..=9".into(),
        });
    }
    Ok(body.to_vec())
}

impl Mnist {
    /// Loads an image/label IDX pair (each raw or `.gz`), checking the counts agree.
    pub fn from_idx(images: &Path, labels: &Path) -> Result<Self, DataError> {
        let iname = images.display().to_string();
        let (n, rows, cols, pixels) = parse_images(&read_maybe_gz(images)?, &iname)?;
        let labs = parse_labels(&read_maybe_gz(labels)?, &labels.display().to_string())?;
        if labs.len() != n {
            return Err(DataError::length(
                format!("{} (labels) vs {iname} (images)", labels.display()),
                labs.len(),
                n,
            ));
        }
        Self::new(rows, cols, pixels, labs)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    fn images(n: u32, r: u32, c: u32, body: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [IMAGES_MAGIC, n, r, c] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend((0..body).map(|k| k as u8));
        b
    }

    #[test]
    fn parses_and_rejects() {
        let (n, r, c, px) = parse_images(&images(2, 2, 3, 12), "x").unwrap();
        assert_eq!((n, r, c, px.len()), (2, 2, 3, 12));
        assert!(matches!(
            parse_images(&images(2, 2, 3, 11), "x"),
            Err(DataError::Size {
                found: 11,
                expected: 12,
                ..
            })
        ));
        assert!(matches!(
            parse_images(&images(2, 2, 3, 13), "x"),
            Err(DataError::Size { .. })
        ));
        assert!(matches!(
            parse_images(&images(2, 2, 3, 12)[..10], "x"),
            Err(DataError::Size { .. })
        ));
        let mut bad = images(1, 1, 1, 1);
        bad[3] = 0x01;
        assert!(matches!(
            parse_images(&bad, "x"),
            Err(DataError::Header { ref field, .. }) if field == "magic"
        ));
        let mut l = LABELS_MAGIC.to_be_bytes().to_vec();
        l.extend_from_slice(&3u32.to_be_bytes());
        l.extend_from_slice(&[1, 2, 3]);
        assert_eq!(parse_labels(&l, "y").unwrap(), vec![1, 2, 3]);
        assert!(parse_images(&l, "y").is_err());
        l[9] = 42;
        assert!(parse_labels(&l, "y").is_err());
        l.pop();
        assert!(matches!(parse_labels(&l, "y"), Err(DataError::Size { .. })));
    }
}
