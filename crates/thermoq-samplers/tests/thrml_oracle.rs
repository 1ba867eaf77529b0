//! Cross-check against Extropic's thrml: `tests/fixtures/thrml-oracle-fixture.json` (see the
//! README beside it) holds two small models — a 4×4 periodic lattice with biases (16 spins,
//! 32 edges) and a 5×3 RBM — with their exact moments and thrml 0.1.4's sampled ones.
//!
//! thrml's convention `E = −β(Σ b_i s_i + Σ J_ij s_i s_j)`, `P(s_i = +1) = σ(2γ_i)` is ours
//! (SCIENCE.md II.1) with `h = b`, at β = 1 (the fixture carries no β; (a) below confirms β = 1 to
//! 1e-12 through the exact moments).
//!
//! (a) our `ExactLaw` equals the fixture's exact moments to 1e-12;
//! (b) our BLK-SYM and RS1 samples agree with exact within a τ-corrected MC tolerance;
//! (c) thrml's samples agree with exact within their own MC error (64 chains × 1000 samples),
//!     so both samplers sample the same law.
//!
//! τ used for the tolerances:
//! * RBM (8 spins): exact per-moment autocovariances summed from the sweep operator
//!   (`common::variance_facts`), as in `moments.rs`.
//! * Lattice (16 spins, 65 536 states): per-moment sums would take minutes, so we use a rigorous
//!   spectral bound instead. For a reversible sweep `P` (RS1, BLK-SYM) self-adjoint in L²(π),
//!   `|c_t| ≤ λ^t Var_π f` with `λ = ‖P‖` on centred functions, so `v ≤ Var_π f·(1+λ)/(1−λ)`.
//!   For thrml's fixed-order two-colour scan `P = P_A P_B` (each block update an orthogonal
//!   projection in L²(π)): `(P_A P_B)^t = (P_A P_B P_A)^{t−1} P_A P_B` gives
//!   `|c_t| ≤ ρ^{t−1/2} Var_π f` with `ρ = ‖P_A P_B P_A‖`, so `v ≤ Var_π f·(1 + 2√ρ/(1−ρ))`,
//!   whichever colour thrml updated first. `λ` and `ρ` come from power iteration on centred
//!   functions, run until the norm ratio changes by less than 1e-10 per iteration.
//! * thrml's schedule is not in the fixture: we assume one sweep between recorded samples (the
//!   slowest possible, hence the largest — most forgiving — τ) and that its warm-up removed the
//!   start-up bias. Its colouring of the lattice is assumed to be the checkerboard (the only
//!   two-colouring of this bipartite graph up to swapping the colours).
//! * `tol = z·sqrt(v/(C·K)) (+ d_B for our runs, the exact burn-in bias bound of `moments.rs`)`,
//!   `z` two-sided Bonferroni over the moments of each test function at family-wise rate 1e-4.

mod common;

use common::*;
use rand::{RngExt, SeedableRng};
use thermoq_core::{Coloring, Graph};
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::{GibbsKernel, KernelKind, Plan};

const FIXTURE: &str = include_str!("fixtures/thrml-oracle-fixture.json");
const ALPHA: f64 = 1e-4;

struct FixtureModel {
    name: &'static str,
    model: IsingModel,
    /// Exact `⟨x_i⟩` then `⟨x_i x_j⟩` (edge order), as `MomentObserver` reports them.
    exact: Vec<f64>,
    /// thrml's sampled moments, in the same order.
    thrml: Vec<f64>,
    n_chains: usize,
    n_samples: usize,
}

fn floats(v: &serde_json::Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixture field {key} is not an array"))
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn load(name: &'static str) -> FixtureModel {
    let all: serde_json::Value = serde_json::from_str(FIXTURE).expect("fixture parses");
    let v = &all[name];
    let n = v["n"].as_u64().expect("n") as usize;
    // the edge list is used exactly as given: its order is the order of weights and exact_m2
    let edges: Vec<(usize, usize)> = v["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e[0].as_u64().expect("i") as usize,
                e[1].as_u64().expect("j") as usize,
            )
        })
        .collect();
    let g = Graph::new(n, &edges).expect("fixture graph is simple");
    let model =
        IsingModel::new(g, floats(v, "weights"), floats(v, "biases"), 1.0).expect("valid model");
    FixtureModel {
        name,
        model,
        exact: [floats(v, "exact_m1"), floats(v, "exact_m2")].concat(),
        thrml: [floats(v, "thrml_m1"), floats(v, "thrml_m2")].concat(),
        n_chains: v["n_chains"].as_u64().expect("n_chains") as usize,
        n_samples: v["n_samples_per_chain"].as_u64().expect("n_samples") as usize,
    }
}

impl FixtureModel {
    /// The exact law of the model (enumerated).
    fn law(&self) -> ExactLaw {
        ExactLaw::new(&self.model).expect("enumerable")
    }

    /// The two-sided Bonferroni z for the 3 comparisons (ours ×2, thrml) of every moment.
    fn z(&self) -> f64 {
        bonferroni_z(ALPHA, 3 * self.exact.len())
    }

    /// Part (b): our BLK-SYM and RS1 samplers (32 chains, burn-in 200, 4000 sweeps, seeds
    /// `seed0 + k`) against the exact moments, each moment at the standard deviation
    /// `sd(kind, ek, (draws, sweeps))` of its mean over `draws = chains · sweeps` states, with the
    /// exact burn-in bias bound from the stationary law `pi`; `bias_gate` also asserts that bound
    /// is negligible (< 5 % of the smallest σ).
    fn ours_match_exact(
        &self,
        pi: &[f64],
        seed0: u64,
        bias_gate: bool,
        sd: impl Fn(KernelKind, &ExactKernel, (usize, usize)) -> Vec<f64>,
    ) {
        let (m, exact) = (&self.model, &self.exact);
        let (chains, burn_in, sweeps) = (32, 200, 4000);
        for (k, kind) in [KernelKind::BlkSym, KernelKind::Rs1]
            .into_iter()
            .enumerate()
        {
            let kernel = GibbsKernel::new(kind, m.graph(), None).expect("kernel");
            let ek = ExactKernel::new(&kernel, m).expect("enumerable");
            let sd = sd(kind, &ek, (chains * sweeps, sweeps));
            let d_b = l1_after_burn_in(&ek, pi, burn_in);
            if bias_gate {
                let sd_min = sd.iter().copied().fold(f64::INFINITY, f64::min);
                assert!(
                    d_b < 0.05 * sd_min,
                    "{kind}: burn-in bias bound {d_b:.1e} not negligible against σ = {sd_min:.1e}"
                );
            }
            let got = flat(&sample_moments(
                m,
                &kernel,
                chains,
                burn_in,
                sweeps,
                seed0 + k as u64,
            ));
            let label = format!("{}/ours/{kind}", self.name);
            compare(&label, &got, exact, &sd, self.z(), d_b);
        }
    }
}

/// `Var_π` of every moment function (`x_i`, then `x_i x_j` per edge).
fn variances(model: &IsingModel, pi: &[f64]) -> Vec<f64> {
    moment_table(model)
        .iter()
        .map(|f| {
            let m = expect(pi, f);
            f.iter().zip(pi).map(|(v, p)| p * (v - m) * (v - m)).sum()
        })
        .collect()
}

/// `‖T‖` on π-centred functions for a π-self-adjoint plan `T`, by power iteration.
fn centred_norm(ek: &ExactKernel, plan: &Plan, pi: &[f64]) -> f64 {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut g: Vec<f64> = (0..pi.len()).map(|_| r.random::<f64>() - 0.5).collect();
    let centre = |g: &mut Vec<f64>| {
        let m = expect(pi, g);
        g.iter_mut().for_each(|v| *v -= m);
        let nrm = dot_mu(pi, g, g).sqrt();
        g.iter_mut().for_each(|v| *v /= nrm);
    };
    centre(&mut g);
    let mut last = 0.0;
    for it in 0..5000 {
        ek.plan_right(plan, &mut g);
        let m = expect(pi, &g);
        g.iter_mut().for_each(|v| *v -= m);
        let ratio = dot_mu(pi, &g, &g).sqrt();
        centre(&mut g);
        if it > 20 && (ratio - last).abs() < 1e-10 {
            return ratio;
        }
        last = ratio;
    }
    panic!("power iteration for ‖T‖ did not settle");
}

/// Compares `got` with `exact` moment by moment; returns max |Δ|/tol.
fn compare(label: &str, got: &[f64], exact: &[f64], sd: &[f64], z: f64, bias: f64) -> f64 {
    let mut worst = 0.0f64;
    for (a, ((g, e), s)) in got.iter().zip(exact).zip(sd).enumerate() {
        let tol = z * s + bias;
        assert!(
            (g - e).abs() <= tol,
            "{label}: moment {a}: sampled {g:.5} vs exact {e:.5}: |Δ| = {:.2e} > tol {tol:.2e}",
            (g - e).abs()
        );
        worst = worst.max((g - e).abs() / tol);
    }
    eprintln!(
        "{label}: max |Δ|/tol = {worst:.3} over {} moments",
        got.len()
    );
    worst
}

#[test]
fn exact_moments_match_fixture() {
    for name in ["lattice4", "rbm5x3"] {
        let f = load(name);
        let law = f.law();
        let ours: Vec<f64> = law
            .m1()
            .into_iter()
            .chain(law.m2(f.model.graph().edges()))
            .collect();
        let err = ours
            .iter()
            .zip(&f.exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err <= 1e-12, "{name}: max |ours − fixture| = {err:.2e}");
        eprintln!("{name}: exact moments agree to {err:.1e}");
    }
    let lat = load("lattice4");
    assert_eq!(lat.model.n_spins(), 16);
    assert_eq!(lat.model.graph().n_edges(), 32);
    let rbm = load("rbm5x3");
    assert_eq!(rbm.model.n_spins(), 8);
    assert_eq!(rbm.model.graph().n_edges(), 15);
}

#[test]
fn rbm_ours_and_thrml_sample_the_exact_law() {
    let f = load("rbm5x3");
    let m = &f.model;
    let law = f.law();
    let table = moment_table(m);
    let z = f.z();
    // (b) ours
    f.ours_match_exact(&law.pi, 40, false, |_, ek, draws| {
        table
            .iter()
            .map(|t| (variance_facts(ek, &law.pi, t, draws.1).window / draws.0 as f64).sqrt())
            .collect()
    });
    // (c) thrml: fixed-order two-block scan, either order; exact per-moment variance, max of both
    let k = f.n_samples;
    let colors = Coloring::dsatur(m.graph());
    assert_eq!(colors.n_colors(), 2);
    let swapped = Coloring::from_colors(m.graph(), colors.colors().iter().map(|c| 1 - c).collect())
        .expect("proper");
    let mut window = vec![0.0f64; f.exact.len()];
    let mut tau_max = 0.0f64;
    for c in [colors, swapped] {
        let kernel = GibbsKernel::new(KernelKind::BlkAlt, m.graph(), Some(c)).expect("kernel");
        let ek = ExactKernel::new(&kernel, m).expect("enumerable");
        for (a, t) in table.iter().enumerate() {
            let facts = variance_facts(&ek, &law.pi, t, k);
            window[a] = window[a].max(facts.window);
            tau_max = tau_max.max(facts.tau);
        }
    }
    eprintln!("rbm5x3/thrml: exact τ_int (BLK-ALT, either order) ≤ {tau_max:.2} sweeps");
    let sd: Vec<f64> = window
        .iter()
        .map(|w| (w / (f.n_chains * k) as f64).sqrt())
        .collect();
    compare("rbm5x3/thrml", &f.thrml, &f.exact, &sd, z, 0.0);
}

#[test]
fn lattice_ours_and_thrml_sample_the_exact_law() {
    let f = load("lattice4");
    let m = &f.model;
    let law = f.law();
    let var = variances(m, &law.pi);
    let z = f.z();
    // (b) ours
    f.ours_match_exact(&law.pi, 60, true, |kind, ek, draws| {
        let lambda = centred_norm(ek, ek.plan(), &law.pi);
        let tau_bound = (1.0 + lambda) / (1.0 - lambda);
        eprintln!("lattice4/ours/{kind}: λ = {lambda:.6}, τ_int ≤ {tau_bound:.2} sweeps");
        var.iter()
            .map(|v| (v * tau_bound / draws.0 as f64).sqrt())
            .collect()
    });
    // (c) thrml: checkerboard fixed-order scan, ρ = ‖P_A P_B P_A‖
    let colors = Coloring::dsatur(m.graph());
    assert_eq!(
        colors.n_colors(),
        2,
        "the periodic 4×4 lattice is bipartite"
    );
    let kernel =
        GibbsKernel::new(KernelKind::BlkAlt, m.graph(), Some(colors.clone())).expect("kernel");
    let ek = ExactKernel::new(&kernel, m).expect("enumerable");
    let (a, b) = (colors.class(0).to_vec(), colors.class(1).to_vec());
    let aba = Plan::Seq(vec![Plan::Block(a.clone()), Plan::Block(b), Plan::Block(a)]);
    let rho = centred_norm(&ek, &aba, &law.pi);
    let tau_bound = 1.0 + 2.0 * rho.sqrt() / (1.0 - rho);
    eprintln!("lattice4/thrml: ρ = {rho:.6}, τ_int ≤ {tau_bound:.2} sweeps");
    let sd: Vec<f64> = var
        .iter()
        .map(|v| (v * tau_bound / (f.n_chains * f.n_samples) as f64).sqrt())
        .collect();
    compare("lattice4/thrml", &f.thrml, &f.exact, &sd, z, 0.0);
}
