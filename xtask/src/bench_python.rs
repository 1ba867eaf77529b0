//! `cargo xtask bench python`: thermoq called from Python against thrml 0.1.4 (CPU JAX) and
//! against the Rust bench loop, on the four `bench peers` cases, in one run.
//!
//! Sets up (or reuses) the venv `target/py-venv` and installs the `thermoq` package into it with
//! the release profile (`scripts/python-env.sh --release`: pip with the maturin backend, as
//! `pip install ./crates/thermoq-py` does), then runs `crates/thermoq-py/bench/bench_python.py`,
//! which times, alternating in one process: `thermoq.sample(...)` (the call a user makes), the
//! Rust sweep loop of `bench peers` (no Python in the loop) and thrml's `sample_states` under
//! `jax.jit(jax.vmap(...))` (compilation excluded). It prints one JSON line per case and a table
//! (`overhead` = Python time ÷ Rust-loop time − 1, target ≤ 5 %; `speedup` = thermoq from Python
//! ÷ thrml, target ≥ 10×), and writes the JSON lines to `--out`.
//!
//! Needs python3 (≥ 3.10) with venv/pip; everything else comes from PyPI and crates.io.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `bench python`.
#[derive(Args, Debug, Clone)]
pub struct PythonBenchArgs {
    /// Timed repetitions per case (medians are reported; 21 gives the paired overhead a 95 % CI
    /// between its 6th and 16th order statistics).
    #[arg(long, default_value_t = 21)]
    pub reps: usize,
    /// A quarter of the sweeps per call (a smoke run; overheads are then less meaningful).
    #[arg(long)]
    pub quick: bool,
    /// Skip thrml (thermoq-from-Python against the Rust loop only).
    #[arg(long)]
    pub no_thrml: bool,
    /// Reuse the installed package instead of rebuilding it (the venv must exist).
    #[arg(long)]
    pub no_install: bool,
    /// Where to write the JSON lines (one per case).
    #[arg(long, value_name = "FILE", default_value = "target/bench/python.jsonl")]
    pub out: PathBuf,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs `bench python`.
pub fn run_python_bench(a: &PythonBenchArgs) -> Result<()> {
    if a.reps == 0 {
        bail!("--reps: is 0, expected at least 1");
    }
    let root = repo_root();
    let venv = std::env::var_os("THERMOQ_PY_VENV")
        .map_or_else(|| root.join("target").join("py-venv"), PathBuf::from);
    if !a.no_install {
        eprintln!(
            "bench python: building and installing the thermoq package (release) into {}",
            venv.display()
        );
        let st = Command::new("bash")
            .arg(root.join("scripts").join("python-env.sh"))
            .arg("--release")
            .env("THERMOQ_PY_VENV", &venv)
            .status()
            .context("running scripts/python-env.sh (needs bash)")?;
        if !st.success() {
            bail!("scripts/python-env.sh --release failed ({st}); see its output above");
        }
    }
    let py = venv.join("bin").join("python");
    if !py.exists() {
        bail!(
            "{}: no venv python; run without --no-install to create it",
            py.display()
        );
    }
    let out = if a.out.is_absolute() {
        a.out.clone()
    } else {
        root.join(&a.out)
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut cmd = Command::new(&py);
    cmd.arg(root.join("crates/thermoq-py/bench/bench_python.py"))
        .arg("--reps")
        .arg(a.reps.to_string())
        .arg("--json-out")
        .arg(&out)
        .env("JAX_PLATFORMS", "cpu")
        .current_dir(&root);
    if a.quick {
        cmd.arg("--quick");
    }
    if a.no_thrml {
        cmd.arg("--no-thrml");
    }
    let st = cmd
        .status()
        .with_context(|| format!("running {}", py.display()))?;
    if !st.success() {
        bail!("bench_python.py failed ({st})");
    }
    eprintln!("bench python: JSON lines in {}", out.display());
    Ok(())
}
