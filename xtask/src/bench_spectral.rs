//! `cargo xtask bench spectral`: timings of the exact spectral machinery, side by side with numpy.
//!
//! * Dense cases (default N = 10, 12, 13; RS1 on a bias-free SK model, seed 1): the full
//!   analysis (`decompose` — step matrix, symmetrization, parity sectors, eigendecompositions,
//!   eigenfunctions — plus overlaps of every coupling observable), and faer's
//!   `self_adjoint_eigen` on the even-sector block of `A = D^{1/2} Q D^{−1/2}` (size `2^{N−1}`)
//!   against numpy's `eigh` on the *same* matrix (written to a raw little-endian f64 file and
//!   timed inside a Python subprocess, excluding the load, after a warm-up call; both sides report
//!   the best of 3 repetitions up to size 2048 and a single run above).
//! * Matrix-free cases (default N = 16, 20, 22): the Poisson solve for the first `--n-obs`
//!   coupling observables (Lanczos route, true residual measured), plus table setup time.
//!
//! Python: `python3` if it imports numpy, else the venv `target/spectral-venv` (created with
//! `python3 -m venv target/spectral-venv && target/spectral-venv/bin/pip install numpy scipy`),
//! else numpy columns are null and the reason is printed. One JSON line per case on stdout.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use thermoq_models::{EnergyModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::operator::{dense_step_matrix, parity_blocks, symmetrize_in_place};
use thermoq_spectral::{PoissonParams, SpectralParams, asymptotic_variances, decompose};

/// Options of `bench spectral`.
#[derive(Args, Debug, Clone)]
pub struct SpectralBenchArgs {
    /// Dense sizes N (full analysis and eigh vs numpy).
    #[arg(long, value_delimiter = ',', default_value = "10,12,13")]
    pub dense: Vec<usize>,
    /// Matrix-free Poisson sizes N.
    #[arg(long, value_delimiter = ',', default_value = "16,20,22")]
    pub matrix_free: Vec<usize>,
    /// Inverse temperature of the SK models.
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// Observables per matrix-free solve (the first coupling observables).
    #[arg(long, default_value_t = 1)]
    pub n_obs: usize,
    /// Python interpreter with numpy (default: auto-detect, see the module docs).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the numpy comparison.
    #[arg(long)]
    pub no_numpy: bool,
    /// Smoke run: dense N = 8, 10 and matrix-free N = 14, 16.
    #[arg(long)]
    pub quick: bool,
}

const NUMPY_SCRIPT: &str = r#"
import sys, time, numpy as np
n = int(sys.argv[2])
a = np.fromfile(sys.argv[1], dtype='<f8').reshape(n, n)
reps = int(sys.argv[3])
np.linalg.eigh(np.eye(64))  # warm-up: BLAS/LAPACK initialization outside the timing
dt = float('inf')
for _ in range(reps):
    t = time.perf_counter(); w, v = np.linalg.eigh(a); dt = min(dt, time.perf_counter() - t)
print(dt, w[-1], w[0])
"#;

fn find_python(explicit: Option<&Path>) -> std::result::Result<PathBuf, String> {
    let ok = |p: &Path| {
        Command::new(p)
            .args(["-c", "import numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if let Some(p) = explicit {
        return if ok(p) {
            Ok(p.to_path_buf())
        } else {
            Err(format!("{} cannot import numpy", p.display()))
        };
    }
    for c in ["python3", "target/spectral-venv/bin/python"] {
        if ok(Path::new(c)) {
            return Ok(PathBuf::from(c));
        }
    }
    Err(
        "no python3 with numpy and no target/spectral-venv; create it with `python3 -m venv \
         target/spectral-venv && target/spectral-venv/bin/pip install numpy scipy`"
            .into(),
    )
}

fn numpy_eigh(py: &Path, a: faer::MatRef<'_, f64>) -> Result<f64> {
    let n = a.nrows();
    let mut file = tempfile_in_target(n)?;
    let mut bytes = Vec::with_capacity(n * n * 8);
    for i in 0..n {
        for j in 0..n {
            bytes.extend_from_slice(&a[(i, j)].to_le_bytes());
        }
    }
    file.1.write_all(&bytes)?;
    drop(file.1);
    let out = Command::new(py)
        .args(["-c", NUMPY_SCRIPT])
        .arg(&file.0)
        .arg(n.to_string())
        .arg(reps(n).to_string())
        .output()
        .context("running python")?;
    let _ = std::fs::remove_file(&file.0);
    anyhow::ensure!(
        out.status.success(),
        "numpy eigh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let secs: f64 = text
        .split_whitespace()
        .next()
        .context("numpy printed nothing")?
        .parse()?;
    Ok(secs)
}

/// Timed repetitions (best of) for an `n × n` eigendecomposition.
fn reps(n: usize) -> usize {
    if n <= 2048 { 3 } else { 1 }
}

fn tempfile_in_target(n: usize) -> Result<(PathBuf, std::fs::File)> {
    let dir = PathBuf::from("target/bench-spectral");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("a-{n}-{}.f64", std::process::id()));
    let f = std::fs::File::create(&path)?;
    Ok((path, f))
}

/// Runs the spectral benchmark (see the module docs); prints one JSON line per case.
pub fn run_spectral_bench(args: &SpectralBenchArgs) -> Result<()> {
    let (dense, mf) = if args.quick {
        (vec![8, 10], vec![14, 16])
    } else {
        (args.dense.clone(), args.matrix_free.clone())
    };
    let python = if args.no_numpy {
        Err("--no-numpy".to_string())
    } else {
        find_python(args.python.as_deref())
    };
    if let Err(why) = &python {
        eprintln!("numpy comparison skipped: {why}");
    }
    for &n in &dense {
        let m = builders::sherrington_kirkpatrick(n, args.beta, 1);
        let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None)?;
        let t = Instant::now();
        let sp = decompose(&k, &m, &SpectralParams::default())?;
        let law = ExactLaw::new(&m)?;
        let table = law.observable_table(&m, ObservableSet::Couplings);
        let ov = sp.try_overlaps(&table)?;
        let analysis = t.elapsed().as_secs_f64();
        let op = ExactKernel::new(&k, &m)?;
        let (mut a, _) = dense_step_matrix(&op)?;
        symmetrize_in_place(&mut a, &law.pi);
        let (even, _, _) = parity_blocks(a.as_ref());
        drop(a);
        let mut faer_s = f64::INFINITY;
        for _ in 0..reps(even.nrows()) {
            let t = Instant::now();
            let e = even
                .self_adjoint_eigen(faer::Side::Lower)
                .map_err(|e| anyhow::anyhow!("faer eigh: {e:?}"))?;
            faer_s = faer_s.min(t.elapsed().as_secs_f64());
            drop(e);
        }
        let numpy_s = match &python {
            Ok(py) => Some(numpy_eigh(py, even.as_ref())?),
            Err(_) => None,
        };
        println!(
            "{}",
            json!({
                "case": "dense", "n": n, "beta": args.beta, "kernel": "rs1",
                "analysis_s": analysis, "gap": sp.gap(), "n_obs": ov.nrows(),
                "eigh_matrix": format!("even-sector block {}x{}", even.nrows(), even.ncols()),
                "faer_eigh_s": faer_s, "numpy_eigh_s": numpy_s,
                "faer_over_numpy": numpy_s.map(|s| faer_s / s),
                "threads": rayon::current_num_threads(),
            })
        );
    }
    for &n in &mf {
        let m = builders::sherrington_kirkpatrick(n, args.beta, 1);
        let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None)?;
        let t = Instant::now();
        let op = ExactKernel::new(&k, &m)?;
        let law = ExactLaw::new(&m)?;
        let table: Vec<Vec<f64>> = law
            .observable_table(&m, ObservableSet::Couplings)
            .into_iter()
            .take(args.n_obs)
            .collect();
        let setup = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let res = asymptotic_variances(&op, &law.pi, &table, &PoissonParams::default())?;
        let solve = t.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "case": "poisson", "n": n, "beta": args.beta, "kernel": "rs1",
                "n_obs": res.len(), "setup_s": setup, "solve_s": solve,
                "tau_int": res.iter().map(|r| r.tau_int).collect::<Vec<_>>(),
                "iterations": res.iter().map(|r| r.iterations).collect::<Vec<_>>(),
                "residual": res.iter().map(|r| r.residual).collect::<Vec<_>>(),
                "threads": rayon::current_num_threads(),
            })
        );
    }
    Ok(())
}
