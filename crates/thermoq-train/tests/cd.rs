//! Cross-crate behaviour of the CD/PCD trainer: KL descent against enumeration oracles, fresh
//! weights in every sampler, and bit-identical resume from checkpoints.
#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use thermoq_core::Graph;
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel};
use thermoq_samplers::KernelKind;
use thermoq_train::{
    Adam, CdConfig, CdTrainer, Checkpoint, Dataset, LrSchedule, Optimizer, PositiveData,
    TrainError, exact,
};

const N: usize = 6;

fn pattern_law() -> PatternLaw {
    let spec = PatternSpec::new(2, 0.1, 3).unwrap();
    PatternLaw::new(N, &spec).unwrap()
}

fn zero_model() -> IsingModel {
    let g = Graph::complete(N);
    let m = g.n_edges();
    IsingModel::new(g, vec![0.0; m], vec![0.0; N], 1.0).unwrap()
}

fn adam(steps: u64) -> Optimizer {
    Optimizer::Adam(Adam::new(LrSchedule::cosine(0.05, 0.2, steps).unwrap()).unwrap())
}

fn config(seed: u64) -> CdConfig {
    // the defaults: RS1, 64 persistent chains, burn-in 1, 4 sweeps, full batch, biases
    // trained, 10 steps per epoch
    CdConfig {
        seed,
        ..CdConfig::default()
    }
}

/// Seeds per sampled variant: the bounds below are on the mean over seeds, whose standard error
/// comes from the seeds' scatter.
const SEEDS: u64 = 8;

/// Learning rate at the end of `adam(steps)`: 0.05 · α, α = 0.2.
const LR_END: f64 = 0.05 * 0.2;

/// Solves `C x = b` for a symmetric positive definite `C` (row-major `d × d`) by Cholesky.
fn spd_solve(c: &[f64], b: &[f64]) -> Vec<f64> {
    let d = b.len();
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                let v = c[i * d + i] - s;
                assert!(v > 0.0, "covariance not positive definite");
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = (c[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    let mut y = vec![0.0; d];
    for i in 0..d {
        y[i] = (b[i] - (0..i).map(|k| l[i * d + k] * y[k]).sum::<f64>()) / l[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        x[i] = (y[i] - (i + 1..d).map(|k| l[k * d + i] * x[k]).sum::<f64>()) / l[i * d + i];
    }
    x
}

/// Mean and standard error of the mean.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Exact-gradient Adam and sampled PCD (exact data phase, and a finite dataset) on a 6-spin
/// fully visible Boltzmann machine with a 2-pattern data law, against the enumeration oracles.
///
/// **Exact run.** KL(p‖π_θ) is convex in θ for a fully visible model, with Hessian β² Cov_π[f]
/// (β = 1). Near the optimum the suboptimality is the Newton decrement, KL(θ) − KL* ≈
/// ½ gᵀ Cov_π[f]⁻¹ g (g the exact gradient), computed here by enumeration. The exact run is the
/// reference the sampled runs are measured against, so its own suboptimality must be negligible
/// next to their predicted noise floor: we require ε_exact < Δ_PCD / 10.
///
/// **Sampled runs: the noise floor from the estimator's Monte Carlo error.** Near the optimum the
/// sampled gradient is pure noise of per-step standard deviation σ_a, and Adam's second moment
/// tracks it (v̂_a ≈ σ_a²), so each parameter takes steps η ξ/σ_a (ξ the noise, unit variance per
/// step, smoothed by the first moment) in a quadratic well of curvature H_aa = Var_π[f_a]. The
/// stationary spread of such preconditioned SGD (diagonal Lyapunov equation, small η) is
/// Var θ_a = η σ_a / (2 H_aa), hence an expected excess KL of ½ Σ_a H_aa Var θ_a:
///
/// ```text
/// Δ_noise = (η_end / 4) Σ_a σ_a
/// ```
///
/// with η_end = 0.01 the final learning rate (the parameters relax within ~10 steps, so the end of
/// the cosine is what counts). σ_a is exact: for PCD with exact data moments it is the standard
/// deviation of the 64-chain × 4-sweep stationary window mean of f_a under `RS1`, by
/// `thermoq_snr::exact` (every autocorrelation included, i.e. τ-corrected) at the exact run's
/// parameters; with a minibatch of B = 100 data rows the positive phase adds Var_data[f_a]/B =
/// (1 − E_data[f_a]²)/B. Training on n = 2000 fixed rows also moves the optimum itself: the
/// fitted model's expected excess is ≈ k/(2n) (k = 21 parameters; the asymptotic KL of a
/// maximum-likelihood fit, exact for a well-specified family, and KL* is only 0.027 here).
/// The derivation neglects Adam's memory of early, larger gradients (v̂ too large: less noise)
/// and the correlation of PCD's persistent chains from step to step (more noise), so we allow a
/// factor 2 of model error and require, over 8 seeds,
///
/// ```text
/// mean excess ≤ 2 Δ_pred + 4 SE(mean excess),   Δ_pred = Δ_noise (+ k/(2n) with data)
/// ```
///
/// (SE from the 8 seeds' scatter: if the mean excess were exactly 2 Δ_pred, the one-sided t_7
/// tail at 4 SE is 2.6e-3 per bound; the seeds are fixed, so the outcome is deterministic.)
///
/// (Measured with these seeds: PCD 0.0054 ± 0.0014 against Δ_pred = 0.0039; data
/// 0.0111 ± 0.0020 against 0.0114.) The former bounds (< 0.6·KL₀, within 0.05 nats) were
/// 4–17× looser than these.
#[test]
fn exact_and_sampled_cd_reduce_kl() {
    use thermoq_models::ObservableSet;
    use thermoq_samplers::GibbsKernel;
    use thermoq_snr::exact::{CellParams, Sweeps, analyze_cell};
    let law = pattern_law();
    let p = law.probabilities().unwrap();
    let steps = 300u64;
    let model0 = zero_model();
    let kl0 = exact::kl_divergence(&model0, &p).unwrap();
    let d = exact::data_means(&model0, &p).unwrap();
    // The closed-form data moments of thermoq-data agree with the enumeration.
    let closed = law.observable_means(model0.graph(), true).unwrap();
    for (a, b) in d.iter().zip(&closed) {
        assert!((a - b).abs() < 1e-12);
    }

    let mut em = model0.clone();
    let mut opt = adam(steps);
    for _ in 0..steps {
        exact::exact_step(&mut em, &d, &mut opt).unwrap();
    }
    let kl_exact = exact::kl_divergence(&em, &p).unwrap();

    // Newton decrement of the exact run (Cov_π[f] by enumeration).
    let g = exact::exact_gradient(&em, &d).unwrap();
    let xlaw = ExactLaw::new(&em).unwrap();
    let table = xlaw.observable_table(&em, ObservableSet::All);
    let k = table.len();
    let means: Vec<f64> = table.iter().map(|f| xlaw.expect(f)).collect();
    let mut cov = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..k {
            let fab: Vec<f64> = table[a].iter().zip(&table[b]).map(|(x, y)| x * y).collect();
            cov[a * k + b] = xlaw.expect(&fab) - means[a] * means[b];
        }
    }
    let newton = 0.5
        * g.iter()
            .zip(spd_solve(&cov, &g))
            .map(|(x, y)| x * y)
            .sum::<f64>();

    // σ_a of the PCD negative phase, exact.
    let kernel = GibbsKernel::new(KernelKind::Rs1, em.graph(), None).unwrap();
    let cell = analyze_cell(
        &em,
        &kernel,
        &d,
        Sweeps::Fixed(2000),
        Sweeps::Fixed(4),
        64,
        &CellParams::with_observables(ObservableSet::All),
    )
    .unwrap();
    let sum_sigma: f64 = cell.qop.var_a.iter().map(|v| v.sqrt()).sum();
    let sum_sigma_data: f64 = cell
        .qop
        .var_a
        .iter()
        .zip(&d)
        .map(|(v, m)| (v + (1.0 - m * m) / 100.0).sqrt())
        .sum();
    let pred_pcd = LR_END / 4.0 * sum_sigma;
    let pred_data = LR_END / 4.0 * sum_sigma_data + k as f64 / (2.0 * 2000.0);

    let mut ex_pcd = Vec::new();
    let mut ex_data = Vec::new();
    for s in 0..SEEDS {
        let mut tr = CdTrainer::new(
            model0.clone(),
            (0..N).collect(),
            config(11 + 100 * s),
            adam(steps),
        )
        .unwrap();
        for _ in 0..steps {
            tr.step(PositiveData::Moments(&d)).unwrap();
        }
        ex_pcd.push(exact::kl_divergence(tr.model(), &p).unwrap() - kl_exact);

        let mut rng = thermoq_core::rng::chain_rng(99 + s, 0);
        let rows: Vec<Vec<i8>> = (0..2000).map(|_| law.sample(&mut rng)).collect();
        let ds = Dataset::new(N, &rows).unwrap();
        let mut cfg = config(12 + 100 * s);
        cfg.batch_size = 100;
        let mut tr2 = CdTrainer::new(model0.clone(), (0..N).collect(), cfg, adam(steps)).unwrap();
        for _ in 0..steps {
            tr2.step(PositiveData::Samples(&ds)).unwrap();
        }
        ex_data.push(exact::kl_divergence(tr2.model(), &p).unwrap() - kl_exact);
    }
    let (m_pcd, se_pcd) = mean_se(&ex_pcd);
    let (m_data, se_data) = mean_se(&ex_data);
    eprintln!(
        "KL0 {kl0:.5} exact {kl_exact:.5} (Newton decrement {newton:.2e}); seed 0: pcd(moments) \
         {:.5} pcd(data) {:.5}",
        kl_exact + ex_pcd[0],
        kl_exact + ex_data[0]
    );
    eprintln!(
        "excess over exact, mean of {SEEDS} seeds: pcd(moments) {m_pcd:.5} ± {se_pcd:.5} \
         (predicted {pred_pcd:.5}), pcd(data) {m_data:.5} ± {se_data:.5} (predicted {pred_data:.5})"
    );
    assert!(kl_exact < kl0);
    assert!(
        newton < pred_pcd / 10.0,
        "exact run not converged: Newton decrement {newton:e} vs floor {pred_pcd}"
    );
    for (what, v) in [("pcd", &ex_pcd), ("data", &ex_data)] {
        // KL ≥ KL* ≥ KL(exact run) − Newton decrement: no run beats the optimum.
        assert!(
            v.iter().all(|&e| e > -2.0 * newton - 1e-12),
            "{what}: a sampled run below the optimum {v:?}"
        );
    }
    assert!(
        m_pcd <= 2.0 * pred_pcd + 4.0 * se_pcd,
        "PCD noise floor {m_pcd} ± {se_pcd} vs predicted {pred_pcd}"
    );
    assert!(
        m_data <= 2.0 * pred_data + 4.0 * se_data,
        "PCD(data) noise floor {m_data} ± {se_data} vs predicted {pred_data}"
    );
}

/// The preprint's stale-weights bug: every negative-phase sampler must read the parameters the
/// previous update produced.
#[test]
fn sampler_reads_current_parameters() {
    let law = pattern_law();
    let m0 = zero_model();
    let d = law.observable_means(m0.graph(), true).unwrap();
    let initial = m0.params();
    let mut tr = CdTrainer::new(m0, (0..N).collect(), config(5), adam(10)).unwrap();
    tr.step(PositiveData::Moments(&d)).unwrap();
    assert_eq!(tr.sampler_params(), initial.as_slice());
    for _ in 0..3 {
        let trained = tr.model().params();
        assert_ne!(trained, initial);
        tr.step(PositiveData::Moments(&d)).unwrap();
        assert_eq!(tr.sampler_params(), trained.as_slice());
    }
}

/// Also with CD-k (non-persistent) and hidden units: 4 visible + 2 hidden, bipartite, BLK-SYM,
/// minibatches of B = 64 from n = 1000 rows of a 1-pattern law, 300 Adam steps, 8 seeds.
///
/// **Oracle.** The exact marginal-likelihood gradient (positive phase E_data E[f | v] and
/// negative phase E_π[f], both by enumeration of the 64 states) run for 3000 Adam steps gives
/// KL_ref ≥ KL* (measured ≈ 1e-13: the family holds this law).
///
/// **Bound from the Monte Carlo error** (the same derivation as `exact_and_sampled_cd_reduce_kl`):
/// noise floor (η_end/4) Σ_a σ_a with σ_a² ≤ 2/B for the 14 parameters (each phase averages
/// B chains of a ±1 observable, per-phase variance ≤ 1/B), plus the finite-data term k/(2n) =
/// 14/2000; a factor 2 of model error, and 4 SE of the mean over seeds:
/// mean KL ≤ KL_ref + 2 Δ_pred + 4 SE. CD-k's own bias is not in Δ_pred, so this also checks that
/// it is small here. One seed in eight (the saddle at W ≈ 0 escaped late) ends near 0.08, which
/// the mean and its SE carry (measured: mean 0.0226 ± 0.0086, bound 0.061). The former bound
/// (KL < 0.5·KL₀) was ~45× looser than the recorded 0.0092.
#[test]
fn rbm_like_model_with_hidden_units_learns_visible_marginal() {
    use thermoq_models::ObservableSet;
    // 4 visible (0..4), 2 hidden (4..6), bipartite: hidden are conditionally independent, so the
    // positive phase is the exact conditional mean tanh(βφ_j(v)).
    let nv = 4;
    let edges: Vec<(usize, usize)> = (0..nv).flat_map(|i| (nv..N).map(move |j| (i, j))).collect();
    let g = Graph::new(N, &edges).unwrap();
    // Small asymmetric start: at W = 0 the hidden units get no signal (a saddle).
    let j0: Vec<f64> = (0..edges.len())
        .map(|e| 0.05 * ((e % 3) as f64 - 1.0))
        .collect();
    let model = IsingModel::new(g, j0, vec![0.0; N], 1.0).unwrap();
    let spec = PatternSpec::new(1, 0.1, 4).unwrap();
    let law = PatternLaw::new(nv, &spec).unwrap();
    let pv = law.probabilities().unwrap();
    let vis = (1usize << nv) - 1;
    let marginal = |pi: &[f64]| {
        let mut q = vec![0.0; 1 << nv];
        for (s, w) in pi.iter().enumerate() {
            q[s & vis] += w;
        }
        q
    };
    let marginal_kl = |m: &IsingModel| -> f64 {
        let q = marginal(&ExactLaw::new(m).unwrap().pi);
        pv.iter()
            .zip(&q)
            .filter(|(a, _)| **a > 0.0)
            .map(|(a, b)| a * (a / b).ln())
            .sum()
    };
    // Exact marginal-likelihood gradient E_data E[f|v] − E_π f.
    let exact_grad = |m: &IsingModel| -> Vec<f64> {
        let x = ExactLaw::new(m).unwrap();
        let q = marginal(&x.pi);
        x.observable_table(m, ObservableSet::All)
            .iter()
            .map(|f| {
                let pos: f64 =
                    x.pi.iter()
                        .enumerate()
                        .filter(|(s, _)| q[s & vis] > 0.0)
                        .map(|(s, w)| pv[s & vis] * w / q[s & vis] * f[s])
                        .sum();
                pos - x.expect(f)
            })
            .collect()
    };
    let kl0 = marginal_kl(&model);
    let mut oracle = model.clone();
    let mut o = adam(3000);
    for _ in 0..3000 {
        let gr = exact_grad(&oracle);
        let mut th = oracle.params();
        o.step(&mut th, &gr).unwrap();
        oracle.set_params(&th).unwrap();
    }
    let kl_ref = marginal_kl(&oracle);

    let k = model.n_params() as f64;
    let (b, n_rows) = (64.0f64, 1000.0f64);
    let pred = LR_END / 4.0 * k * (2.0 / b).sqrt() + k / (2.0 * n_rows);
    let mut kls = Vec::new();
    for s in 0..SEEDS {
        let mut rng = thermoq_core::rng::chain_rng(7 + 100 * s, 0);
        let rows: Vec<Vec<i8>> = (0..1000).map(|_| law.sample(&mut rng)).collect();
        let ds = Dataset::new(nv, &rows).unwrap();
        let mut cfg = config(21 + 100 * s);
        cfg.persistent = false; // CD-k, k = burn_in + sweeps
        cfg.batch_size = 64;
        cfg.kernel = KernelKind::BlkSym;
        let mut tr = CdTrainer::new(model.clone(), (0..nv).collect(), cfg, adam(300)).unwrap();
        for _ in 0..300 {
            tr.step(PositiveData::Samples(&ds)).unwrap();
        }
        kls.push(marginal_kl(tr.model()));
    }
    let (m, se) = mean_se(&kls);
    eprintln!(
        "RBM-like marginal KL0 {kl0:.5} -> seed 0 {:.5}; mean of {SEEDS} seeds {m:.5} ± {se:.5} \
         (per seed {kls:.4?}); oracle {kl_ref:.2e}, predicted floor {pred:.5}",
        kls[0]
    );
    assert!(
        kl_ref < 1e-3,
        "the exact oracle did not fit the law: {kl_ref}"
    );
    assert!(
        m <= kl_ref + 2.0 * pred + 4.0 * se,
        "CD-k marginal KL {m} ± {se} vs oracle {kl_ref} + floor {pred}"
    );
}

/// A run interrupted after epoch 2 and resumed from its checkpoint ends bit-identical to an
/// uninterrupted 4-epoch run: parameters, optimizer moments, counters and persistent chains.
#[test]
fn resume_is_bit_identical() {
    let law = pattern_law();
    let m0 = zero_model();
    let mut rng = thermoq_core::rng::chain_rng(1, 0);
    let rows: Vec<Vec<i8>> = (0..300).map(|_| law.sample(&mut rng)).collect();
    let ds = Dataset::new(N, &rows).unwrap();
    let mut cfg = config(77);
    cfg.batch_size = 32;
    cfg.steps_per_epoch = 5;

    let mut full = CdTrainer::new(m0.clone(), (0..N).collect(), cfg.clone(), adam(20)).unwrap();
    full.run_epochs(PositiveData::Samples(&ds), 4, |_| Ok(()))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.json");
    {
        let mut a = CdTrainer::new(m0, (0..N).collect(), cfg, adam(20)).unwrap();
        a.run_epochs(PositiveData::Samples(&ds), 2, |t| {
            Checkpoint::of(t).save(&path)
        })
        .unwrap();
        assert_eq!(a.epochs(), 2);
    }
    assert!(!dir.path().join("ck.json.tmp").exists());
    let mut b = Checkpoint::load(&path).unwrap().resume().unwrap();
    assert_eq!(b.steps(), 10);
    b.run_epochs(PositiveData::Samples(&ds), 2, |_| Ok(()))
        .unwrap();

    let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(full.model().params()), bits(b.model().params()));
    assert_eq!(full.optimizer(), b.optimizer());
    assert_eq!(full.chains(), b.chains());
    assert_eq!((full.steps(), full.epochs()), (b.steps(), b.epochs()));
    assert_eq!(Checkpoint::of(&full), Checkpoint::of(&b));
}

#[test]
fn bad_inputs_are_typed_errors() {
    assert!(matches!(
        Dataset::new(2, &[vec![1, 0]]),
        Err(TrainError::NotSpin {
            row: 0,
            col: 1,
            value: 0
        })
    ));
    assert!(matches!(
        CdTrainer::new(zero_model(), vec![0, 0], config(0), adam(1)),
        Err(TrainError::Invalid { .. })
    ));
    let mut tr = CdTrainer::new(zero_model(), (0..N).collect(), config(0), adam(1)).unwrap();
    let mut d = vec![0.0; zero_model().n_params()];
    d[0] = f64::NAN;
    assert!(matches!(
        tr.step(PositiveData::Moments(&d)),
        Err(TrainError::NotFinite { index: 0, .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, b"{not json").unwrap();
    assert!(matches!(
        Checkpoint::load(&path),
        Err(TrainError::Json { .. })
    ));
    let mut ck = Checkpoint::of(&tr);
    ck.format = "other".into();
    assert!(matches!(ck.resume(), Err(TrainError::Invalid { .. })));
}
