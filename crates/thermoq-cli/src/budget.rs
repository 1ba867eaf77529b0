//! Up-front resource checks: every count a user gives is combined with checked arithmetic, and
//! each command estimates the memory it will need before it starts.
//!
//! The budget is the smaller of `--max-memory` (if given) and the machine's available memory
//! (`MemAvailable` in `/proc/meminfo`; unknown elsewhere, then only `--max-memory` applies). A
//! command whose estimate exceeds the budget refuses at once with the estimate, the budget and the
//! option that lowers the estimate, instead of failing part-way (or aborting in the allocator).
//! Estimates are upper-leaning approximations of the large allocations, not exact accounting.

use anyhow::{Context, Result, bail};

/// The memory budget of one command.
#[derive(Clone, Debug)]
pub struct Budget {
    bytes: Option<u64>,
    source: String,
}

/// `MemAvailable` from `/proc/meminfo`, in bytes, if it can be read.
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Parses a size such as `512M`, `2G`, `1.5GiB`, `4096` (bytes); suffixes are powers of 1024.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let x: f64 = num
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        .with_context(|| format!("--max-memory: {s:?} is not a size such as 512M or 2G"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0_f64.powi(4),
        other => bail!("--max-memory: unknown unit {other:?} in {s:?}; expected B, K, M, G or T"),
    };
    let bytes = x * mult;
    if bytes >= u64::MAX as f64 {
        bail!("--max-memory: {s:?} is larger than 2^64 bytes");
    }
    Ok(bytes as u64)
}

/// Bytes as a short human-readable string.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    let gib = 1024.0 * 1024.0 * 1024.0;
    if b >= gib {
        format!("{:.1} GiB", b / gib)
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{bytes} B")
    }
}

impl Budget {
    /// The budget from `--max-memory` (if given) and the machine's available memory.
    pub fn new(max_memory: Option<&str>) -> Result<Self> {
        let user = max_memory.map(parse_size).transpose()?;
        let avail = mem_available();
        Ok(match (user, avail) {
            (Some(u), Some(a)) if a < u => Self {
                bytes: Some(a),
                source: "the available memory (MemAvailable)".into(),
            },
            (Some(u), _) => Self {
                bytes: Some(u),
                source: "--max-memory".into(),
            },
            (None, Some(a)) => Self {
                bytes: Some(a),
                source: "the available memory (MemAvailable)".into(),
            },
            (None, None) => Self {
                bytes: None,
                source: "no limit".into(),
            },
        })
    }

    /// Bytes of the budget left once `used` bytes are taken (`None`: no limit known).
    pub fn spare(&self, used: u64) -> Option<u64> {
        self.bytes.map(|b| b.saturating_sub(used))
    }

    /// Refuses when `estimate` (bytes, `None` = overflows u64) exceeds the budget.
    /// `what` describes the allocation; `lower` names the option(s) that lower it.
    pub fn check(&self, what: &str, estimate: Option<u64>, lower: &str) -> Result<()> {
        let Some(est) = estimate else {
            bail!("{lower}: {what} would need more than 2^64 bytes; lower {lower}");
        };
        if let Some(limit) = self.bytes
            && est > limit
        {
            bail!(
                "{lower}: {what} needs about {}, more than {} allowed by {}; lower {lower}{}",
                human(est),
                human(limit),
                self.source,
                if self.source == "--max-memory" {
                    ""
                } else {
                    " (or set --max-memory if you know better)"
                }
            );
        }
        Ok(())
    }
}

/// `a · b` for user-given counts, or an error naming `field`.
pub fn mul(a: u64, b: u64, field: &str) -> Result<u64> {
    a.checked_mul(b)
        .with_context(|| format!("{field}: {a} × {b} overflows a 64-bit count; lower {field}"))
}

/// `a + b` for user-given counts, or an error naming `field`.
pub fn add(a: u64, b: u64, field: &str) -> Result<u64> {
    a.checked_add(b)
        .with_context(|| format!("{field}: {a} + {b} overflows a 64-bit count; lower {field}"))
}

/// Checked estimate helper: `Σ factors` products, `None` on overflow.
pub fn product(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |acc, &f| acc.checked_mul(f))
}

/// The largest number of elementary updates (spin updates) a command accepts: about a day at
/// 10^9 updates per second. A request beyond this can never finish and is refused up front.
pub const MAX_WORK: u64 = 100_000_000_000_000;

/// Refuses work beyond [`MAX_WORK`] (or overflowing), naming the options that set it.
pub fn check_work(updates: Option<u64>, fields: &str) -> Result<()> {
    match updates {
        Some(w) if w <= MAX_WORK => Ok(()),
        Some(w) => bail!(
            "{fields}: the run would make {w:.3e} spin updates (more than {MAX_WORK:.0e}, about a \
             day of computing); lower {fields}",
            w = w as f64,
            MAX_WORK = MAX_WORK as f64
        ),
        None => bail!("{fields}: the number of spin updates overflows 64 bits; lower {fields}"),
    }
}

/// Estimated bytes of an exact analysis of an `n`-spin model with `na` observables: the law and
/// observable table (`(2 + na)·2^N` f64), the tabulated kernel (`N·2^N` f64), the Poisson solver's
/// work vectors (about 16 per worker thread plus 2 per observable, each `2^N` f64) and, when
/// `dense`, three `2^N × 2^N` matrices (operator, eigenvectors, workspace).
pub fn exact_estimate(n: usize, na: usize, dense: bool, threads: usize) -> Option<u64> {
    let ns = 1u64.checked_shl(u32::try_from(n).ok()?)?;
    let vectors = (2 + na as u64)
        .checked_add(n as u64)?
        .checked_add(2 * na as u64)?
        .checked_add(16 * threads as u64)?;
    let mut bytes = product(&[vectors, ns, 8])?;
    if dense {
        bytes = bytes.checked_add(product(&[3, ns, ns, 8])?)?;
    }
    Some(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_budgets_refuse() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2K").unwrap(), 2048);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 * 512 * 1024 * 1024);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3Q").is_err());
        let b = Budget::new(Some("1M")).unwrap();
        assert!(b.check("x", Some(1024), "--chains").is_ok());
        let e = b
            .check("x", Some(2 << 20), "--chains")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--chains") && e.contains("lower --chains"),
            "{e}"
        );
        assert!(b.check("x", None, "--seeds").is_err());
        // What is left of a 1 MiB budget (the available memory may lower it, never raise it).
        let spare = b.spare(1024).unwrap();
        assert!(spare <= (1 << 20) - 1024, "{spare}");
        assert_eq!(b.spare(u64::MAX), Some(0));
        assert!(mul(u64::MAX, 2, "--chains").is_err());
        assert!(check_work(Some(MAX_WORK + 1), "--sweeps").is_err());
        assert!(check_work(None, "--sweeps").is_err());
    }
}
