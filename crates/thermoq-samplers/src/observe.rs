//! Observers: what is recorded per sweep, without storing trajectories unless asked.
//!
//! An [`Observer`] sees each chain's state after every recorded sweep. Each chain gets its own
//! observer (so chains can run on different threads); [`Observer::merge`] combines them in chain
//! order, which keeps results independent of the thread count.

use thermoq_core::Spin;
use thermoq_models::{EnergyModel, EnergyModelExt, ObservableSet};

/// Receives chain states after recorded sweeps.
pub trait Observer: Send {
    /// Called with the chain's state after recorded sweep number `sweep` (0-based, after burn-in).
    fn observe(&mut self, sweep: usize, x: &[Spin]);
    /// Folds another chain's observer into this one.
    fn merge(&mut self, other: Self)
    where
        Self: Sized;
}

/// Running first and second moments: `⟨x_i⟩`, `⟨x_i x_j⟩` on the model's edges, mean energy.
#[derive(Clone, Debug)]
pub struct MomentObserver<'m, M: EnergyModel + ?Sized> {
    model: &'m M,
    /// Number of states folded in.
    pub count: u64,
    sum_x: Vec<f64>,
    sum_xx: Vec<f64>,
    sum_e: f64,
    sum_e2: f64,
}

/// Moments estimated by a [`MomentObserver`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Moments {
    /// Number of samples.
    pub count: u64,
    /// `⟨x_i⟩` per spin.
    pub m1: Vec<f64>,
    /// `⟨x_i x_j⟩` per edge in edge order.
    pub m2_edges: Vec<f64>,
    /// `⟨E⟩`.
    pub energy_mean: f64,
    /// `Var[E]` over samples.
    pub energy_var: f64,
}

impl<'m, M: EnergyModel + ?Sized> MomentObserver<'m, M> {
    /// An empty accumulator for `model`.
    pub fn new(model: &'m M) -> Self {
        Self {
            model,
            count: 0,
            sum_x: vec![0.0; model.n_spins()],
            sum_xx: vec![0.0; model.graph().n_edges()],
            sum_e: 0.0,
            sum_e2: 0.0,
        }
    }

    /// The moments so far.
    pub fn moments(&self) -> Moments {
        let c = self.count.max(1) as f64;
        let em = self.sum_e / c;
        Moments {
            count: self.count,
            m1: self.sum_x.iter().map(|v| v / c).collect(),
            m2_edges: self.sum_xx.iter().map(|v| v / c).collect(),
            energy_mean: em,
            energy_var: (self.sum_e2 / c - em * em).max(0.0),
        }
    }
}

impl<M: EnergyModel + ?Sized> Observer for MomentObserver<'_, M> {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        self.count += 1;
        for (s, &v) in self.sum_x.iter_mut().zip(x) {
            *s += f64::from(v);
        }
        for (s, (i, j)) in self.sum_xx.iter_mut().zip(self.model.graph().edges()) {
            *s += f64::from(x[i] * x[j]);
        }
        let e = self.model.energy(x);
        self.sum_e += e;
        self.sum_e2 += e * e;
    }
    fn merge(&mut self, o: Self) {
        self.count += o.count;
        self.sum_x
            .iter_mut()
            .zip(&o.sum_x)
            .for_each(|(a, b)| *a += b);
        self.sum_xx
            .iter_mut()
            .zip(&o.sum_xx)
            .for_each(|(a, b)| *a += b);
        self.sum_e += o.sum_e;
        self.sum_e2 += o.sum_e2;
    }
}

/// Stores per-sweep traces of the gradient observables `f_a` (and the energy) of one or more
/// chains: `traces[a]` is the concatenation, chain after chain, of `f_a` per sweep.
#[derive(Clone, Debug)]
pub struct TraceObserver<'m, M: EnergyModel + ?Sized> {
    model: &'m M,
    set: ObservableSet,
    buf: Vec<f64>,
    /// `traces[a][t]`: observable `a` at recorded sweep `t`.
    pub traces: Vec<Vec<f64>>,
    /// Energy per recorded sweep.
    pub energy: Vec<f64>,
    /// Number of sweeps each merged chain contributed, in merge order.
    pub chain_lengths: Vec<usize>,
}

impl<'m, M: EnergyModel + ?Sized> TraceObserver<'m, M> {
    /// An empty recorder of the observables `set`.
    pub fn new(model: &'m M, set: ObservableSet) -> Self {
        let na = model.n_observables(set);
        Self {
            model,
            set,
            buf: vec![0.0; na],
            traces: vec![Vec::new(); na],
            energy: Vec::new(),
            chain_lengths: vec![0],
        }
    }
}

impl<M: EnergyModel + ?Sized> Observer for TraceObserver<'_, M> {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        self.model.observables(x, self.set, &mut self.buf);
        for (t, &v) in self.traces.iter_mut().zip(&self.buf) {
            t.push(v);
        }
        self.energy.push(self.model.energy(x));
        if let Some(l) = self.chain_lengths.last_mut() {
            *l += 1;
        }
    }
    fn merge(&mut self, o: Self) {
        for (t, ot) in self.traces.iter_mut().zip(o.traces) {
            t.extend(ot);
        }
        self.energy.extend(o.energy);
        self.chain_lengths.extend(o.chain_lengths);
    }
}
