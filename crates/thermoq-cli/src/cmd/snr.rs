//! `thermoq snr`: exact `Q_op` of a small model and every predictor beside it.
//!
//! Enumerates the model (all `2^N` states), builds the exact gradient against a data law
//! (`--data patterns:M=3,eps=0.1,seed=S`, SCIENCE.md II.4), computes the exact operational SNR
//! for burn-in `B`, window `K` and `C` chains, and the naive / one-gap / struct-perp /
//! matrix-free predictions with their ratio to `Q_op` (SCIENCE.md II.5). `--burn-in auto` means
//! `⌈5/γ_eff⌉` and `--window auto` means `⌈50 τ_max⌉` (SCIENCE.md II.6).
//!
//! In the JSON output a `null` where a number is expected is `+∞` (the naive predictor divides by
//! an exact symmetry zero on flip-symmetric models). With `--monte-carlo --seeds S`, `monte_carlo`
//! holds the Monte Carlo `Q_op` of S real runs with its 95 % interval.

use crate::output::{Format, print};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel, ObservableSet};
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::exact::{CellParams, CellReport, Sweeps, analyze_cell};

/// Which gradient observables enter `g` and `Q` (`snr`) or are analysed (`spectrum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Observables {
    /// `f_ij = −x_i x_j` on every edge.
    Couplings,
    /// Couplings, then `f_i = −x_i` for every spin.
    All,
}

impl From<Observables> for ObservableSet {
    fn from(o: Observables) -> Self {
        match o {
            Observables::Couplings => ObservableSet::Couplings,
            Observables::All => ObservableSet::All,
        }
    }
}

/// Arguments of `thermoq snr`.
#[derive(Debug, Args)]
pub struct SnrArgs {
    /// Model file (thermoq-ising-v1, JSON or binary); at most 14 spins for the dense spectrum.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Data law: `patterns:M=<patterns>,eps=<flip prob>,seed=<seed>`.
    #[arg(long, default_value = "patterns:M=3,eps=0.1,seed=0")]
    pub data: String,
    /// Burn-in sweeps B, or `auto` (⌈5/γ_eff⌉).
    #[arg(long, default_value = "auto")]
    pub burn_in: String,
    /// Window sweeps K, or `auto` (⌈50 τ_max⌉).
    #[arg(long, default_value = "auto")]
    pub window: String,
    /// Independent chains C averaged into one gradient estimate.
    #[arg(long, default_value_t = 1)]
    pub chains: u64,
    /// Kernel: rs1, ss1, mh1, blk-alt, blk-sym or blk-rs (non-reversible ones need fixed B, K
    /// and get only the matrix-free predictor).
    #[arg(long, default_value = "rs1")]
    pub kernel: String,
    /// Gradient observables.
    #[arg(long, value_enum, default_value = "couplings")]
    pub observables: Observables,
    /// Cluster tolerance ε_cluster of struct-perp.
    #[arg(long, default_value_t = thermoq_snr::predict::DEFAULT_EPS_CLUSTER)]
    pub eps_cluster: f64,
    /// Relevance threshold ε_overlap.
    #[arg(long, default_value_t = thermoq_snr::predict::DEFAULT_EPS_OVERLAP)]
    pub eps_overlap: f64,
    /// Also estimate Q_op by Monte Carlo: `--seeds` independent real runs from a uniform start
    /// with the same B, K and C (the exact value should fall inside the 95 % interval).
    #[arg(long)]
    pub monte_carlo: bool,
    /// Independent seeds of the Monte Carlo estimate.
    #[arg(long, default_value_t = 400)]
    pub seeds: usize,
    /// Master seed of the Monte Carlo estimate.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Memory budget such as `512M` or `4G` (default: the available memory). The command refuses
    /// up front when its estimate (enumeration, dense operator, Monte Carlo sums) exceeds it.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
}

/// The configuration echoed in the output (the window actually used, and whether `B` / `K` were
/// `auto`, are in `report.config`, `report.burn_in_auto` and `report.window_auto`).
#[derive(Debug, Serialize)]
pub struct SnrConfig {
    /// Model file as given.
    pub model: String,
    /// Canonical data spec.
    pub data: String,
    /// Kernel name.
    pub kernel: String,
    /// Observable set.
    pub observables: Observables,
    /// ε_cluster.
    pub eps_cluster: f64,
    /// ε_overlap.
    pub eps_overlap: f64,
}

/// What `thermoq snr` prints: each number once, the exact analysis in `report` (`Q_op` and its
/// parts in `report.qop`, the spectrum summary in `report.spectrum`, every predictor with its
/// verdict against `Q_op` in `report.predictions`).
#[derive(Debug, Serialize)]
pub struct SnrOutput {
    /// The configuration.
    pub config: SnrConfig,
    /// The Monte Carlo `Q_op` with its 95 % interval (with `--monte-carlo`).
    pub monte_carlo: Option<thermoq_snr::mc::McQop>,
    /// The full cell report (per-observable bias and variance, clusters, robustness).
    pub report: CellReport,
}

impl SnrArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        print(
            &self.compute()?,
            Format::json_or_text(self.json, Format::Json),
            print_text,
        )
    }

    /// Computes the output (no printing).
    pub fn compute(&self) -> Result<SnrOutput> {
        let budget = crate::budget::Budget::new(self.max_memory.as_deref())?;
        if self.chains == 0 {
            bail!("--chains must be at least 1");
        }
        if self.monte_carlo {
            if self.seeds < 2 {
                bail!("--seeds: is {}, expected at least 2", self.seeds);
            }
            crate::budget::mul(self.seeds as u64, self.chains, "--seeds × --chains")?;
        }
        let model = IsingModel::load(&self.model)
            .with_context(|| format!("loading model {}", self.model.display()))?;
        let kind = KernelKind::parse(&self.kernel).context("--kernel")?;
        let kernel = GibbsKernel::new(kind, model.graph(), None).context("--kernel")?;
        // Size checks before any enumeration (as `spectrum` does).
        let n = model.n_spins();
        let max_exact = thermoq_samplers::exact::MAX_EXACT_SPINS;
        let max_dense = thermoq_spectral::operator::MAX_DENSE_SPINS;
        let reversible = thermoq_samplers::Kernel::<IsingModel>::is_reversible(&kernel);
        if n > max_exact {
            bail!(
                "model: has N = {n} spins; the exact SNR enumerates 2^N states and supports at \
                 most N = {max_exact}"
            );
        }
        if reversible && n > max_dense {
            bail!(
                "model: has N = {n} spins; the exact SNR of the reversible kernel {} needs its \
                 dense spectrum, at most N = {max_dense} (non-reversible kernels such as ss1 \
                 go up to N = {max_exact})",
                kind.name()
            );
        }
        let set: ObservableSet = self.observables.into();
        let na = model.n_observables(set);
        budget.check(
            &format!("the exact analysis of N = {n} spins with {na} observables"),
            crate::budget::exact_estimate(n, na, reversible, rayon::current_num_threads()),
            "the model size (--model) or --observables",
        )?;
        if self.monte_carlo {
            // Per (seed, chain): one window sum per observable.
            budget.check(
                &format!(
                    "Monte Carlo sums of {} seeds × {} chains",
                    self.seeds, self.chains
                ),
                crate::budget::product(&[self.seeds as u64, self.chains, 8 * na as u64 + 32]),
                "--seeds",
            )?;
        }
        let stages = crate::progress::Stages::new("snr", n >= 12);
        stages.stage(&format!("enumerating 2^{n} states and the data law"));
        let spec = PatternSpec::parse(&self.data).context("--data")?;
        let law = PatternLaw::new(model.n_spins(), &spec).context("--data")?;
        let dm = law
            .observable_means(model.graph(), set == ObservableSet::All)
            .context("data means")?;
        let b = Sweeps::parse("--burn-in", &self.burn_in)?;
        let k = Sweeps::parse("--window", &self.window)?;
        let mut params = CellParams::with_observables(set);
        params.eps_cluster = self.eps_cluster;
        params.eps_overlap = self.eps_overlap;
        stages.stage(if reversible {
            "exact SNR: dense spectrum and Q_op"
        } else {
            "exact SNR: Poisson solves and Q_op"
        });
        let r = analyze_cell(&model, &kernel, &dm, b, k, self.chains, &params)
            .context("exact SNR analysis")?;
        for (field, v) in [
            ("q_op", r.qop.q_op),
            ("g_norm2", r.g_norm2),
            ("mse", r.qop.mse),
            ("bias2", r.qop.bias2),
            ("variance", r.qop.variance),
        ] {
            if !v.is_finite() {
                bail!(
                    "{field}: is {v}, not representable as a finite number (the model's energies \
                     or observables overflow f64; rescale J, h and β)"
                );
            }
        }
        let monte_carlo = if self.monte_carlo {
            crate::budget::check_work(
                crate::budget::product(&[
                    self.seeds as u64,
                    r.config.chains,
                    r.config.burn_in.saturating_add(r.config.window),
                    n as u64,
                ]),
                "--seeds, --chains, --burn-in, --window",
            )?;
            stages.stage(&format!("Monte Carlo Q_op over {} seeds", self.seeds));
            let law_pi =
                thermoq_models::exact::ExactLaw::new(&model).context("enumerating the model")?;
            let table = law_pi.observable_table(&model, set);
            let g: Vec<f64> = table
                .iter()
                .zip(&dm)
                .map(|(f, d)| d - law_pi.expect(f))
                .collect();
            let p = thermoq_snr::mc::McParams::new(
                self.seeds,
                r.config.burn_in as usize,
                r.config.window as usize,
            )
            .chains(r.config.chains as usize)
            .seed(self.seed);
            Some(
                thermoq_snr::mc::monte_carlo_q_op(&model, &kernel, set, &dm, &g, &p)
                    .context("--monte-carlo")?,
            )
        } else {
            None
        };
        Ok(SnrOutput {
            config: SnrConfig {
                model: self.model.display().to_string(),
                data: spec.to_spec_string(),
                kernel: kind.name().into(),
                observables: self.observables,
                eps_cluster: self.eps_cluster,
                eps_overlap: self.eps_overlap,
            },
            monte_carlo,
            report: r,
        })
    }
}

fn print_text(o: &SnrOutput) {
    let (c, r) = (&o.config, &o.report);
    let w = &r.config;
    println!(
        "model {} (N = {}), kernel {}, data {}, B = {}{}, K = {}{}, C = {}",
        c.model,
        r.n_spins,
        c.kernel,
        c.data,
        w.burn_in,
        if r.burn_in_auto { " (auto)" } else { "" },
        w.window,
        if r.window_auto { " (auto)" } else { "" },
        w.chains
    );
    if let Some(s) = &r.spectrum {
        println!(
            "gap {:.4e}, phi2 {} (max overlap {:.1e}), gamma_eff {:.4e}, tau_max {:.3}",
            s.gap,
            s.phi2.parity.name(),
            s.phi2.max_overlap,
            s.gamma_eff.unwrap_or(f64::NAN),
            r.tau_max.unwrap_or(f64::NAN)
        );
    }
    let q = &r.qop;
    println!(
        "Q_op = {:.6e}  (|g|^2 = {:.4e}, bias^2 = {:.3e}, variance = {:.3e})",
        q.q_op, q.g_norm2, q.bias2, q.variance
    );
    println!(
        "{:<12} {:>14} {:>14} {:>12} {:>7} {:>5}",
        "predictor", "Q", "T", "Q/Q_op", "tracks", "|C|"
    );
    for p in &r.predictions {
        let (pr, v) = (&p.prediction, &p.verdict);
        println!(
            "{:<12} {:>14.6e} {:>14.6e} {:>12.4e} {:>7} {:>5}",
            pr.predictor.name(),
            pr.q,
            pr.t,
            v.ratio,
            v.within_2,
            pr.cluster_size
        );
    }
    if let Some(m) = &o.monte_carlo {
        println!(
            "monte carlo  Q_op = {:.6e}  95% [{:.6e}, {:.6e}] from {} seeds (exact {:.6e})",
            m.q_op, m.q_lo, m.q_hi, m.seeds, q.q_op
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(model: PathBuf, data: &str) -> SnrArgs {
        SnrArgs {
            model,
            data: data.into(),
            burn_in: "auto".into(),
            window: "auto".into(),
            chains: 1,
            kernel: "rs1".into(),
            observables: Observables::Couplings,
            eps_cluster: 0.05,
            eps_overlap: 1e-10,
            monte_carlo: true,
            seeds: 50,
            seed: 1,
            json: true,
            max_memory: None,
        }
    }

    #[test]
    fn snr_on_a_small_model_reports_every_predictor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cw.json");
        thermoq_models::builders::curie_weiss(6, 1.0)
            .to_file()
            .save(&path)
            .expect("save");
        let out = args(path.clone(), "patterns:M=3,eps=0.1,seed=2")
            .compute()
            .expect("snr");
        let q_op = out.report.qop.q_op;
        assert!(q_op.is_finite() && q_op > 0.0);
        for k in thermoq_snr::predict::PredictorKind::ALL {
            assert!(out.report.prediction(k).is_some(), "missing {k}");
        }
        let spectrum = out.report.spectrum.as_ref().expect("reversible");
        assert_eq!(spectrum.phi2.parity, thermoq_spectral::Parity::Odd);
        // The Monte Carlo estimate (50 seeds, z = 1.96) lands near the exact value: with 50
        // i.i.d. squared errors its relative standard error is ~20 %, so a factor 2 is ≥ 3 SE.
        let mc = out.monte_carlo.as_ref().expect("monte carlo ran");
        assert!(
            mc.q_op / q_op < 2.0 && q_op / mc.q_op < 2.0,
            "mc {} vs exact {}",
            mc.q_op,
            q_op
        );
        let json = serde_json::to_value(&out).expect("json");
        assert!(json["report"]["burn_in_auto"].as_bool().unwrap_or(false));
        let e = args(path, "patterns:M=3,bogus=1")
            .compute()
            .expect_err("bad key");
        assert!(format!("{e:#}").contains("bogus"), "{e:#}");
    }
}
