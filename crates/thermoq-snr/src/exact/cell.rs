//! [`analyze_cell`]: one exact cell — spectrum summary, exact `Q_op` and every predictor.
//!
//! For a reversible kernel the sweep-kernel spectrum gives the overlaps, the exact asymptotic
//! variances `v_a = Σ_j |f̂_{a,j}|² (1+σ_j)/(1−σ_j)`, `τ_max = max_a v_a / Var_π[f_a]`,
//! `γ_eff = 1 − σ_{j*}` (the one-gap anchor), and `Q_op` by [`super::qop_spectral`]. A
//! non-reversible kernel gets `Q_op` by propagation ([`super::qop_propagated`]) and only the
//! matrix-free predictor. `Sweeps::Auto` means `B = ⌈5/γ_eff⌉` and `K = ⌈50 τ_max⌉`
//! (SCIENCE.md II.6). The spectrum comes from `thermoq_spectral::decompose` (parity sectors for
//! bias-free models); the matrix-free predictor's `v_a` from its Poisson solver.

use super::gradient::ExactGradient;
use super::qop::{QopExact, StartLaw, WindowConfig, overlaps, qop_propagated, qop_spectral};
use crate::SnrError;
use crate::predict::{
    DEFAULT_EPS_CLUSTER, DEFAULT_EPS_OVERLAP, DEFAULT_GROUP_TOL, MatrixFree, Naive, OneGap,
    Prediction, Predictor, PredictorInput, PredictorKind, SpectralView, StructPerp,
    TrackingVerdict,
};
use thermoq_models::{EnergyModel, ObservableSet, exact::ExactLaw};
use thermoq_samplers::{Kernel, exact::ExactKernel};
use thermoq_spectral::{Parity, Spectrum};

/// A number of sweeps, or the SCIENCE.md II.6 default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sweeps {
    /// `B = ⌈5/γ_eff⌉` for the burn-in, `K = ⌈50 τ_max⌉` for the window.
    Auto,
    /// A fixed number of sweeps.
    Fixed(u64),
}

impl Sweeps {
    /// Parses `auto` or a non-negative integer.
    pub fn parse(what: &'static str, s: &str) -> Result<Self, SnrError> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        s.trim()
            .parse::<u64>()
            .map(Self::Fixed)
            .map_err(|_| SnrError::InvalidParam {
                name: what,
                value: s.into(),
                expected: "`auto` or a non-negative integer number of sweeps",
            })
    }
}

/// Options of [`analyze_cell`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CellParams {
    /// Which gradient observables (`data_means` must match).
    pub observables: ObservableSet,
    /// Start law of the chains.
    pub start: StartLaw,
    /// Relevance threshold `ε_overlap`.
    pub eps_overlap: f64,
    /// Cluster tolerance `ε_cluster`.
    pub eps_cluster: f64,
    /// Relative tolerance of degenerate groups.
    pub group_tol: f64,
    /// Run the matrix-free predictor on reversible kernels too (a Poisson solve per observable,
    /// an independent cross-check of the spectral `v_a`; about as costly as the overlaps at
    /// N = 12). Non-reversible kernels always run it.
    pub matrix_free: bool,
}

impl Default for CellParams {
    fn default() -> Self {
        Self {
            observables: ObservableSet::Couplings,
            start: StartLaw::Uniform,
            eps_overlap: DEFAULT_EPS_OVERLAP,
            eps_cluster: DEFAULT_EPS_CLUSTER,
            group_tol: DEFAULT_GROUP_TOL,
            matrix_free: true,
        }
    }
}

impl CellParams {
    /// Default options with the given observable set.
    pub fn with_observables(observables: ObservableSet) -> Self {
        Self {
            observables,
            ..Self::default()
        }
    }
}

/// The slowest non-constant mode `φ_2` as the gradient sees it: with spin-flip symmetry it is
/// odd and every coupling observable is even, so `max_overlap` is zero and a single-gap
/// diagnostic built on `φ_2` says nothing about the gradient (the preprint's first result).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Phi2 {
    /// Parity of `φ_2`.
    #[serde(rename = "phi2_parity")]
    pub parity: Parity,
    /// `max_a |f̂_{a,2}|`, its largest overlap with a (normalised) observable.
    #[serde(rename = "phi2_max_overlap")]
    pub max_overlap: f64,
}

/// The spectral facts of a cell.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectrumSummary {
    /// Number of modes (`2^N`).
    pub n_modes: usize,
    /// `σ_2` (first non-constant sweep eigenvalue).
    pub sigma2: f64,
    /// Spectral gap `γ = 1 − σ_2`.
    pub gap: f64,
    /// The slowest mode `φ_2`: its parity and how much any observable sees it (flattened:
    /// `phi2_parity`, `phi2_max_overlap`).
    #[serde(flatten)]
    pub phi2: Phi2,
    /// One-gap anchor `j*` (slowest relevant mode), if any.
    pub j_star: Option<usize>,
    /// `γ_eff = 1 − σ_{j*}`.
    pub gamma_eff: Option<f64>,
}

/// A prediction and its verdict against the exact `Q_op`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PredictionReport {
    /// The prediction.
    pub prediction: Prediction,
    /// `Q_pred/Q_op` and the tracking verdicts.
    pub verdict: TrackingVerdict,
}

/// Everything [`analyze_cell`] computes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CellReport {
    /// Number of spins.
    pub n_spins: usize,
    /// Number of gradient observables.
    pub n_observables: usize,
    /// Whether the kernel is reversible (spectral route).
    pub reversible: bool,
    /// The window actually used (after resolving `auto`).
    pub config: WindowConfig,
    /// Whether `B` / `K` were chosen automatically.
    pub burn_in_auto: bool,
    /// See `burn_in_auto`.
    pub window_auto: bool,
    /// Spectral summary (reversible kernels).
    pub spectrum: Option<SpectrumSummary>,
    /// `‖g‖²`.
    pub g_norm2: f64,
    /// `τ_max = max_a v_a/Var_π[f_a]` (sweeps), when known.
    pub tau_max: Option<f64>,
    /// Exact `Q_op`.
    pub qop: QopExact,
    /// One report per predictor that could run: naive, one-gap, struct-perp (reversible only),
    /// matrix-free (when asymptotic variances are available).
    pub predictions: Vec<PredictionReport>,
}

impl CellReport {
    /// The report of predictor `kind`, if it ran.
    pub fn prediction(&self, kind: PredictorKind) -> Option<&PredictionReport> {
        self.predictions
            .iter()
            .find(|p| p.prediction.predictor == kind)
    }

    /// The report of predictor `kind`, or [`SnrError::Unsupported`] if it did not run.
    pub fn predicted(&self, kind: PredictorKind) -> Result<&PredictionReport, SnrError> {
        self.prediction(kind).ok_or_else(|| SnrError::Unsupported {
            what: "predictor",
            reason: format!("{kind} did not run on this cell"),
        })
    }
}

/// The sweep-kernel spectrum of a reversible kernel.
pub fn spectrum_of<M, K>(kernel: &K, model: &M) -> Result<Spectrum, SnrError>
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    thermoq_spectral::decompose(kernel, model, &thermoq_spectral::SpectralParams::default())
        .map_err(SnrError::from)
}

/// Exact asymptotic variances `v_a` by the matrix-free Poisson solver of `thermoq-spectral`
/// (any ergodic kernel; no eigendecomposition).
pub fn asymptotic_variances_poisson(
    ek: &ExactKernel,
    pi: &[f64],
    table: &[Vec<f64>],
) -> Result<Vec<f64>, SnrError> {
    match thermoq_spectral::asymptotic_variances(
        ek,
        pi,
        table,
        &thermoq_spectral::PoissonParams::default(),
    ) {
        Ok(r) => Ok(r.into_iter().map(|x| x.asymptotic_variance).collect()),
        // Krylov methods can break down on slowly mixing non-reversible kernels; small models
        // then get the same quantity from a dense solve.
        Err(e) if ek.n() <= DENSE_POISSON_MAX_SPINS => asymptotic_variances_dense(ek, pi, table)
            .map_err(|d| SnrError::Numerical {
                layer: "spectral (Poisson)",
                message: format!("{e}; dense fallback: {d}"),
            }),
        Err(e) => Err(e.into()),
    }
}

/// Largest model for the dense Poisson fallback (a 4096 × 4096 LU).
pub const DENSE_POISSON_MAX_SPINS: usize = 12;

/// Exact asymptotic variances by a dense solve of the Poisson equation for the sweep kernel:
/// `(I − P + 1πᵀ) u = f̄` (the rank-one term pins `E_π u = 0`), `v = 2⟨f̄,u⟩_π − ⟨f̄,f̄⟩_π`.
pub fn asymptotic_variances_dense(
    ek: &ExactKernel,
    pi: &[f64],
    table: &[Vec<f64>],
) -> Result<Vec<f64>, SnrError> {
    use faer::linalg::solvers::Solve;
    let p = thermoq_spectral::operator::dense_sweep_matrix(ek)?;
    let ns = pi.len();
    let a = faer::Mat::<f64>::from_fn(ns, ns, |i, j| {
        f64::from(u8::from(i == j)) - p[(i, j)] + pi[j]
    });
    let lu = a.partial_piv_lu();
    let mut rhs = faer::Mat::<f64>::zeros(ns, table.len());
    for (k, f) in table.iter().enumerate() {
        let mean: f64 = f.iter().zip(pi).map(|(x, w)| x * w).sum();
        for s in 0..ns {
            rhs[(s, k)] = f[s] - mean;
        }
    }
    let u = lu.solve(&rhs);
    let mut out = Vec::with_capacity(table.len());
    for k in 0..table.len() {
        let (mut fu, mut ff) = (0.0, 0.0);
        for s in 0..ns {
            fu += pi[s] * rhs[(s, k)] * u[(s, k)];
            ff += pi[s] * rhs[(s, k)] * rhs[(s, k)];
        }
        let v = 2.0 * fu - ff;
        if !v.is_finite() {
            return Err(SnrError::Numerical {
                layer: "dense Poisson",
                message: format!("observable {k}: non-finite asymptotic variance"),
            });
        }
        out.push(v);
    }
    Ok(out)
}

/// Exact asymptotic variances from a spectrum: `v_a = Σ_{j≥1} |f̂_{a,j}|² (1+σ_j)/(1−σ_j)`.
pub fn asymptotic_variances_spectral(sigma: &[f64], fhat: faer::MatRef<'_, f64>) -> Vec<f64> {
    (0..fhat.nrows())
        .map(|a| {
            (1..sigma.len())
                .map(|j| {
                    let w = fhat[(a, j)].powi(2);
                    if w == 0.0 {
                        0.0
                    } else {
                        w * super::window::asymptotic_weight(sigma[j])
                    }
                })
                .sum()
        })
        .collect()
}

/// Analyzes one cell: exact gradient against `data_means` (`E_data[f_a]`, one per observable of
/// `params.observables`), spectrum summary, exact `Q_op` for burn-in `burn_in`, window `window`
/// and `chains` chains, and every predictor with its tracking verdict.
pub fn analyze_cell<M, K>(
    model: &M,
    kernel: &K,
    data_means: &[f64],
    burn_in: Sweeps,
    window: Sweeps,
    chains: u64,
    params: &CellParams,
) -> Result<CellReport, SnrError>
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    let req = CellRequest {
        spectrum: None,
        data_means,
        burn_in,
        window,
        chains,
        params,
    };
    analyze(model, kernel, &req)
}

/// What [`analyze`] is asked to compute for one model and kernel.
#[derive(Clone, Copy, Debug)]
pub struct CellRequest<'a> {
    /// A spectrum already computed with [`spectrum_of`] for this kernel and model, if any.
    pub spectrum: Option<&'a Spectrum>,
    /// `E_data[f_a]`, one per observable of `params.observables`.
    pub data_means: &'a [f64],
    /// Burn-in `B`.
    pub burn_in: Sweeps,
    /// Window `K`.
    pub window: Sweeps,
    /// Chains `C`.
    pub chains: u64,
    /// Options.
    pub params: &'a CellParams,
}

impl<'a> CellRequest<'a> {
    /// `B` and `K` automatic (SCIENCE.md II.6), one chain, no precomputed spectrum.
    pub fn auto(data_means: &'a [f64], params: &'a CellParams) -> Self {
        Self {
            spectrum: None,
            data_means,
            burn_in: Sweeps::Auto,
            window: Sweeps::Auto,
            chains: 1,
            params,
        }
    }

    /// The same request re-using `spectrum`.
    pub fn with_spectrum(self, spectrum: &'a Spectrum) -> Self {
        Self {
            spectrum: Some(spectrum),
            ..self
        }
    }

    /// The same request with fixed `B` and `K`.
    pub fn fixed(self, burn_in: u64, window: u64) -> Self {
        Self {
            burn_in: Sweeps::Fixed(burn_in),
            window: Sweeps::Fixed(window),
            ..self
        }
    }
}

/// [`analyze_cell`] with its arguments in one [`CellRequest`], optionally re-using a spectrum the
/// caller already computed with [`spectrum_of`] for this kernel and model (the dense
/// eigendecomposition dominates the cost at N ≥ 12).
pub fn analyze<M, K>(model: &M, kernel: &K, req: &CellRequest<'_>) -> Result<CellReport, SnrError>
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    let CellRequest {
        spectrum,
        data_means,
        burn_in,
        window,
        chains,
        params,
    } = *req;
    let law = ExactLaw::new(model)?;
    let table = law.observable_table(model, params.observables);
    let eg = ExactGradient::new(&law.pi, &table, data_means)?;
    let g_norm2 = eg.norm2();
    let na = table.len();
    if kernel.is_reversible() {
        let owned;
        let spec = match spectrum {
            Some(s) => {
                if s.n != model.n_spins() || s.pi.len() != law.pi.len() {
                    return Err(SnrError::Shape {
                        what: "spectrum states",
                        found: s.pi.len(),
                        expected: law.pi.len(),
                    });
                }
                s
            }
            None => {
                owned = spectrum_of(kernel, model)?;
                &owned
            }
        };
        let fhat = overlaps(spec, &table)?;
        let v = asymptotic_variances_spectral(&spec.sigma, fhat.as_ref());
        let tau_max = eg.tau_max(&v);
        let sv = SpectralView {
            sigma: &spec.sigma,
            overlaps: fhat.as_ref(),
            parity: &spec.parity,
        };
        let one_gap = OneGap {
            eps_overlap: params.eps_overlap,
        };
        let j_star = one_gap.anchor(&sv, &eg.var_pi);
        let gamma_eff = j_star.map(|j| 1.0 - spec.sigma[j]);
        let b = match burn_in {
            Sweeps::Fixed(b) => b,
            Sweeps::Auto => {
                let g = gamma_eff.ok_or(SnrError::Unsupported {
                    what: "burn-in auto",
                    reason: "no mode overlaps the observables, so γ_eff is undefined".into(),
                })?;
                auto_sweeps("burn-in auto (5/γ_eff)", 5.0 / g)?
            }
        };
        let k = match window {
            Sweeps::Fixed(k) => k,
            Sweeps::Auto => auto_sweeps("window auto (50 τ_max)", 50.0 * tau_max)?.max(1),
        };
        let cfg = WindowConfig::new(b, k, chains)?;
        let qop = qop_spectral(spec, fhat.as_ref(), &eg.g, &params.start, &cfg)?;
        let v_poisson = if params.matrix_free {
            let ek = ExactKernel::new(kernel, model)?;
            Some(asymptotic_variances_poisson(&ek, &law.pi, &table)?)
        } else {
            None
        };
        let input = PredictorInput::new(
            k as f64,
            g_norm2,
            &eg.var_pi,
            Some(sv),
            v_poisson.as_deref(),
        )?;
        let sp = StructPerp {
            eps_overlap: params.eps_overlap,
            eps_cluster: params.eps_cluster,
            group_tol: params.group_tol,
        };
        let mut preds: Vec<&dyn Predictor> = vec![&Naive, &one_gap, &sp];
        if v_poisson.is_some() {
            preds.push(&MatrixFree);
        }
        let predictions = preds
            .iter()
            .map(|p| {
                let prediction = p.predict(&input)?;
                let verdict = TrackingVerdict::new(prediction.q, qop.q_op);
                Ok(PredictionReport {
                    prediction,
                    verdict,
                })
            })
            .collect::<Result<Vec<_>, SnrError>>()?;
        let max_ov2 = (0..na).map(|a| fhat[(a, 1)].abs()).fold(0.0f64, f64::max);
        Ok(CellReport {
            n_spins: model.n_spins(),
            n_observables: na,
            reversible: true,
            config: cfg,
            burn_in_auto: burn_in == Sweeps::Auto,
            window_auto: window == Sweeps::Auto,
            spectrum: Some(SpectrumSummary {
                n_modes: spec.sigma.len(),
                sigma2: spec.sigma[1],
                gap: 1.0 - spec.sigma[1],
                phi2: Phi2 {
                    parity: spec.parity.get(1).copied().unwrap_or(Parity::None),
                    max_overlap: max_ov2,
                },
                j_star,
                gamma_eff,
            }),
            g_norm2,
            tau_max: Some(tau_max),
            qop,
            predictions,
        })
    } else {
        let (Sweeps::Fixed(b), Sweeps::Fixed(k)) = (burn_in, window) else {
            return Err(SnrError::Unsupported {
                what: "auto burn-in/window",
                reason: "needs the spectral route; give fixed sweeps for a non-reversible kernel"
                    .into(),
            });
        };
        let cfg = WindowConfig::new(b, k, chains)?;
        let ek = ExactKernel::new(kernel, model)?;
        let qop = qop_propagated(&ek, &law.pi, &table, &eg.g, &params.start, &cfg)?;
        let v = asymptotic_variances_poisson(&ek, &law.pi, &table)?;
        let tau_max = eg.tau_max(&v);
        let input = PredictorInput::new(k as f64, g_norm2, &eg.var_pi, None, Some(&v))?;
        let prediction = MatrixFree.predict(&input)?;
        let verdict = TrackingVerdict::new(prediction.q, qop.q_op);
        Ok(CellReport {
            n_spins: model.n_spins(),
            n_observables: na,
            reversible: false,
            config: cfg,
            burn_in_auto: false,
            window_auto: false,
            spectrum: None,
            g_norm2,
            tau_max: Some(tau_max),
            qop,
            predictions: vec![PredictionReport {
                prediction,
                verdict,
            }],
        })
    }
}

fn auto_sweeps(what: &'static str, x: f64) -> Result<u64, SnrError> {
    if !(x.is_finite() && (0.0..1e15).contains(&x)) {
        return Err(SnrError::InvalidParam {
            name: what,
            value: x.to_string(),
            expected: "a finite number of sweeps below 1e15 (is the chain reducible?)",
        });
    }
    Ok(x.ceil() as u64)
}
