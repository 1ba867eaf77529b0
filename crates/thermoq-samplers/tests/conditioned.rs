//! `fast::conditioned::ConditionedSampler` against exact enumeration: three groups of chains in
//! one batch, each with its own law — plain (`β = 1`), a per-chain field at `β = 0.7`, and a
//! clamped colour class at `β = 1.3` — and each group's moments against the enumerated law of
//! that group (the clamped group against the exact conditional law given the clamp). Run on each
//! engine: the scalar `sparse-f32` update, and the lanes engine with ChaCha8 and with xoshiro128+
//! comparison words.
//!
//! Tolerance (as in `fast_paths.rs`): the `C = 64` chains of a group are independent replicates,
//! so `SE = sd(chain means)/√C` includes the autocorrelation; accept `|mean − exact| ≤ 6·SE + 1e-12`.
//! Comparisons: 2 kernels × 3 engines × 3 groups × (10 spins + 22 edges) = 576, of which the
//! 3 clamped spins' `⟨x_i⟩` in each clamped group (18) are exact and cannot fail; the other 558
//! are Student-t at 63 degrees of freedom (`P(|t| > 6) ≈ 1.1e-7` each), so the family-wise
//! false-alarm rate is below 6e-5 (Bonferroni).

mod common;

use common::replicate_check;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel, builders};
use thermoq_samplers::fast::conditioned::ConditionedSampler;
use thermoq_samplers::fast::{Engine, Generator};
use thermoq_samplers::observe::Observer;
use thermoq_samplers::{ChainBatch, KernelKind};

const C: usize = 64;
const Z: f64 = 6.0;

struct Sums {
    edges: Vec<(usize, usize)>,
    count: f64,
    s: Vec<f64>,
}

impl Observer for Sums {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        self.count += 1.0;
        let n = x.len();
        for (s, &xi) in self.s.iter_mut().zip(x) {
            *s += f64::from(xi);
        }
        for (k, &(i, j)) in self.edges.iter().enumerate() {
            self.s[n + k] += f64::from(x[i] * x[j]);
        }
    }
    fn merge(&mut self, _o: Self) {}
}

/// Exact `⟨x_i⟩`, `⟨x_i x_j⟩` of `exp(−β(E(x) − Σ e_i x_i))` over states agreeing with `clamp`.
fn exact(model: &IsingModel, beta: f64, e: &[f64], clamp: &[Option<Spin>]) -> Vec<f64> {
    let n = model.n_spins();
    let edges: Vec<_> = model.graph().edges().collect();
    let mut m = vec![0.0; n + edges.len()];
    let mut z = 0.0;
    let mut x = vec![0i8; n];
    let e_min = (0..1u32 << n)
        .map(|s| {
            (0..n).for_each(|i| x[i] = if s >> i & 1 == 1 { 1 } else { -1 });
            model.energy(&x) - (0..n).map(|i| e[i] * f64::from(x[i])).sum::<f64>()
        })
        .fold(f64::INFINITY, f64::min);
    for s in 0..1u32 << n {
        (0..n).for_each(|i| x[i] = if s >> i & 1 == 1 { 1 } else { -1 });
        if clamp
            .iter()
            .zip(&x)
            .any(|(c, &v)| c.is_some_and(|c| c != v))
        {
            continue;
        }
        let en = model.energy(&x) - (0..n).map(|i| e[i] * f64::from(x[i])).sum::<f64>();
        let w = (-beta * (en - e_min)).exp();
        z += w;
        for i in 0..n {
            m[i] += w * f64::from(x[i]);
        }
        for (k, &(i, j)) in edges.iter().enumerate() {
            m[n + k] += w * f64::from(x[i] * x[j]);
        }
    }
    m.iter().map(|v| v / z).collect()
}

const ENGINES: [(Engine, Generator); 3] = [
    (Engine::SparseF32, Generator::ChaCha8),
    (Engine::Lanes, Generator::ChaCha8),
    (Engine::Lanes, Generator::Xoshiro128Plus),
];

fn sampler(
    model: &IsingModel,
    col: &Coloring,
    kind: KernelKind,
    chains: usize,
    seed: u64,
    (engine, generator): (Engine, Generator),
) -> ConditionedSampler {
    let mut s =
        ConditionedSampler::with_engine(model, col, kind, chains, seed, engine).expect("sampler");
    s.set_generator(generator).expect("generator");
    assert_eq!((s.engine(), s.generator()), (engine, generator));
    s
}

#[test]
fn three_laws_in_one_batch_match_enumeration() {
    for (kind, cfg) in [KernelKind::BlkAlt, KernelKind::BlkSym]
        .into_iter()
        .flat_map(|k| ENGINES.map(|e| (k, e)))
    {
        let what = format!("{kind} {} {}", cfg.0.name(), cfg.1.name());
        let model = builders::random_sparse(10, 0.35, 0.7, 0.3, 1.0, 11);
        let n = model.n_spins();
        let col = Coloring::dsatur(model.graph());
        let chains = 3 * C;
        let mut s = sampler(&model, &col, kind, chains, 5, cfg);
        // Group 0: plain, β = 1. Group 1: field e, β = 0.7. Group 2: class 0 clamped, β = 1.3.
        let e: Vec<f64> = (0..n).map(|i| 0.4 * ((i as f64) * 1.7).sin()).collect();
        let mut fields = vec![0.0; chains * n];
        for c in C..2 * C {
            fields[c * n..(c + 1) * n].copy_from_slice(&e);
        }
        s.set_fields(Some(&fields)).expect("fields");
        let betas: Vec<f64> = (0..chains).map(|c| [1.0, 0.7, 1.3][c / C]).collect();
        s.set_betas(&betas).expect("betas");
        let mut batch = ChainBatch::uniform(chains, n, 21);
        // Clamp class 0 of group 2 to a fixed pattern; the other groups free everywhere. The
        // sampler frees classes for all chains at once, so group 2 runs in its own sampler.
        let clamp: Vec<Option<Spin>> = (0..n)
            .map(|i| (col.color(i) == 0).then_some(if i % 3 == 0 { -1 } else { 1 }))
            .collect();
        let edges: Vec<_> = model.graph().edges().collect();
        let make = |_c: usize| Sums {
            edges: edges.clone(),
            count: 0.0,
            s: vec![0.0; n + edges.len()],
        };
        let free = s
            .run_per_chain(&mut batch, 200, 2000, 2, make)
            .expect("run");
        let mut cl = sampler(&model, &col, kind, C, 6, cfg);
        cl.set_beta(1.3).expect("beta");
        let others: Vec<usize> = (1..col.n_colors()).collect();
        cl.set_free_classes(&others).expect("free");
        let mut cb = ChainBatch::uniform(C, n, 22);
        for c in 0..C {
            for (x, v) in cb.chain_mut(c).iter_mut().zip(&clamp) {
                if let Some(v) = v {
                    *x = *v;
                }
            }
        }
        let clamped = cl.run_per_chain(&mut cb, 200, 2000, 2, make).expect("run");
        let zero = vec![0.0; n];
        let groups: [(&[Sums], Vec<f64>); 3] = [
            (&free[..C], exact(&model, 1.0, &zero, &vec![None; n])),
            (&free[C..2 * C], exact(&model, 0.7, &e, &vec![None; n])),
            (&clamped, exact(&model, 1.3, &zero, &clamp)),
        ];
        for (g, (obs, truth)) in groups.iter().enumerate() {
            let mut worst = 0.0f64;
            for (k, &t) in truth.iter().enumerate() {
                let means: Vec<f64> = obs.iter().map(|o| o.s[k] / o.count).collect();
                let what = format!("{what} group {g} moment {k}");
                worst = worst.max(replicate_check(&means, t, Z, &what));
            }
            eprintln!("{what} group {g}: worst |err|/SE = {worst:.2}");
        }
        // Clamped spins never moved.
        for c in 0..C {
            for (x, v) in cb.chain(c).iter().zip(&clamp) {
                if let Some(v) = v {
                    assert_eq!(x, v);
                }
            }
        }
    }
}

/// The conditioned sampler's scalar update and the fast sampler's `sparse-f32` engine share
/// `fast::sparse::Csr`'s couplings, field order and comparison, so with no per-chain fields, one
/// `β` for every chain and the same seed they must produce the same samples bit for bit. The
/// sparse engine draws a class's comparison words 32 bytes per group of 8 sites, the scalar update
/// 4 bytes per site; on an 8 × 8 and a 16 × 6 lattice with random couplings and biases, every
/// colour class holds a multiple of 8 sites, and under `BLK-ALT` (no schedule coins) the two read
/// each chain's stream in the same order. Runs 12 chains for 200 sweeps from the same start.
#[test]
fn scalar_path_matches_the_sparse_engine_bit_for_bit() {
    use thermoq_samplers::fast::FastSampler;
    for (lx, ly, beta, seed) in [(8, 8, 0.8, 11u64), (16, 6, 1.3, 12)] {
        let base = builders::lattice_2d(lx, ly, 1.0, 0.0, beta).expect("lattice");
        let g = base.graph().clone();
        let mut r = 0x2545_f491_4f6c_dd1du64 ^ seed;
        let mut unit = || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let j: Vec<f64> = (0..g.n_edges()).map(|_| 1.2 * unit()).collect();
        let h: Vec<f64> = (0..g.n()).map(|_| 0.6 * unit()).collect();
        let m = IsingModel::new(g, j, h, beta).expect("model");
        let n = m.n_spins();
        let col = Coloring::from_colors(
            m.graph(),
            (0..n).map(|i| ((i / lx + i % lx) % 2) as u32).collect(),
        )
        .expect("checkerboard");
        assert!(col.classes().iter().all(|c| c.len() % 8 == 0));
        let chains = 12;
        let mut a = ChainBatch::uniform(chains, n, 5);
        let mut b = a.clone();
        let mut cs = ConditionedSampler::with_engine(
            &m,
            &col,
            KernelKind::BlkAlt,
            chains,
            seed,
            Engine::SparseF32,
        )
        .expect("conditioned");
        let mut fs = FastSampler::with_engine(
            &m,
            KernelKind::BlkAlt,
            Some(col.clone()),
            chains,
            seed,
            Engine::SparseF32,
        )
        .expect("sparse-f32");
        assert_eq!(fs.engine(), Engine::SparseF32);
        for step in 0..4 {
            cs.sweep(&mut a, 50).expect("conditioned sweep");
            fs.sweep(&mut b, 50).expect("sparse sweep");
            assert_eq!(
                a.as_slice(),
                b.as_slice(),
                "{lx}×{ly}, after {} sweeps",
                50 * (step + 1)
            );
        }
        // The samples moved (a frozen chain would make the comparison vacuous).
        assert_ne!(a.as_slice(), ChainBatch::uniform(chains, n, 5).as_slice());
    }
}
