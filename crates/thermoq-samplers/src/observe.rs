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

/// Running sums of `x_i` per spin and of `x_i x_j` per edge: the one moments accumulator of the
/// workspace (used by [`MomentObserver`] and by the training crates' clamped-phase observers).
///
/// States are added in order and merged in chain order, so the sums (and hence every moment) are
/// the same for the same states in the same order, whatever observer holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct SpinMoments {
    count: u64,
    sum_x: Vec<f64>,
    sum_xx: Vec<f64>,
}

impl SpinMoments {
    /// Empty sums for `n_spins` spins and `n_edges` edges.
    pub fn new(n_spins: usize, n_edges: usize) -> Self {
        Self {
            count: 0,
            sum_x: vec![0.0; n_spins],
            sum_xx: vec![0.0; n_edges],
        }
    }

    /// Adds the state `x`; `edges` yields the `n_edges` edges `(i, j)` in a fixed order.
    pub fn add(&mut self, x: &[Spin], edges: impl IntoIterator<Item = (usize, usize)>) {
        self.count += 1;
        for (s, &v) in self.sum_x.iter_mut().zip(x) {
            *s += f64::from(v);
        }
        for (s, (i, j)) in self.sum_xx.iter_mut().zip(edges) {
            *s += f64::from(x[i] * x[j]);
        }
    }

    /// Folds in another accumulator's sums (the next chain's, in chain order).
    pub fn merge(&mut self, o: &Self) {
        self.count += o.count;
        self.sum_x
            .iter_mut()
            .zip(&o.sum_x)
            .for_each(|(a, b)| *a += b);
        self.sum_xx
            .iter_mut()
            .zip(&o.sum_xx)
            .for_each(|(a, b)| *a += b);
    }

    /// Number of states added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `Σ x_i` per spin.
    pub fn sum_x(&self) -> &[f64] {
        &self.sum_x
    }

    /// `Σ x_i x_j` per edge.
    pub fn sum_xx(&self) -> &[f64] {
        &self.sum_xx
    }

    /// Moments counted: spins, then edges.
    pub fn len(&self) -> usize {
        self.sum_x.len() + self.sum_xx.len()
    }

    /// Whether there are no spins and no edges.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of moment `a`, spins first: `Σ x_a` for `a < n_spins`, else `Σ x_i x_j` of edge
    /// `a − n_spins`.
    pub fn sum(&self, a: usize) -> f64 {
        match a.checked_sub(self.sum_x.len()) {
            None => self.sum_x[a],
            Some(e) => self.sum_xx[e],
        }
    }

    /// `⟨x_i⟩` per spin (zeros before the first state).
    pub fn m1(&self) -> Vec<f64> {
        let c = self.count.max(1) as f64;
        self.sum_x.iter().map(|v| v / c).collect()
    }

    /// `⟨x_i x_j⟩` per edge (zeros before the first state).
    pub fn m2(&self) -> Vec<f64> {
        let c = self.count.max(1) as f64;
        self.sum_xx.iter().map(|v| v / c).collect()
    }

    /// The sample means of the gradient observables `set` in model order: `f_ij = −x_i x_j` per
    /// edge, then (for [`ObservableSet::All`]) `f_i = −x_i` per spin (zeros before the first
    /// state). The sums are whole numbers, so these equal the means of recorded traces to the
    /// last bit.
    pub fn observable_means(&self, set: ObservableSet) -> Vec<f64> {
        let c = self.count.max(1) as f64;
        let biases: &[f64] = match set {
            ObservableSet::Couplings => &[],
            ObservableSet::All => &self.sum_x,
        };
        // `0.0 − s/c`, not `−(s/c)`: an empty sum gives +0, as a summed trace does
        (self.sum_xx.iter().chain(biases))
            .map(|s| 0.0 - s / c)
            .collect()
    }
}

/// Running first and second moments: `⟨x_i⟩`, `⟨x_i x_j⟩` on the model's edges, mean energy and
/// energy variance.
#[derive(Clone, Debug)]
pub struct MomentObserver<'m, M: EnergyModel + ?Sized> {
    model: &'m M,
    sums: SpinMoments,
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
    /// `Var[E]` over samples, or `None` when it is not representable: the energies are so large
    /// that `Σ E²` (or `⟨E⟩²`) overflows `f64` (the variance, a difference of squares, would be
    /// `NaN` or `∞`).
    pub energy_var: Option<f64>,
}

impl<'m, M: EnergyModel + ?Sized> MomentObserver<'m, M> {
    /// An empty accumulator for `model`.
    pub fn new(model: &'m M) -> Self {
        Self {
            model,
            sums: SpinMoments::new(model.n_spins(), model.graph().n_edges()),
            sum_e: 0.0,
            sum_e2: 0.0,
        }
    }

    /// Number of states folded in.
    pub fn count(&self) -> u64 {
        self.sums.count()
    }

    /// The spin moment sums.
    pub fn sums(&self) -> &SpinMoments {
        &self.sums
    }

    /// The moments so far.
    pub fn moments(&self) -> Moments {
        let c = self.sums.count().max(1) as f64;
        let em = self.sum_e / c;
        let var = self.sum_e2 / c - em * em;
        Moments {
            count: self.sums.count(),
            m1: self.sums.m1(),
            m2_edges: self.sums.m2(),
            energy_mean: em,
            // rounding can make a tiny variance negative: clamp that, but never a NaN / ∞
            energy_var: var.is_finite().then(|| var.max(0.0)),
        }
    }
}

impl<M: EnergyModel + ?Sized> Observer for MomentObserver<'_, M> {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        self.sums.add(x, self.model.graph().edges());
        let e = self.model.energy(x);
        self.sum_e += e;
        self.sum_e2 += e * e;
    }
    fn merge(&mut self, o: Self) {
        self.sums.merge(&o.sums);
        self.sum_e += o.sum_e;
        self.sum_e2 += o.sum_e2;
    }
}

/// One [`SpinMoments`] per chain: [`Observer::merge`] keeps the chains apart (in chain order)
/// instead of adding them up, so the chains stay independent replicates whose spread gives a
/// standard error without a τ estimate.
#[derive(Clone, Debug)]
pub struct ChainMoments<'m, M: EnergyModel + ?Sized> {
    model: &'m M,
    chains: Vec<SpinMoments>,
}

impl<'m, M: EnergyModel + ?Sized> ChainMoments<'m, M> {
    /// Empty sums for one chain of `model`.
    pub fn new(model: &'m M) -> Self {
        Self {
            model,
            chains: vec![SpinMoments::new(model.n_spins(), model.graph().n_edges())],
        }
    }

    /// The sums of each chain, in chain order.
    pub fn chains(&self) -> &[SpinMoments] {
        &self.chains
    }
}

impl<M: EnergyModel + ?Sized> Observer for ChainMoments<'_, M> {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        self.chains[0].add(x, self.model.graph().edges());
    }
    fn merge(&mut self, o: Self) {
        self.chains.extend(o.chains);
    }
}

/// Stores per-sweep traces of the gradient observables `f_a` (and the energy) of one or more
/// chains: `traces[a]` is the concatenation, chain after chain, of `f_a` per sweep; and the
/// spin moment sums of the same states ([`SpinMoments`]), from which the observables' means
/// follow ([`SpinMoments::observable_means`]).
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
    /// Spin moment sums of the recorded states.
    pub sums: SpinMoments,
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
            sums: SpinMoments::new(model.n_spins(), model.graph().n_edges()),
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
        self.sums.add(x, self.model.graph().edges());
        if let Some(l) = self.chain_lengths.last_mut() {
            *l += 1;
        }
    }
    fn merge(&mut self, o: Self) {
        self.sums.merge(&o.sums);
        for (t, ot) in self.traces.iter_mut().zip(o.traces) {
            t.extend(ot);
        }
        self.energy.extend(o.energy);
        self.chain_lengths.extend(o.chain_lengths);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;
    use thermoq_core::Graph;
    use thermoq_models::IsingModel;

    fn two_spins(j: f64) -> IsingModel {
        IsingModel::new(
            Graph::new(2, &[(0, 1)]).unwrap(),
            vec![j],
            vec![0.0; 2],
            1.0,
        )
        .unwrap()
    }

    #[test]
    fn moments_by_hand() {
        let m = two_spins(1.0);
        let mut o = MomentObserver::new(&m);
        o.observe(0, &[1, 1]);
        let mut p = MomentObserver::new(&m);
        p.observe(0, &[1, -1]);
        o.merge(p);
        let mm = o.moments();
        assert_eq!(mm.count, 2);
        assert_eq!(mm.m1, vec![1.0, 0.0]);
        assert_eq!(mm.m2_edges, vec![0.0]);
        // energies −J x0 x1 = −1 and +1
        assert_eq!(mm.energy_mean, 0.0);
        assert_eq!(mm.energy_var, Some(1.0));
        assert_eq!(o.sums().sum_x(), &[2.0, 0.0]);
    }

    #[test]
    fn overflowing_energy_variance_is_none_not_zero() {
        // |E| = 1e200: E² overflows f64, so Var[E] is not representable.
        let m = two_spins(1e200);
        let mut o = MomentObserver::new(&m);
        o.observe(0, &[1, 1]);
        o.observe(1, &[1, -1]);
        let mm = o.moments();
        assert_eq!(mm.energy_var, None);
        assert!(mm.energy_mean.is_finite());
        // and a representable one stays a number
        let m = two_spins(1e100);
        let mut o = MomentObserver::new(&m);
        o.observe(0, &[1, 1]);
        o.observe(1, &[1, -1]);
        assert_eq!(o.moments().energy_var, Some(1e200));
    }

    /// The means from the moment sums are the means of the recorded traces, bit for bit, for
    /// both observable sets, over merged chains (with a zero-mean observable giving +0).
    #[test]
    fn observable_means_equal_the_trace_means_to_the_bit() {
        let m = IsingModel::new(
            Graph::new(3, &[(0, 1), (1, 2)]).unwrap(),
            vec![0.5, -0.25],
            vec![0.1, 0.0, -0.2],
            1.0,
        )
        .unwrap();
        let states: [[Spin; 3]; 7] = [
            [1, 1, -1],
            [-1, 1, 1],
            [1, -1, -1],
            [1, 1, 1],
            [-1, -1, 1],
            [1, -1, 1],
            [-1, 1, -1],
        ];
        for set in [ObservableSet::Couplings, ObservableSet::All] {
            let mut a = TraceObserver::new(&m, set);
            let mut b = TraceObserver::new(&m, set);
            for (t, x) in states.iter().enumerate() {
                if t < 3 {
                    a.observe(t, x)
                } else {
                    b.observe(t, x)
                }
            }
            a.merge(b);
            let means = a.sums.observable_means(set);
            assert_eq!(means.len(), a.traces.len());
            for (mean, trace) in means.iter().zip(&a.traces) {
                let want = trace.iter().sum::<f64>() / trace.len() as f64;
                assert_eq!(mean.to_bits(), want.to_bits(), "{mean} vs {want}");
            }
        }
        // an even number of states can give a zero mean: +0, as the summed trace
        let mut o = TraceObserver::new(&m, ObservableSet::All);
        o.observe(0, &[1, 1, 1]);
        o.observe(1, &[-1, -1, -1]);
        assert!(
            o.sums.observable_means(ObservableSet::All)[2..]
                .iter()
                .all(|v| v.to_bits() == 0)
        );
    }
}
