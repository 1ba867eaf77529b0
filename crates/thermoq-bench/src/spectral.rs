//! The exact-analysis cases of `cargo xtask bench spectral` (RS1 on a bias-free SK model, seed 1):
//!
//! * [`dense_case`] — the full dense analysis (`decompose`: parity blocks built per sector,
//!   eigendecompositions, eigenfunctions; plus the overlaps of every coupling), and optionally
//!   faer's `self_adjoint_eigen` on the even block alone, whose matrix [`numpy_eigh`] then times
//!   in numpy;
//! * [`poisson_case`] — matrix-free Poisson solves for the first `n_obs` couplings, on all `2^N`
//!   states ([`PoissonRoute::Full`]) or on the `2^{N−1}` representatives of the even sector
//!   ([`PoissonRoute::Sector`]), setup (tables, law, observable rows) timed apart from the solve;
//! * [`spectrum_case`] — the Lanczos top of the spectrum per parity sector past the dense limit.
//!
//! Every case returns one JSON object with wall seconds, the process CPU seconds of the case
//! (from `/proc/self/stat`; null elsewhere) and the case's peak resident memory (`VmHWM` after
//! resetting it through `/proc/self/clear_refs`; null where unsupported). Nothing here prints.

use crate::BenchError;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use thermoq_models::{EnergyModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::operator::{direct_parity_blocks, site_mixture, split_repeat};
use thermoq_spectral::{
    LanczosParams, PoissonParams, SectorKernel, SpectralError, SpectralParams,
    asymptotic_variances, decompose, sector_asymptotic_variances, sector_law, top_of_spectrum,
};

/// Where the Poisson solves of [`poisson_case`] run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoissonRoute {
    /// All `2^N` states (`thermoq_spectral::asymptotic_variances`).
    Full,
    /// The even sector's `2^{N−1}` representatives (`sector_asymptotic_variances`).
    Sector,
}

/// Process CPU seconds (user + system) so far, from `/proc/self/stat` (Linux; 100 ticks/s).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resets the peak resident set size of this process (Linux ≥ 4.0), so that [`peak_rss_gib`]
/// measures from here.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident set size (`VmHWM`) in GiB.
fn peak_rss_gib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / (1024.0 * 1024.0))
}

/// Wall and CPU clocks of one case.
struct Clock {
    wall: Instant,
    cpu: Option<f64>,
    rss: bool,
}

impl Clock {
    fn start() -> Self {
        let rss = reset_peak_rss();
        Self {
            wall: Instant::now(),
            cpu: cpu_seconds(),
            rss,
        }
    }
    fn wall(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }
    fn cpu(&self) -> Option<f64> {
        Some(cpu_seconds()? - self.cpu?)
    }
    fn peak(&self) -> Option<f64> {
        if self.rss { peak_rss_gib() } else { None }
    }
}

fn sk(n: usize, beta: f64) -> Result<(thermoq_models::IsingModel, GibbsKernel), BenchError> {
    let m = builders::sherrington_kirkpatrick(n, beta, 1);
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None)?;
    Ok((m, k))
}

/// The dense case at `n` spins; with `eigh`, also faer's eigh of the even block, returned for a
/// numpy comparison.
pub fn dense_case(
    n: usize,
    beta: f64,
    eigh: bool,
) -> Result<(Value, Option<faer::Mat<f64>>), BenchError> {
    let (m, k) = sk(n, beta)?;
    let clock = Clock::start();
    let sp = decompose(&k, &m, &SpectralParams::default())?;
    let law = ExactLaw::new(&m)?;
    let table = law.observable_table(&m, ObservableSet::Couplings);
    let ov = sp.try_overlaps(&table)?;
    let (analysis, cpu, peak) = (clock.wall(), clock.cpu(), clock.peak());
    let (gap, n_obs) = (sp.gap(), ov.nrows());
    drop((sp, ov, table));
    let mut faer_s = None;
    let mut block = None;
    if eigh {
        let op = ExactKernel::new(&k, &m)?;
        let sites = site_mixture(split_repeat(op.plan()).0).unwrap_or_default();
        let (even, _, _, _) = direct_parity_blocks(&op, &sites, &law.pi);
        let mut best = f64::INFINITY;
        for _ in 0..eigh_reps(even.nrows()) {
            let t = Instant::now();
            let e =
                even.self_adjoint_eigen(faer::Side::Lower)
                    .map_err(|e| SpectralError::Eigen {
                        what: "even block".into(),
                        message: format!("{e:?}"),
                    })?;
            best = best.min(t.elapsed().as_secs_f64());
            drop(e);
        }
        faer_s = Some(best);
        block = Some(even);
    }
    let v = json!({
        "case": "dense", "n": n, "beta": beta, "kernel": "rs1",
        "analysis_s": analysis, "analysis_cpu_s": cpu, "analysis_peak_rss_gib": peak,
        "gap": gap, "n_obs": n_obs, "faer_eigh_s": faer_s,
        "eigh_matrix": format!("even-sector block {0}x{0}", (1usize << n) / 2),
        "threads": rayon::current_num_threads(),
    });
    Ok((v, block))
}

/// Timed repetitions (best of) for an `n × n` eigendecomposition.
pub fn eigh_reps(n: usize) -> usize {
    if n <= 2048 { 3 } else { 1 }
}

/// Matrix-free Poisson solves for the first `n_obs` couplings (all when `None`).
pub fn poisson_case(
    n: usize,
    beta: f64,
    n_obs: Option<usize>,
    route: PoissonRoute,
) -> Result<Value, BenchError> {
    let (m, k) = sk(n, beta)?;
    let ne = m.graph().n_edges();
    let which: Vec<usize> = (0..n_obs.unwrap_or(ne).min(ne)).collect();
    let clock = Clock::start();
    let params = PoissonParams::default();
    let (setup, res) = match route {
        PoissonRoute::Full => {
            let op = ExactKernel::new(&k, &m)?;
            let law = ExactLaw::new(&m)?;
            let table: Vec<Vec<f64>> = law
                .observable_table(&m, ObservableSet::Couplings)
                .into_iter()
                .take(which.len())
                .collect();
            let setup = clock.wall();
            (setup, asymptotic_variances(&op, &law.pi, &table, &params)?)
        }
        PoissonRoute::Sector => {
            let sk = SectorKernel::new(&k, &m, true)?.named("rs1");
            let pi = sector_law(&sk, &m)?;
            let (rows, sectors) = sk.observable_rows_of(&m, ObservableSet::Couplings, &which)?;
            let setup = clock.wall();
            (
                setup,
                sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &params)?,
            )
        }
    };
    let total = clock.wall();
    let taus: Vec<f64> = res.iter().map(|r| r.tau_int).collect();
    Ok(json!({
        "case": "poisson", "route": format!("{route:?}").to_lowercase(), "n": n, "beta": beta,
        "kernel": "rs1", "n_obs": res.len(), "setup_s": setup, "solve_s": total - setup,
        "total_s": total, "cpu_s": clock.cpu(), "peak_rss_gib": clock.peak(),
        "tau_int": if taus.len() <= 8 { json!(taus) } else { json!({
            "min": taus.iter().copied().fold(f64::INFINITY, f64::min),
            "max": taus.iter().copied().fold(0.0, f64::max)}) },
        "iterations_max": res.iter().map(|r| r.iterations).max(),
        "residual_max": res.iter().map(|r| r.residual).fold(0.0, f64::max),
        "threads": rayon::current_num_threads(),
    }))
}

/// The Lanczos top of the spectrum (ten sweep eigenvalues over both parity sectors).
pub fn spectrum_case(n: usize, beta: f64) -> Result<Value, BenchError> {
    let (m, k) = sk(n, beta)?;
    let clock = Clock::start();
    let sk = SectorKernel::new(&k, &m, true)?.named("rs1");
    let pi = sector_law(&sk, &m)?;
    let setup = clock.wall();
    let top = top_of_spectrum(&sk, &pi, &LanczosParams::default())?;
    let total = clock.wall();
    Ok(json!({
        "case": "spectrum", "method": "lanczos, full reorthogonalization, per parity sector",
        "n": n, "beta": beta, "kernel": "rs1", "setup_s": setup, "lanczos_s": total - setup,
        "total_s": total, "cpu_s": clock.cpu(), "peak_rss_gib": clock.peak(),
        "gap": top.gap, "sigma_top": top.sigma,
        "sigma_top_parity": top.parity.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "iterations": top.sectors.iter().map(|s| s.iterations).collect::<Vec<_>>(),
        "ritz_residual_max": top.sectors.iter().map(|s| s.residual_max).fold(0.0, f64::max),
        "threads": rayon::current_num_threads(),
    }))
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

/// A Python interpreter that imports numpy: `explicit`, else `python3`, else the venv
/// `target/spectral-venv`; `Err` says why none was found.
pub fn find_python(explicit: Option<&Path>) -> Result<PathBuf, String> {
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

/// numpy's `eigh` on the same matrix (written to a raw little-endian f64 file under
/// `target/bench-spectral`), best of [`eigh_reps`] after a warm-up, load excluded.
pub fn numpy_eigh(py: &Path, a: faer::MatRef<'_, f64>) -> Result<f64, BenchError> {
    let err = |e: String| BenchError::Numpy(e);
    let n = a.nrows();
    let dir = PathBuf::from("target/bench-spectral");
    std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
    let path = dir.join(format!("a-{n}-{}.f64", std::process::id()));
    let mut bytes = Vec::with_capacity(n * n * 8);
    for i in 0..n {
        for j in 0..n {
            bytes.extend_from_slice(&a[(i, j)].to_le_bytes());
        }
    }
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| err(e.to_string()))?;
    let out = Command::new(py)
        .args(["-c", NUMPY_SCRIPT])
        .arg(&path)
        .arg(n.to_string())
        .arg(eigh_reps(n).to_string())
        .output()
        .map_err(|e| err(format!("running python: {e}")));
    let _ = std::fs::remove_file(&path);
    let out = out?;
    if !out.status.success() {
        return Err(err(format!(
            "eigh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(format!("unexpected output {text:?}")))
}
