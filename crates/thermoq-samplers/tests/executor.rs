//! The one run loop: every [`ChainSampler`] implementation run through the [`Executor`] keeps
//! the sweep-index contract (observer `c` sees draws `0, 1, 2, …` after burn-in, whatever the
//! thinning), gives bit-identical draws whether the run is one segment or cut into progress
//! steps, and stops when the progress callback says so.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use std::ops::ControlFlow;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};
use thermoq_samplers::fast::conditioned::ConditionedSampler;
use thermoq_samplers::fast::{Engine, FastSampler};
use thermoq_samplers::pt::{FastPt, Ladder, ParallelTempering, SwapScheme};
use thermoq_samplers::{
    BatchSampler, ChainBatch, ChainSampler, Executor, GibbsKernel, KernelKind, Observer,
};

/// Records every (index, state) it is shown.
#[derive(Default)]
struct Rec {
    idx: Vec<usize>,
    states: Vec<Vec<Spin>>,
}

impl Observer for Rec {
    fn observe(&mut self, sweep: usize, x: &[Spin]) {
        self.idx.push(sweep);
        self.states.push(x.to_vec());
    }
    fn merge(&mut self, o: Self) {
        self.idx.extend(o.idx);
        self.states.extend(o.states);
    }
}

const BURN: usize = 3;
const DRAWS: usize = 7;
const THIN: usize = 2;

fn final_states<S: ChainSampler>(s: &S, st: &S::State) -> Vec<Vec<Spin>> {
    let mut out = Vec::new();
    s.for_each_chain_state(st, &mut |c, x| {
        assert_eq!(c, out.len(), "chains visited in order");
        out.push(x.to_vec());
    });
    out
}

/// Runs the contract checks on a fresh sampler from `make` (called three times).
fn check<S: ChainSampler>(name: &str, mut make: impl FnMut() -> (S, S::State)) {
    // One segment.
    let (mut s, mut st) = make();
    let nc = s.n_chains();
    let n = s.n_spins();
    let one = Executor::new(DRAWS)
        .burn_in(BURN)
        .thin(THIN)
        .run_per_chain(&mut s, &mut st, |_| Rec::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(one.draws, DRAWS, "{name}");
    assert!(!one.stopped, "{name}");
    assert_eq!(one.observed.len(), nc, "{name}");
    for (c, o) in one.observed.iter().enumerate() {
        let want: Vec<usize> = (0..DRAWS).collect();
        assert_eq!(o.idx, want, "{name}: chain {c} indices");
        assert!(o.states.iter().all(|x| x.len() == n), "{name}");
    }
    let end_one = final_states(&s, &st);
    assert_eq!(end_one.len(), nc, "{name}");
    // The last draw is the final state (no sweeps after it).
    for (c, o) in one.observed.iter().enumerate() {
        assert_eq!(o.states.last(), Some(&end_one[c]), "{name}: chain {c}");
    }

    // Cut into progress steps of 3 draws: same draws, same indices, same end state.
    let (mut s, mut st) = make();
    let mut calls = Vec::new();
    let cut = Executor::new(DRAWS)
        .burn_in(BURN)
        .thin(THIN)
        .progress(3, |p| {
            calls.push(p.draws_done);
            ControlFlow::Continue(())
        })
        .run_per_chain(&mut s, &mut st, |_| Rec::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(calls, vec![0, 3, 6, 7], "{name}: progress points");
    for (a, b) in one.observed.iter().zip(&cut.observed) {
        assert_eq!(a.idx, b.idx, "{name}");
        assert_eq!(a.states, b.states, "{name}: chunked run differs");
    }
    assert_eq!(final_states(&s, &st), end_one, "{name}");

    // Stopped after the first step: 3 draws, indices 0..3, merged in chain order.
    let (mut s, mut st) = make();
    let stop = Executor::new(DRAWS)
        .burn_in(BURN)
        .thin(THIN)
        .progress(3, |p| {
            if p.draws_done >= 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .run(&mut s, &mut st, |_| Rec::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(stop.stopped, "{name}");
    assert_eq!(stop.draws, 3, "{name}");
    let want: Vec<usize> = (0..nc).flat_map(|_| 0..3).collect();
    assert_eq!(stop.observed.idx, want, "{name}: merged in chain order");
    let firsts: Vec<Vec<Spin>> = one
        .observed
        .iter()
        .flat_map(|o| o.states[..3].to_vec())
        .collect();
    assert_eq!(stop.observed.states, firsts, "{name}");

    // Misuse is an error, not a panic.
    let (mut s, mut st) = make();
    assert!(
        Executor::new(2)
            .thin(0)
            .run(&mut s, &mut st, |_| Rec::default())
            .is_err()
    );
    assert!(
        Executor::new(usize::MAX)
            .thin(2)
            .run(&mut s, &mut st, |_| Rec::default())
            .is_err()
    );
}

fn ising() -> IsingModel {
    builders::random_sparse(10, 0.4, 0.6, 0.3, 1.0, 5)
}

#[test]
fn reference_sampler_keeps_the_contract() {
    let m = ising();
    for kind in [KernelKind::Rs1, KernelKind::BlkSym, KernelKind::BlkRs] {
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        check(&format!("reference {kind}"), || {
            (
                BatchSampler::new(&m, &k, 5, 9),
                ChainBatch::uniform(5, 10, 9),
            )
        });
    }
}

#[test]
fn every_fast_engine_keeps_the_contract() {
    let m = ising();
    let lat = builders::lattice_2d(4, 4, 0.4, 0.1, 1.0).unwrap();
    let rbm = Rbm::random(5, 3, 0.5, 1.0, 4).unwrap();
    for kind in [KernelKind::BlkAlt, KernelKind::BlkSym, KernelKind::BlkRs] {
        for (engine, chains) in [
            (Engine::Sparse, 3),
            (Engine::SparseF32, 3),
            (Engine::Lanes, 20),
        ] {
            check(&format!("{} {kind}", engine.name()), || {
                let s = FastSampler::with_engine(&m, kind, None, chains, 4, engine).unwrap();
                (s, ChainBatch::uniform(chains, 10, 4))
            });
        }
        check(&format!("lattice {kind}"), || {
            let s = FastSampler::with_engine(&lat, kind, None, 3, 4, Engine::Lattice).unwrap();
            (s, ChainBatch::uniform(3, 16, 4))
        });
        check(&format!("dense {kind}"), || {
            let s = FastSampler::with_engine(&rbm, kind, None, 3, 4, Engine::Dense).unwrap();
            (s, ChainBatch::uniform(3, 8, 4))
        });
    }
}

#[test]
fn conditioned_sampler_keeps_the_contract() {
    let m = ising();
    let col = Coloring::dsatur(m.graph());
    for kind in [KernelKind::BlkAlt, KernelKind::BlkSym] {
        for (engine, chains) in [(Engine::SparseF32, 3), (Engine::Lanes, 20)] {
            check(&format!("conditioned {} {kind}", engine.name()), || {
                let mut s =
                    ConditionedSampler::with_engine(&m, &col, kind, chains, 2, engine).unwrap();
                let betas: Vec<f64> = (0..chains).map(|c| 0.5 + 0.05 * c as f64).collect();
                s.set_betas(&betas).unwrap();
                s.set_free_classes(&[1, 0]).unwrap();
                (s, ChainBatch::uniform(chains, 10, 2))
            });
        }
    }
    // The old entry point now counts draws from 0 too.
    let mut s = ConditionedSampler::new(&m, &col, KernelKind::BlkSym, 4, 1).unwrap();
    let mut b = ChainBatch::uniform(4, 10, 1);
    for o in s
        .run_per_chain(&mut b, 5, 4, 3, |_| Rec::default())
        .unwrap()
    {
        assert_eq!(o.idx, vec![0, 1, 2, 3]);
    }
}

#[test]
fn both_pt_drivers_keep_the_contract() {
    let m = builders::random_sparse(6, 0.5, 0.6, 0.3, 1.0, 8);
    let col = Coloring::dsatur(m.graph());
    let ladder = Ladder::geometric(3, 0.3).unwrap();
    for scheme in [SwapScheme::PtSym, SwapScheme::PtDeo] {
        let k = GibbsKernel::new(KernelKind::BlkSym, m.graph(), None).unwrap();
        let pt = ParallelTempering::new(&m, ladder.clone(), k, scheme).unwrap();
        check(&format!("pt {}", scheme.name()), || {
            (pt.chains(3, 6).unwrap(), ())
        });
        check(&format!("fast-pt {}", scheme.name()), || {
            let s =
                FastPt::new(&m, &col, KernelKind::BlkSym, ladder.clone(), scheme, 3, 6).unwrap();
            (s, ())
        });
    }
}

/// `ParallelTempering::run` (now a wrapper) gives the same cold-rung draws and statistics as the
/// driver run through the executor directly.
#[test]
fn pt_run_is_the_executor_run() {
    let m = builders::random_sparse(6, 0.5, 0.6, 0.3, 1.0, 8);
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
    let pt = ParallelTempering::new(&m, Ladder::geometric(3, 0.3).unwrap(), k, SwapScheme::PtDeo)
        .unwrap();
    let run = pt.run(2, 11, 5, 20, |_| Rec::default()).unwrap();
    let mut d = pt.chains(2, 11).unwrap();
    let obs = Executor::new(20)
        .burn_in(5)
        .run_per_chain(&mut d, &mut (), |_| Rec::default())
        .unwrap()
        .observed;
    for (a, b) in run.observers.iter().zip(&obs) {
        assert_eq!(a.states, b.states);
    }
    assert_eq!(run.stats, d.stats);
    assert_eq!(run.pooled(), d.pooled());
}
