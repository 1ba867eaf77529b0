//! `thermoq spectrum`: the exact L²(π) spectral summary of a small model under one kernel —
//! sweep-kernel eigenvalues and gap, parity of φ_2 and its largest overlap, exact means,
//! variances and τ_int per observable (Poisson route), and the reversibility / stationarity
//! certificates.
//!
//! Up to N = 14 the spectrum is dense. Past it (N ≤ 24), for reversible kernels, the top of the
//! spectrum comes from Lanczos per parity sector (bias-free models) or on all states, and the
//! Poisson solves run on the `2^{N−1}` representatives of each sector
//! (`thermoq_spectral::sector`); non-reversible kernels keep `gap: null` there.

use super::snr::Observables;
use crate::output::{Format, print};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel, ObservableSet, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, Kernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::certificate::certify;
use thermoq_spectral::operator::MAX_DENSE_SPINS;
use thermoq_spectral::{
    LanczosParams, Parity, PoissonParams, PoissonResult, SectorKernel, SpectralParams, Spectrum,
    asymptotic_variances, decompose, eigenvalues_general, sector_asymptotic_variances, sector_law,
    top_of_spectrum,
};

/// How the spectrum in a [`SpectrumReport`] was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpectrumMethod {
    /// Dense symmetric eigendecomposition (reversible kernels up to the dense limit).
    Dense,
    /// Dense general eigenvalues, reported as moduli (non-reversible kernels).
    DenseGeneral,
    /// Lanczos per parity sector with full reorthogonalization, past the dense limit.
    Lanczos,
    /// No spectrum (non-reversible kernels past the dense limit).
    None,
}

/// Arguments of `thermoq spectrum`.
#[derive(Debug, Args)]
pub struct SpectrumArgs {
    /// Model file (thermoq-ising-v1, JSON or binary).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Kernel: rs1, ss1, mh1, blk-alt, blk-sym, blk-rs.
    #[arg(long, default_value = "rs1")]
    pub kernel: String,
    /// Observables: couplings or all (couplings then biases).
    #[arg(long, value_enum, default_value = "couplings")]
    pub observables: Observables,
    /// Print JSON (one object) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Memory budget such as `512M` or `4G` (default: the available memory). The command refuses
    /// up front when its estimate (enumeration, tabulated kernel, dense operator) exceeds it;
    /// past the dense limit the sector Poisson solves keep their Lanczos vectors (saving a second
    /// pass) only in what the budget leaves beyond that estimate, at most 4 GiB.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
}

/// The top of the sweep-kernel spectrum in a [`SpectrumReport`] (flattened into it).
#[derive(Debug, Serialize)]
pub struct SpectrumTop {
    /// Reversible: `1 − σ_2` of the sweep kernel; non-reversible: `1 − |λ_2|` (dense only: null
    /// above the dense limit for non-reversible kernels).
    pub gap: Option<f64>,
    /// Ten largest sweep-kernel eigenvalues (reversible, descending) or eigenvalue moduli
    /// (non-reversible, descending).
    pub sigma_top: Vec<f64>,
    /// Parity of each entry of `sigma_top` (`even`, `odd`, `none`; empty for non-reversible
    /// kernels).
    pub sigma_top_parity: Vec<Parity>,
    /// How the spectrum was computed: `dense`, `dense-general` (non-reversible, moduli),
    /// `lanczos` (per parity sector, full reorthogonalization, past the dense limit) or `none`.
    pub spectrum_method: SpectrumMethod,
    /// Parity of φ_2 (`odd`, `even`, `none`).
    pub phi2_parity: Parity,
    /// `max_a |⟨f̄_a, φ_2⟩_π|` (null for non-reversible kernels or above the dense limit).
    pub phi2_max_overlap: Option<f64>,
}

impl Default for SpectrumTop {
    /// No spectrum (non-reversible kernels past the dense limit).
    fn default() -> Self {
        Self {
            gap: None,
            sigma_top: Vec::new(),
            sigma_top_parity: Vec::new(),
            spectrum_method: SpectrumMethod::None,
            phi2_parity: Parity::None,
            phi2_max_overlap: None,
        }
    }
}

/// The Poisson-route facts per observable in a [`SpectrumReport`] (flattened into it), edge
/// order, then biases.
#[derive(Debug, Serialize)]
pub struct ObservableMoments {
    /// `E_π f_a` per observable.
    pub mean: Vec<f64>,
    /// `Var_π f_a` per observable.
    pub variance: Vec<f64>,
    /// Exact `τ_int = v_a / Var_π f_a` in sweeps, per observable (edge order, then biases).
    pub tau_int_sweeps: Vec<f64>,
    /// Largest relative residual of the Poisson solves.
    pub poisson_residual_max: f64,
}

impl ObservableMoments {
    /// The columns of one Poisson result per observable.
    fn from_results(res: &[PoissonResult]) -> Self {
        Self {
            mean: res.iter().map(|r| r.mean).collect(),
            variance: res.iter().map(|r| r.variance).collect(),
            tau_int_sweeps: res.iter().map(|r| r.tau_int).collect(),
            poisson_residual_max: res.iter().map(|r| r.residual).fold(0.0, f64::max),
        }
    }
}

/// What `thermoq spectrum` reports.
#[derive(Debug, Serialize)]
pub struct SpectrumReport {
    /// The model file.
    pub model: String,
    /// Kernel name.
    pub kernel: String,
    /// Whether the kernel is reversible (dense symmetric route) or not (general eigenvalues).
    pub reversible: bool,
    /// Number of spins.
    pub n: usize,
    /// Number of states `2^N`.
    pub n_states: usize,
    /// The top of the sweep-kernel spectrum.
    #[serde(flatten)]
    pub top: SpectrumTop,
    /// The exact moments and `τ_int` per observable (Poisson route).
    #[serde(flatten)]
    pub observables: ObservableMoments,
    /// Detailed-balance residual (of the step for `Repeat` sweeps).
    pub reversibility_residual: f64,
    /// `‖πP − π‖_∞` of the sweep.
    pub stationarity_residual: f64,
}

impl SpectrumArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        print(
            &self.report()?,
            Format::json_or_text(self.json, Format::JsonLine),
            print_text,
        )
    }

    /// Computes the report.
    pub fn report(&self) -> Result<SpectrumReport> {
        let model = IsingModel::load(&self.model)
            .with_context(|| format!("loading model {}", self.model.display()))?;
        let n = model.n_spins();
        let max = thermoq_samplers::exact::MAX_EXACT_SPINS;
        if n > max {
            bail!(
                "model has N = {n} spins; exact spectral analysis enumerates 2^N states and \
                 supports at most N = {max} (dense eigendecomposition at most N = {MAX_DENSE_SPINS})"
            );
        }
        let kind = KernelKind::parse(&self.kernel)?;
        let kernel = GibbsKernel::new(kind, model.graph(), None)?;
        let set: ObservableSet = self.observables.into();
        let dense = n <= MAX_DENSE_SPINS;
        let na = model.n_observables(set);
        let budget = crate::budget::Budget::new(self.max_memory.as_deref())?;
        let estimate = crate::budget::exact_estimate(n, na, dense, rayon::current_num_threads());
        budget.check(
            &format!("the exact spectrum of N = {n} spins with {na} observables"),
            estimate,
            "the model size (--model) or --observables",
        )?;
        // The sector route keeps Lanczos vectors to skip its second pass, in what the budget has
        // left beyond the estimate (an optimisation only: the results are the same bit for bit).
        let mut poisson = PoissonParams::default();
        if let Some(s) = budget.spare(estimate.unwrap_or(u64::MAX)) {
            poisson.store_bytes = poisson
                .store_bytes
                .min(usize::try_from(s).unwrap_or(usize::MAX));
        }
        // N = 14 takes minutes (dense) and N = 24 longer (Poisson): say what is happening.
        let stages = crate::progress::Stages::new("spectrum", n >= 12);
        stages.stage(&format!("enumerating 2^{n} states"));
        let law = ExactLaw::new(&model)?;
        let reversible = Kernel::<IsingModel>::is_reversible(&kernel);
        // The sector route builds its own rows on the 2^{N−1} representatives.
        let table = if dense || !reversible {
            law.observable_table(&model, set)
        } else {
            Vec::new()
        };
        let mut top = SpectrumTop::default();
        let res: Vec<PoissonResult>;
        let mut full_op = None;
        if !dense && reversible {
            let sk = SectorKernel::new(&kernel, &model, model.is_bias_free())?.named(kind.name());
            let pi = sector_law(&sk, &model)?;
            stages.stage(&format!(
                "Lanczos top of the spectrum on {} states per sector",
                sk.n_states()
            ));
            let t = top_of_spectrum(&sk, &pi, &LanczosParams::default())?;
            top = SpectrumTop {
                gap: Some(t.gap),
                sigma_top: t.sigma,
                phi2_parity: t.parity.get(1).copied().unwrap_or(Parity::None),
                sigma_top_parity: t.parity,
                spectrum_method: SpectrumMethod::Lanczos,
                phi2_max_overlap: None,
            };
            stages.stage(&format!("sector Poisson solves for {na} observables"));
            let (rows, sectors) = sk.observable_rows(&model, set)?;
            res = sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &poisson)?;
        } else {
            if dense {
                stages.stage(&format!(
                    "dense eigendecomposition of the {0} × {0} sweep operator",
                    law.n_states()
                ));
            }
            if dense && reversible {
                let sp = decompose(&kernel, &model, &SpectralParams::default())?;
                let ov = sp.try_overlaps(&table)?;
                top = SpectrumTop {
                    gap: Some(sp.gap()),
                    sigma_top: sp.sigma.iter().take(10).copied().collect(),
                    sigma_top_parity: sp.parity.iter().take(10).copied().collect(),
                    spectrum_method: SpectrumMethod::Dense,
                    phi2_parity: sp.phi2_parity(),
                    phi2_max_overlap: Some(Spectrum::phi2_max_overlap(ov.as_ref())),
                };
            } else if dense {
                let ev = eigenvalues_general(&kernel, &model)?;
                top = SpectrumTop {
                    gap: ev.get(1).map(|z| 1.0 - z.norm()),
                    sigma_top: ev.iter().take(10).map(|z| z.norm()).collect(),
                    spectrum_method: SpectrumMethod::DenseGeneral,
                    ..SpectrumTop::default()
                };
            }
            stages.stage(&format!(
                "tabulating the {} kernel on 2^{n} states",
                kind.name()
            ));
            let op = ExactKernel::new(&kernel, &model)?;
            stages.stage(&format!("Poisson solves for {na} observables"));
            res = asymptotic_variances(&op, &law.pi, &table, &PoissonParams::default())?;
            full_op = Some(op);
        }
        drop(table);
        let op = match full_op {
            Some(op) => op,
            None => {
                stages.stage(&format!(
                    "tabulating the {} kernel on 2^{n} states (certificates)",
                    kind.name()
                ));
                ExactKernel::new(&kernel, &model)?
            }
        };
        stages.stage("reversibility and stationarity certificates");
        let cert = certify(&op, &law.pi)?;
        for (a, r) in res.iter().enumerate() {
            for (field, v) in [
                ("mean", r.mean),
                ("variance", r.variance),
                ("tau_int", r.tau_int),
            ] {
                if !v.is_finite() {
                    bail!(
                        "{field}[{a}]: is {v}, not representable as a finite number (the model's \
                         energies overflow f64; rescale J, h and β)"
                    );
                }
            }
        }
        Ok(SpectrumReport {
            model: self.model.display().to_string(),
            kernel: kind.name().to_string(),
            reversible,
            n,
            n_states: op.n_states(),
            top,
            observables: ObservableMoments::from_results(&res),
            reversibility_residual: cert.reversibility,
            stationarity_residual: cert.stationarity,
        })
    }
}

/// The text form of the report.
fn print_text(r: &SpectrumReport) {
    println!(
        "model {} kernel {} N = {} ({} states)",
        r.model, r.kernel, r.n, r.n_states
    );
    if let Some(g) = r.top.gap {
        println!("gap {g:.6e}  phi2 {}", r.top.phi2_parity.name());
    }
    println!("sigma_top {:?}", r.top.sigma_top);
    let o = &r.observables;
    for (a, t) in o.tau_int_sweeps.iter().enumerate() {
        println!(
            "f[{a}] mean {:+.6} var {:.6} tau_int {t:.4}",
            o.mean[a], o.variance[a]
        );
    }
    println!(
        "certificates: reversibility {:.3e} stationarity {:.3e}",
        r.reversibility_residual, r.stationarity_residual
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use thermoq_models::builders;

    /// `m` saved as a model file in a fresh folder (kept alive by the returned guard).
    fn saved(m: &IsingModel) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.json");
        m.to_file().save(&path).expect("save");
        (dir, path)
    }

    fn args(path: PathBuf, kernel: &str) -> SpectrumArgs {
        SpectrumArgs {
            model: path,
            kernel: kernel.into(),
            observables: Observables::Couplings,
            json: true,
            max_memory: None,
        }
    }

    /// A bias-free SK file: φ_2 odd and invisible, τ_int equal to the spectral sum (exact oracle),
    /// certificates pass; SS1 reports moduli and fails detailed balance.
    #[test]
    fn spectrum_report_on_sk() {
        let m = builders::sherrington_kirkpatrick(7, 1.0, 4);
        let (_dir, path) = saved(&m);
        let r = args(path.clone(), "rs1").report().expect("report");
        assert_eq!(r.n_states, 128);
        assert_eq!(r.top.phi2_parity, Parity::Odd);
        assert!(r.top.phi2_max_overlap.expect("dense") <= 1e-12);
        assert_eq!(r.top.sigma_top.len(), 10);
        assert!(r.reversibility_residual <= 1e-12 && r.stationarity_residual <= 1e-12);
        let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).expect("kernel");
        let sp = decompose(&k, &m, &SpectralParams::default()).expect("decompose");
        let law = ExactLaw::new(&m).expect("law");
        let t = law.observable_table(&m, ObservableSet::Couplings);
        let v = sp.asymptotic_variances(sp.overlaps(&t).as_ref());
        for (a, tau) in r.observables.tau_int_sweeps.iter().enumerate() {
            assert!((tau - v[a] / r.observables.variance[a]).abs() <= 1e-8 * tau);
        }
        let s = args(path, "ss1").report().expect("ss1");
        assert!(!s.reversible && s.reversibility_residual > 1e-4);
        assert!(s.top.gap.expect("dense") > 0.0);
    }

    /// Past the dense limit a reversible kernel gets its gap and top of spectrum by Lanczos per
    /// parity sector (the agreement with the dense spectrum at N ≤ 13 is tested in
    /// `thermoq-spectral/tests/sector.rs`); a non-reversible one keeps `gap: null`.
    #[test]
    fn fifteen_spins_get_a_lanczos_spectrum() {
        let (_dir, path) = saved(&builders::sherrington_kirkpatrick(15, 1.0, 2));
        let r = args(path.clone(), "rs1").report().expect("report");
        assert_eq!(r.top.spectrum_method, SpectrumMethod::Lanczos);
        let gap = r.top.gap.expect("numeric gap");
        assert!(gap > 0.0 && gap < 1.0, "gap {gap}");
        assert_eq!(r.top.sigma_top.len(), 10);
        assert_eq!(r.top.sigma_top_parity.len(), 10);
        assert_eq!(r.top.sigma_top[0], 1.0);
        assert_eq!(r.top.sigma_top_parity[0], Parity::Even);
        assert_eq!(r.top.phi2_parity, r.top.sigma_top_parity[1]);
        assert!(r.top.sigma_top.windows(2).all(|w| w[0] >= w[1]));
        assert!((1.0 - r.top.sigma_top[1] - gap).abs() == 0.0);
        assert!(r.observables.poisson_residual_max <= 1e-10);
        assert!(
            r.observables
                .tau_int_sweeps
                .iter()
                .all(|t| t.is_finite() && *t >= 1.0 - 1e-9)
        );
        let s = args(path, "blk-alt").report().expect("blk-alt");
        assert!(
            s.top.gap.is_none()
                && s.top.sigma_top.is_empty()
                && s.top.spectrum_method == SpectrumMethod::None
        );
    }

    #[test]
    fn too_large_names_n_and_limit() {
        let (_dir, path) = saved(&builders::curie_weiss(26, 0.5));
        let e = args(path, "rs1").report().expect_err("too large");
        let msg = format!("{e:#}");
        assert!(msg.contains("N = 26") && msg.contains("24"), "{msg}");
    }
}
