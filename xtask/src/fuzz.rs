//! `cargo xtask fuzz --cases N`: the long run of the `thermoq-fuzz` targets.
//!
//! Runs `cargo test -p thermoq-fuzz` (the dev profile of this workspace is optimized: opt-level 2,
//! dependencies 3, with debug assertions and overflow checks on, which a fuzz run wants) with `THERMOQ_FUZZ_CASES=N` (cases per target) and
//! `THERMOQ_FUZZ_SEED`, one target at a time (`--target` picks one), so every target's summary
//! line (`fuzz <target>: <inputs> inputs …`) is printed as it finishes.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::process::Command;

/// Arguments of `cargo xtask fuzz`.
#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// Cases per target.
    #[arg(long, default_value_t = 100_000)]
    pub cases: u64,
    /// Proptest RNG seed (each target mixes in its own index).
    #[arg(long, default_value_t = 0x7e51_f022)]
    pub seed: u64,
    /// Run only this target (model_json, model_binary, colouring, cd_checkpoint,
    /// dtm_checkpoint, tau_csv, cell_file, run_manifest).
    #[arg(long)]
    pub target: Option<String>,
}

/// `(target, test file of thermoq-fuzz)`.
const TARGETS: [(&str, &str); 8] = [
    ("model_json", "fuzz"),
    ("model_binary", "fuzz"),
    ("colouring", "fuzz"),
    ("cd_checkpoint", "fuzz"),
    ("dtm_checkpoint", "fuzz"),
    ("tau_csv", "fuzz"),
    ("cell_file", "fuzz_runs"),
    ("run_manifest", "fuzz_runs"),
];

/// Runs the targets.
pub fn run(a: &FuzzArgs) -> Result<()> {
    if a.cases == 0 || a.cases > u64::from(u32::MAX) {
        bail!("--cases: is {}, expected 1..=2^32-1", a.cases);
    }
    let targets: Vec<(&str, &str)> = match &a.target {
        Some(t) => match TARGETS.iter().find(|x| x.0 == t.as_str()) {
            Some(&x) => vec![x],
            None => bail!(
                "--target: {t:?} is not one of {}",
                TARGETS.map(|x| x.0).join(", ")
            ),
        },
        None => TARGETS.to_vec(),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (t, file) in targets {
        let status = Command::new(&cargo)
            .args([
                "test",
                "-p",
                "thermoq-fuzz",
                "--test",
                file,
                "--",
                "--exact",
            ])
            .arg(t)
            .arg("--nocapture")
            .env("THERMOQ_FUZZ_CASES", a.cases.to_string())
            .env("THERMOQ_FUZZ_SEED", a.seed.to_string())
            .status()
            .with_context(|| format!("running {cargo} test for fuzz target {t}"))?;
        if !status.success() {
            bail!("fuzz target {t} failed ({status}); see the output above");
        }
    }
    Ok(())
}
