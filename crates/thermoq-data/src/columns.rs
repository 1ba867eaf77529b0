//! Recorded series as text: one number per line (one chain), or CSV / whitespace-separated
//! columns, one column per chain — the input of `thermoq tau`.
//!
//! An optional first line of non-numeric names is skipped as a header; `#` starts a comment;
//! fields are separated by `,`, `;`, tabs or spaces. Every data line must have as many fields as
//! the first one, every value must be a finite number, and each chain needs at least
//! [`MIN_SAMPLES`] values. Errors name the line and column.

use thiserror::Error;

/// Fewest samples per chain accepted.
pub const MIN_SAMPLES: usize = 8;

/// What is wrong with a series file.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum ColumnsError {
    /// A field is not a number.
    #[error("line {line}, column {column}: {text:?} is not a number")]
    NotANumber {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field as read.
        text: String,
    },
    /// A value is NaN or infinite.
    #[error("line {line}, column {column}: value {value} is not finite")]
    NotFinite {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The value.
        value: f64,
    },
    /// A line has a different number of fields than the first data line.
    #[error(
        "line {line}: has {found} columns, expected {expected} (one per chain, as on the first data line)"
    )]
    Ragged {
        /// 1-based line.
        line: usize,
        /// Fields found.
        found: usize,
        /// Fields on the first data line.
        expected: usize,
    },
    /// Too few samples.
    #[error("input: expected at least {MIN_SAMPLES} numbers per chain, found {found}")]
    TooShort {
        /// Samples per chain found.
        found: usize,
    },
}

/// Parses the text into one vector per column (chain).
pub fn parse_columns(text: &str) -> Result<Vec<Vec<f64>>, ColumnsError> {
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut first_data = true;
    for (ln, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split([',', ';', '\t', ' '])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let parsed: Vec<Result<f64, _>> = fields.iter().map(|f| f.parse::<f64>()).collect();
        if first_data && parsed.iter().all(|p| p.is_err()) {
            continue; // a header of column names
        }
        let mut row = Vec::with_capacity(fields.len());
        for (c, (p, f)) in parsed.into_iter().zip(&fields).enumerate() {
            let v = p.map_err(|_| ColumnsError::NotANumber {
                line: ln + 1,
                column: c + 1,
                text: (*f).to_string(),
            })?;
            if !v.is_finite() {
                return Err(ColumnsError::NotFinite {
                    line: ln + 1,
                    column: c + 1,
                    value: v,
                });
            }
            row.push(v);
        }
        if first_data {
            cols = vec![Vec::new(); row.len()];
            first_data = false;
        } else if row.len() != cols.len() {
            return Err(ColumnsError::Ragged {
                line: ln + 1,
                found: row.len(),
                expected: cols.len(),
            });
        }
        for (c, v) in cols.iter_mut().zip(row) {
            c.push(v);
        }
    }
    if cols.is_empty() || cols[0].len() < MIN_SAMPLES {
        return Err(ColumnsError::TooShort {
            found: cols.first().map_or(0, Vec::len),
        });
    }
    Ok(cols)
}

/// Multiplies every value by the power of two that brings the largest |x| into [1, 2) when that
/// largest |x| is outside [2^-256, 2^256] (what `thermoq tau` does, so the estimators see in-range numbers; the τ estimates are
/// scale-invariant); leaves other inputs untouched.
pub fn rescale_extreme(chains: &mut [Vec<f64>]) {
    let max = chains.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let lo = 2f64.powi(-256);
    let hi = 2f64.powi(256);
    if max == 0.0 || (lo..=hi).contains(&max) {
        return;
    }
    let e = max.log2().floor() as i32;
    // Two factors, each a normal power of two, so neither over- nor underflows.
    let (a, b) = (-e / 2, -e - (-e / 2));
    let (fa, fb) = (2f64.powi(a), 2f64.powi(b));
    for v in chains.iter_mut().flatten() {
        *v = *v * fa * fb;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_and_rejects_bad_rows() {
        let c = parse_columns("a,b\n1,2\n3,4\n5,6\n7,8\n9,1\n2,3\n4,5\n6,7\n").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1][0], 2.0);
        assert!(matches!(
            parse_columns("1,2\n3\n"),
            Err(ColumnsError::Ragged { line: 2, .. })
        ));
        assert!(matches!(
            parse_columns("1\nx\n"),
            Err(ColumnsError::NotANumber { line: 2, .. })
        ));
        assert!(matches!(
            parse_columns("1\nNaN\n"),
            Err(ColumnsError::NotFinite { line: 2, .. })
        ));
        assert!(matches!(
            parse_columns("1\n2\n"),
            Err(ColumnsError::TooShort { found: 2 })
        ));
        assert!(matches!(
            parse_columns(""),
            Err(ColumnsError::TooShort { found: 0 })
        ));
    }

    #[test]
    fn extreme_values_are_rescaled_exactly() {
        let base: Vec<f64> = (0..64)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 5.0)
            .collect();
        let mut huge = vec![base.iter().map(|v| v * 2f64.powi(1022)).collect::<Vec<_>>()];
        rescale_extreme(&mut huge);
        let m = huge[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!((1.0..2.0).contains(&m), "{m}");
        // exact: the rescaled series is the base series times a power of two
        let r = huge[0][0] / base[0];
        assert!(huge[0].iter().zip(&base).all(|(h, b)| *h == b * r));
        let mut ordinary = vec![base.clone()];
        rescale_extreme(&mut ordinary);
        assert_eq!(ordinary[0], base);
        let mut tiny = vec![
            base.iter()
                .map(|v| v * 2f64.powi(-1000))
                .collect::<Vec<_>>(),
        ];
        rescale_extreme(&mut tiny);
        let m = tiny[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!((1.0..2.0).contains(&m), "{m}");
    }
}
