//! `cargo xtask bench spectral`: timings of the exact spectral machinery (cases in
//! `thermoq_bench::spectral`; RS1 on a bias-free SK model, seed 1), one JSON line per case.
//!
//! * Dense (default N = 10, 12, 13): the full analysis, and faer's eigh of the even block against
//!   numpy's on the same matrix (skipped with `--no-numpy`).
//! * Matrix-free Poisson (default N = 16, 20, 22; `--n-obs` couplings, `all` for every one) on the
//!   even sector's `2^{N−1}` representatives, or on all `2^N` states with `--route full`.
//! * Spectrum (default N = 15, 20): Lanczos top of the spectrum per parity sector.
//!
//! A size list given without values (`--dense`) skips that family of cases.
//!
//! Python: `--python`, else `python3` if it imports numpy, else the venv `target/spectral-venv`
//! (`python3 -m venv target/spectral-venv && target/spectral-venv/bin/pip install numpy scipy`).

use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use thermoq_bench::spectral::{
    PoissonRoute, dense_case, find_python, numpy_eigh, poisson_case, spectrum_case,
};

/// Where the matrix-free Poisson cases run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RouteArg {
    /// The even parity sector (2^(N−1) states).
    Sector,
    /// All 2^N states.
    Full,
}

/// Options of `bench spectral`.
#[derive(Args, Debug, Clone)]
pub struct SpectralBenchArgs {
    /// Dense sizes N (full analysis and eigh vs numpy).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "10,12,13")]
    pub dense: Vec<usize>,
    /// Matrix-free Poisson sizes N.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "16,20,22")]
    pub matrix_free: Vec<usize>,
    /// Lanczos spectrum sizes N.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "15,20")]
    pub spectrum: Vec<usize>,
    /// Inverse temperature of the SK models.
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// Observables per matrix-free case: a count of leading couplings, or `all`.
    #[arg(long, default_value = "1")]
    pub n_obs: String,
    /// Where the Poisson solves run.
    #[arg(long, value_enum, default_value = "sector")]
    pub route: RouteArg,
    /// Python interpreter with numpy (default: auto-detect, see the module docs).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the eigh comparison with numpy (and faer's separate eigh timing).
    #[arg(long)]
    pub no_numpy: bool,
    /// Smoke run: dense N = 8, 10, matrix-free N = 14, 16, spectrum N = 15.
    #[arg(long)]
    pub quick: bool,
}

/// Runs the spectral benchmark (see the module docs); prints one JSON line per case.
pub fn run_spectral_bench(args: &SpectralBenchArgs) -> Result<()> {
    let (dense, mf, spec) = if args.quick {
        (vec![8, 10], vec![14, 16], vec![15])
    } else {
        (
            args.dense.clone(),
            args.matrix_free.clone(),
            args.spectrum.clone(),
        )
    };
    let n_obs = match args.n_obs.as_str() {
        "all" => None,
        s => Some(s.parse::<usize>().map_err(|_| {
            anyhow::anyhow!("--n-obs: is {s:?}, expected a positive count or `all`")
        })?),
    };
    let route = match args.route {
        RouteArg::Sector => PoissonRoute::Sector,
        RouteArg::Full => PoissonRoute::Full,
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
        let (mut v, block) = dense_case(n, args.beta, python.is_ok())?;
        if let (Ok(py), Some(b)) = (&python, &block) {
            let s = numpy_eigh(py, b.as_ref())?;
            v["numpy_eigh_s"] = s.into();
            v["faer_over_numpy"] = v["faer_eigh_s"].as_f64().map(|f| f / s).into();
        }
        println!("{v}");
    }
    for &n in &mf {
        println!("{}", poisson_case(n, args.beta, n_obs, route)?);
    }
    for &n in &spec {
        println!("{}", spectrum_case(n, args.beta)?);
    }
    Ok(())
}
