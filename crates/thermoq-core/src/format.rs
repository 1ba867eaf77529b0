//! The `thermoq-ising-v1` model interchange file.
//!
//! JSON form (see `docs/formats.md`):
//!
//! ```json
//! {"format": "thermoq-ising-v1", "n": 3, "beta": 1.0, "h": [0.0, 0.1, -0.2],
//!  "edges": [[0, 1, 0.5], [1, 2, -0.25]]}
//! ```
//!
//! The energy is `E(x) = −Σ_(i,j) J_ij x_i x_j − Σ_i h_i x_i` and the target law
//! `π(x) ∝ exp(−β E(x))`. The edge order in the file is the parameter (and observable) order.
//! The binary form is the same record encoded with bincode 2 (standard config) behind an 8-byte
//! magic `TQISING1`. Every load validates: the format tag, `n ≥ 1`, `β` finite and `> 0`, `h` of
//! length `n` with finite entries, every edge a triple `[i, j, J]` with integer `i ≠ j` in `0..n`,
//! finite `J`, and no pair twice.

use crate::{CoreError, Graph};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The format tag every file carries.
pub const FORMAT_TAG: &str = "thermoq-ising-v1";
/// Magic bytes that open the binary form.
pub const BINARY_MAGIC: &[u8; 8] = b"TQISING1";

/// A validated Ising model file: `n` spins, inverse temperature, biases and weighted edges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsingFile {
    /// Always [`FORMAT_TAG`].
    pub format: String,
    /// Number of spins.
    pub n: usize,
    /// Inverse temperature β.
    pub beta: f64,
    /// Biases, one per spin.
    pub h: Vec<f64>,
    /// Edges `(i, j, J_ij)` in parameter order.
    pub edges: Vec<(usize, usize, f64)>,
}

/// The raw, unvalidated JSON shape: numbers are read loosely so that errors can name the field.
#[derive(Deserialize)]
struct RawFile {
    format: Option<serde_json::Value>,
    n: Option<serde_json::Value>,
    beta: Option<serde_json::Value>,
    h: Option<serde_json::Value>,
    edges: Option<serde_json::Value>,
}

impl IsingFile {
    /// Builds and validates a model record.
    pub fn new(
        n: usize,
        beta: f64,
        h: Vec<f64>,
        edges: Vec<(usize, usize, f64)>,
    ) -> Result<Self, CoreError> {
        let f = Self {
            format: FORMAT_TAG.into(),
            n,
            beta,
            h,
            edges,
        };
        f.validate()?;
        Ok(f)
    }

    /// Checks every invariant listed in the module docs.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.format != FORMAT_TAG {
            return Err(CoreError::invalid(
                "format",
                format!("is {:?}, expected {FORMAT_TAG:?}", self.format),
            ));
        }
        if self.n == 0 {
            return Err(CoreError::invalid("n", "is 0, expected at least 1 spin"));
        }
        if !self.beta.is_finite() {
            return Err(CoreError::NotFinite {
                field: "beta".into(),
                value: self.beta,
            });
        }
        if self.beta <= 0.0 {
            return Err(CoreError::invalid(
                "beta",
                format!("is {}, expected > 0", self.beta),
            ));
        }
        if self.h.len() != self.n {
            return Err(CoreError::length("h", self.h.len(), self.n));
        }
        for (i, &v) in self.h.iter().enumerate() {
            if !v.is_finite() {
                return Err(CoreError::NotFinite {
                    field: format!("h[{i}]"),
                    value: v,
                });
            }
        }
        for (e, &(_, _, j)) in self.edges.iter().enumerate() {
            if !j.is_finite() {
                return Err(CoreError::NotFinite {
                    field: format!("edges[{e}][2]"),
                    value: j,
                });
            }
        }
        self.graph().map(|_| ())
    }

    /// The coupling graph (validates endpoints, self-loops and duplicates).
    pub fn graph(&self) -> Result<Graph, CoreError> {
        let pairs: Vec<(usize, usize)> = self.edges.iter().map(|&(i, j, _)| (i, j)).collect();
        Graph::new_named(self.n, &pairs, "edges")
    }

    /// Parses and validates the JSON form. `path` only labels errors.
    pub fn from_json_str(text: &str, path: &str) -> Result<Self, CoreError> {
        let parse = |message: String| CoreError::Parse {
            path: path.into(),
            format: FORMAT_TAG.into(),
            message,
        };
        let raw: RawFile = serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
        let need = |v: Option<serde_json::Value>, field: &str| {
            v.ok_or_else(|| CoreError::invalid(field, "is missing"))
        };
        let format = match need(raw.format, "format")? {
            serde_json::Value::String(s) => s,
            other => {
                return Err(CoreError::invalid(
                    "format",
                    format!("is {other}, expected the string {FORMAT_TAG:?}"),
                ));
            }
        };
        if format != FORMAT_TAG {
            return Err(CoreError::invalid(
                "format",
                format!("is {format:?}, expected {FORMAT_TAG:?}"),
            ));
        }
        let n = as_index(&need(raw.n, "n")?, "n")?;
        let beta = as_number(&need(raw.beta, "beta")?, "beta")?;
        let h = match need(raw.h, "h")? {
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| as_number(v, &format!("h[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(CoreError::invalid(
                    "h",
                    format!("is {other}, expected an array of {n} numbers"),
                ));
            }
        };
        let edges = match need(raw.edges, "edges")? {
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(e, v)| match v {
                    serde_json::Value::Array(t) if t.len() == 3 => Ok((
                        as_index(&t[0], &format!("edges[{e}][0]"))?,
                        as_index(&t[1], &format!("edges[{e}][1]"))?,
                        as_number(&t[2], &format!("edges[{e}][2]"))?,
                    )),
                    other => Err(CoreError::invalid(
                        format!("edges[{e}]"),
                        format!("is {other}, expected a triple [i, j, J]"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(CoreError::invalid(
                    "edges",
                    format!("is {other}, expected an array of [i, j, J] triples"),
                ));
            }
        };
        Self::new(n, beta, h, edges)
    }

    /// The JSON form.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("IsingFile serializes")
    }

    /// The binary form: magic + bincode 2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BINARY_MAGIC.to_vec();
        let body = bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("IsingFile encodes");
        out.extend_from_slice(&body);
        out
    }

    /// Parses and validates the binary form.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Self, CoreError> {
        let parse = |message: String| CoreError::Parse {
            path: path.into(),
            format: format!("{FORMAT_TAG} (binary)"),
            message,
        };
        let body = bytes
            .strip_prefix(BINARY_MAGIC)
            .ok_or_else(|| parse("missing the TQISING1 magic bytes".into()))?;
        // bincode allocates a string or vector of the length the file claims before it reads the
        // items, so a 24-byte file claiming 2^60 bytes would abort the process. Check every claimed
        // length against the bytes that are actually left first.
        prescan_binary(body).map_err(|(field, message)| parse(format!("{field}: {message}")))?;
        let (f, used): (Self, usize) =
            bincode::serde::decode_from_slice(body, bincode::config::standard())
                .map_err(|e| parse(e.to_string()))?;
        if used != body.len() {
            return Err(parse(format!(
                "{} trailing bytes after the record",
                body.len() - used
            )));
        }
        f.validate()?;
        Ok(f)
    }

    /// Reads a file in either form (binary if it starts with the magic, JSON otherwise).
    pub fn load(path: &Path) -> Result<Self, CoreError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| CoreError::Io {
            path: p.clone(),
            source,
        })?;
        if bytes.starts_with(BINARY_MAGIC) {
            Self::from_bytes(&bytes, &p)
        } else {
            let text = String::from_utf8(bytes).map_err(|e| CoreError::Parse {
                path: p.clone(),
                format: FORMAT_TAG.into(),
                message: format!(
                    "not a thermoq model file: it neither starts with the binary magic TQISING1 \
                     nor is UTF-8 JSON (first invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            })?;
            Self::from_json_str(&text, &p)
        }
    }

    /// Writes the JSON form (or binary when the extension is `.bin`), atomically.
    pub fn save(&self, path: &Path) -> Result<(), CoreError> {
        let bytes = if path.extension().is_some_and(|e| e == "bin") {
            self.to_bytes()
        } else {
            self.to_json_string().into_bytes()
        };
        write_atomic(path, &bytes)
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place, so readers never
/// see a partial file. The temporary name carries the process id, so two processes writing into
/// one folder (e.g. a requeued batch task beside its predecessor) never share a temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let p = path.display().to_string();
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|source| CoreError::Io {
        path: tmp.display().to_string(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| CoreError::Io { path: p, source })
}

/// Reads one bincode-2 (standard config) variable-length unsigned integer.
fn read_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let tag = *b.get(*pos)?;
    *pos += 1;
    let width = match tag {
        0..=250 => return Some(u64::from(tag)),
        251 => 2,
        252 => 4,
        253 => 8,
        _ => return None,
    };
    let bytes = b.get(*pos..pos.checked_add(width)?)?;
    *pos += width;
    let mut v = [0u8; 8];
    v[..width].copy_from_slice(bytes);
    Some(u64::from_le_bytes(v))
}

/// Walks the binary record (format string, n, β, h, edges) checking that every length it claims
/// fits in the bytes that follow, before bincode allocates anything. Returns the field at fault.
fn prescan_binary(b: &[u8]) -> Result<(), (&'static str, String)> {
    let mut pos = 0usize;
    let truncated = |field: &'static str| (field, "is truncated".to_string());
    let claim = |field: &'static str, pos: &mut usize, min_item: u64| {
        let len = read_varint(b, pos).ok_or_else(|| truncated(field))?;
        let left = (b.len() - (*pos).min(b.len())) as u64;
        match len.checked_mul(min_item) {
            Some(need) if need <= left => Ok(len),
            _ => Err((
                field,
                format!(
                    "claims {len} items of at least {min_item} bytes, but only {left} bytes follow"
                ),
            )),
        }
    };
    let flen = claim("format", &mut pos, 1)?;
    pos += flen as usize;
    read_varint(b, &mut pos).ok_or_else(|| truncated("n"))?;
    pos = pos
        .checked_add(8)
        .filter(|&p| p <= b.len())
        .ok_or_else(|| truncated("beta"))?;
    let hlen = claim("h", &mut pos, 8)?;
    pos += 8 * hlen as usize;
    // an edge is two varints (≥ 1 byte each) and an f64
    claim("edges", &mut pos, 10)?;
    Ok(())
}

fn as_number(v: &serde_json::Value, field: &str) -> Result<f64, CoreError> {
    match v.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        Some(x) => Err(CoreError::NotFinite {
            field: field.into(),
            value: x,
        }),
        None => Err(CoreError::invalid(
            field,
            format!("is {v}, expected a finite number"),
        )),
    }
}

fn as_index(v: &serde_json::Value, field: &str) -> Result<usize, CoreError> {
    v.as_u64().map(|x| x as usize).ok_or_else(|| {
        CoreError::invalid(field, format!("is {v}, expected a non-negative integer"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> &'static str {
        r#"{"format":"thermoq-ising-v1","n":3,"beta":1.0,"h":[0,0.1,-0.2],"edges":[[0,1,0.5],[1,2,-0.25]]}"#
    }

    #[test]
    fn roundtrips_json_and_binary() {
        let f = IsingFile::from_json_str(ok(), "t").unwrap();
        assert_eq!(
            IsingFile::from_json_str(&f.to_json_string(), "t").unwrap(),
            f
        );
        assert_eq!(IsingFile::from_bytes(&f.to_bytes(), "t").unwrap(), f);
    }

    fn err(s: &str) -> CoreError {
        IsingFile::from_json_str(s, "t").unwrap_err()
    }

    #[test]
    fn each_rejection_names_its_field() {
        let cases = [
            (ok().replace("thermoq-ising-v1", "v0"), "format"),
            (ok().replace("\"n\":3", "\"n\":0"), "n"),
            (ok().replace("\"n\":3", "\"n\":-1"), "n"),
            (ok().replace("\"beta\":1.0", "\"beta\":-1"), "beta"),
            (ok().replace("\"beta\":1.0", "\"beta\":\"hot\""), "beta"),
            (ok().replace("[0,0.1,-0.2]", "[0,0.1]"), "h"),
            (ok().replace("[0,0.1,-0.2]", "[0,\"x\",-0.2]"), "h[1]"),
            (ok().replace("[1,2,-0.25]", "[1,3,-0.25]"), "edges"),
            (ok().replace("[1,2,-0.25]", "[1,1,-0.25]"), "edges"),
            (ok().replace("[1,2,-0.25]", "[1,0,-0.25]"), "edges"),
            (ok().replace("[1,2,-0.25]", "[1,2]"), "edges[1]"),
            (ok().replace("[1,2,-0.25]", "[1.5,2,-0.25]"), "edges[1][0]"),
            (ok().replace("[1,2,-0.25]", "[1,2,null]"), "edges[1][2]"),
            (
                ok().replace(",\"edges\":[[0,1,0.5],[1,2,-0.25]]", ""),
                "edges",
            ),
        ];
        for (text, field) in cases {
            let e = err(&text);
            let msg = e.to_string();
            assert!(
                msg.starts_with(field),
                "{text} -> {msg} (expected field {field})"
            );
        }
        assert!(matches!(err("{not json"), CoreError::Parse { .. }));
        // NaN can't be written in JSON, but a record built in memory must still be rejected.
        assert!(matches!(
            IsingFile::new(1, 1.0, vec![f64::NAN], vec![]),
            Err(CoreError::NotFinite { .. })
        ));
        assert!(matches!(
            IsingFile::new(2, f64::INFINITY, vec![0.0; 2], vec![]),
            Err(CoreError::NotFinite { .. })
        ));
        assert!(matches!(
            IsingFile::new(2, 1.0, vec![0.0; 2], vec![(0, 1, f64::NAN)]),
            Err(CoreError::NotFinite { .. })
        ));
    }

    #[test]
    fn binary_rejects_truncation_and_bad_magic() {
        let f = IsingFile::from_json_str(ok(), "t").unwrap();
        let b = f.to_bytes();
        assert!(matches!(
            IsingFile::from_bytes(&b[..b.len() - 3], "t"),
            Err(CoreError::Parse { .. })
        ));
        assert!(matches!(
            IsingFile::from_bytes(b"XXXXXXXX", "t"),
            Err(CoreError::Parse { .. })
        ));
    }

    #[test]
    fn binary_rejects_huge_claimed_lengths_before_allocating() {
        // Regression (issue 18): magic, then a format-string length of 2^60 (varint tag 253).
        let mut b = BINARY_MAGIC.to_vec();
        b.push(253);
        b.extend_from_slice(&(1u64 << 60).to_le_bytes());
        b.extend_from_slice(&[0; 7]);
        assert_eq!(b.len(), 24);
        let e = IsingFile::from_bytes(&b, "t").unwrap_err();
        assert!(
            e.to_string()
                .contains("(binary): format: claims 1152921504606846976"),
            "{e}"
        );
        // A huge h or edge count is refused the same way, naming its field.
        let f = IsingFile::from_json_str(ok(), "t").unwrap();
        let good = f.to_bytes();
        // layout: magic, 1 + 16 format bytes, n (1), beta (8), then h's length
        let h_at = 8 + 1 + FORMAT_TAG.len() + 1 + 8;
        assert_eq!(good[h_at], 3);
        let mut bad = good[..h_at].to_vec();
        bad.push(253);
        bad.extend_from_slice(&u64::MAX.to_le_bytes());
        let e = IsingFile::from_bytes(&bad, "t").unwrap_err();
        assert!(e.to_string().contains("(binary): h: claims"), "{e}");
        let e_at = h_at + 1 + 24;
        let mut bad = good[..e_at].to_vec();
        bad.push(252);
        bad.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = IsingFile::from_bytes(&bad, "t").unwrap_err();
        assert!(e.to_string().contains("(binary): edges: claims"), "{e}");
    }

    #[test]
    fn non_utf8_without_magic_is_not_a_model_file() {
        let dir = std::env::temp_dir().join(format!("tq-core-magic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.bin");
        std::fs::write(&p, b"TQISINGX\xff\xfe\x00\x01").unwrap();
        let e = IsingFile::load(&p).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).ok();
        assert!(e.contains("not a thermoq model file"), "{e}");
    }
}
