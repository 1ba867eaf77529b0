//! The kernels of SCIENCE.md II.2 and the [`Kernel`] trait.

use crate::{ColourSchedule, Pbit, Plan, SamplerError};
use rand::Rng;
use thermoq_core::{Coloring, Graph, Spin};
use thermoq_models::EnergyModel;

/// Which single-site rule a kernel's leaves apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SiteRule {
    /// Heat bath (Glauber / p-bit): `P(x_i = +1 | x_−i) = σ(2βφ_i)`.
    HeatBath,
    /// Metropolis flip proposal, accepted with `min(1, e^{−βΔE})`, `ΔE = 2 x_i φ_i`.
    Metropolis,
}

/// The named kernels of SCIENCE.md II.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KernelKind {
    /// Random-scan single-site Gibbs (reversible).
    Rs1,
    /// Systematic-scan single-site Gibbs (not reversible; negative control).
    Ss1,
    /// Random-scan single-site Metropolis (reversible).
    Mh1,
    /// Chromatic block Gibbs, fixed colour order (not reversible).
    BlkAlt,
    /// Chromatic block Gibbs, forward or reversed order by a fair coin per sweep (reversible).
    BlkSym,
    /// Chromatic block Gibbs, a uniformly chosen colour per step, k steps per sweep (reversible).
    BlkRs,
}

thermoq_core::enum_names!(KernelKind {
    Rs1 => "rs1",
    Ss1 => "ss1",
    Mh1 => "mh1",
    BlkAlt => "blk-alt",
    BlkSym => "blk-sym",
    BlkRs => "blk-rs",
});

impl KernelKind {
    /// Parses a CLI name (case-insensitive; `_` accepted for `-`).
    pub fn parse(s: &str) -> Result<Self, SamplerError> {
        Self::from_name(&s.to_ascii_lowercase().replace('_', "-"))
            .ok_or(SamplerError::UnknownKernel { name: s.into() })
    }

    /// Whether the kernel is reversible with respect to the model's law (ideal cells).
    pub fn is_reversible(self) -> bool {
        matches!(self, Self::Rs1 | Self::Mh1 | Self::BlkSym | Self::BlkRs)
    }

    /// Whether the kernel updates colour classes (and so needs a colouring).
    pub fn is_block(self) -> bool {
        matches!(self, Self::BlkAlt | Self::BlkSym | Self::BlkRs)
    }

    /// The single-site rule of the kernel.
    pub fn rule(self) -> SiteRule {
        if self == Self::Mh1 {
            SiteRule::Metropolis
        } else {
            SiteRule::HeatBath
        }
    }
}

/// A Markov kernel on ±1 spins: one sweep on a chain, and its exact transition structure.
///
/// Implementors provide the plan and the single-site rule; sweeping and exact rows follow from
/// them, so the two can never disagree.
pub trait Kernel<M: EnergyModel + ?Sized>: Send + Sync {
    /// One sweep of the kernel as a [`Plan`].
    fn plan(&self) -> &Plan;
    /// Whether the kernel is reversible with respect to the model's Boltzmann law.
    fn is_reversible(&self) -> bool;
    /// Probability that updating spin `i` in state `x` (its current value included) sets it to `+1`.
    fn prob_up(&self, model: &M, x: &[Spin], i: usize) -> f64;

    /// Runs one sweep on the chain `x`.
    fn sweep<R: Rng + ?Sized>(&self, model: &M, x: &mut [Spin], rng: &mut R)
    where
        Self: Sized,
    {
        run_plan(self, self.plan(), model, x, rng);
    }

    /// The exact sweep-kernel row `P(s, ·)` over all `2^N` states (models of at most
    /// [`crate::exact::MAX_EXACT_SPINS`] spins; larger ones are an error).
    fn transition_row(&self, model: &M, s: u64) -> Result<Vec<f64>, SamplerError>
    where
        Self: Sized,
    {
        let ek = crate::exact::ExactKernel::new(self, model)?;
        if s as usize >= ek.n_states() {
            return Err(SamplerError::invalid(
                "state",
                format!("{s} is not a state index below 2^{}", ek.n()),
            ));
        }
        let mut mu = vec![0.0; ek.n_states()];
        mu[s as usize] = 1.0;
        ek.apply_left(&mut mu);
        Ok(mu)
    }
}

/// A uniform double in `[0, 1)` with 53 random bits.
#[inline]
pub fn uniform53<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[inline]
fn update_site<K, M, R>(k: &K, model: &M, x: &mut [Spin], i: usize, rng: &mut R)
where
    K: Kernel<M> + ?Sized,
    M: EnergyModel + ?Sized,
    R: Rng + ?Sized,
{
    let p = k.prob_up(model, x, i);
    x[i] = if uniform53(rng) < p { 1 } else { -1 };
}

fn run_plan<K, M, R>(k: &K, plan: &Plan, model: &M, x: &mut [Spin], rng: &mut R)
where
    K: Kernel<M> + ?Sized,
    M: EnergyModel + ?Sized,
    R: Rng + ?Sized,
{
    match plan {
        Plan::Site(i) => update_site(k, model, x, *i as usize, rng),
        Plan::Block(b) => {
            for &i in b {
                update_site(k, model, x, i as usize, rng);
            }
        }
        Plan::Seq(parts) => {
            for p in parts {
                run_plan(k, p, model, x, rng);
            }
        }
        Plan::Mix(parts) => {
            let c = pick(rng, parts.len());
            run_plan(k, &parts[c], model, x, rng);
        }
        Plan::Repeat(p, n) => {
            for _ in 0..*n {
                run_plan(k, p, model, x, rng);
            }
        }
    }
}

/// A uniform index in `0..n` (Lemire's multiply-shift with rejection; unbiased).
#[inline]
pub fn pick<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    pick_with(n, || rng.next_u32())
}

/// [`pick`] on any source of uniform 32-bit words `next_u32` (a chain's ChaCha stream, a byte
/// cursor, a xoshiro buffer): every index pick of the crate, so each consumes the same words.
#[inline]
pub(crate) fn pick_with(n: usize, mut next_u32: impl FnMut() -> u32) -> usize {
    debug_assert!(n > 0 && n <= u32::MAX as usize);
    let n32 = n as u32;
    let threshold = n32.wrapping_neg() % n32;
    loop {
        let m = u64::from(next_u32()) * u64::from(n32);
        if (m as u32) >= threshold {
            return (m >> 32) as usize;
        }
    }
}

/// The reference implementation of every kernel in SCIENCE.md II.2, with optional p-bit
/// non-idealities on heat-bath cells.
#[derive(Clone, Debug)]
pub struct GibbsKernel {
    kind: KernelKind,
    plan: Plan,
    pbit: Pbit,
    coloring: Option<Coloring>,
}

impl GibbsKernel {
    /// Builds kernel `kind` for graph `g`. Block kernels use `coloring` when given (validated
    /// against `g`) and DSATUR otherwise; single-site kernels ignore it.
    pub fn new(
        kind: KernelKind,
        g: &Graph,
        coloring: Option<Coloring>,
    ) -> Result<Self, SamplerError> {
        let n = g.n() as u32;
        let coloring = if kind.is_block() {
            let c = match coloring {
                Some(c) => Coloring::from_colors(g, c.colors().to_vec())?,
                None => Coloring::dsatur(g),
            };
            Some(c)
        } else {
            None
        };
        let sites = || (0..n).map(Plan::Site).collect::<Vec<_>>();
        // `coloring` is `Some` exactly for the block kernels, whose colour order is the one
        // schedule every fast engine walks.
        let plan = match (&coloring, kind) {
            (Some(c), _) => ColourSchedule::new(kind, c.n_colors())?.to_plan(c.classes()),
            (None, KernelKind::Ss1) => Plan::Seq(sites()),
            (None, _) => Plan::Repeat(Box::new(Plan::Mix(sites())), n as usize),
        };
        Ok(Self {
            kind,
            plan,
            pbit: Pbit::ideal(),
            coloring,
        })
    }

    /// Uses a non-ideal p-bit array for heat-bath updates (ignored by `MH1`).
    pub fn with_pbit(mut self, pbit: Pbit, n_spins: usize) -> Result<Self, SamplerError> {
        if let Some(c) = pbit.n_cells()
            && c != n_spins
        {
            return Err(SamplerError::invalid(
                "pbit.gain",
                format!("has {c} cells, expected one per spin ({n_spins})"),
            ));
        }
        self.pbit = pbit;
        Ok(self)
    }

    /// Which kernel this is.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// The colouring of a block kernel.
    pub fn coloring(&self) -> Option<&Coloring> {
        self.coloring.as_ref()
    }

    /// The colour schedule of a block kernel (the order its plan visits colour classes, read
    /// back from the plan; `None` for single-site kernels).
    pub fn colour_schedule(&self) -> Option<ColourSchedule> {
        ColourSchedule::from_plan(&self.plan, self.coloring.as_ref()?.classes())
    }

    /// The p-bit cells.
    pub fn pbit(&self) -> &Pbit {
        &self.pbit
    }

    /// `P(x_i → +1)` from the local field and current value: the rule of the kernel.
    #[inline]
    pub fn prob_up_from_field(&self, i: usize, beta: f64, phi: f64, xi: Spin) -> f64 {
        match self.kind.rule() {
            SiteRule::HeatBath => self.pbit.prob_up(i, beta * phi),
            SiteRule::Metropolis => {
                let a = (-beta * 2.0 * f64::from(xi) * phi).exp().min(1.0);
                if xi > 0 { 1.0 - a } else { a }
            }
        }
    }
}

impl<M: EnergyModel + ?Sized> Kernel<M> for GibbsKernel {
    fn plan(&self) -> &Plan {
        &self.plan
    }
    fn is_reversible(&self) -> bool {
        self.kind.is_reversible() && (self.pbit.is_ideal() || self.kind == KernelKind::Mh1)
    }
    #[inline]
    fn prob_up(&self, model: &M, x: &[Spin], i: usize) -> f64 {
        self.prob_up_from_field(i, model.beta(), model.local_field(x, i), x[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        for k in KernelKind::ALL {
            assert_eq!(KernelKind::parse(k.name()).unwrap(), k);
        }
        assert_eq!(KernelKind::parse("BLK_SYM").unwrap(), KernelKind::BlkSym);
        assert!(matches!(
            KernelKind::parse("gibbs"),
            Err(SamplerError::UnknownKernel { .. })
        ));
    }

    #[test]
    fn pick_is_in_range_and_covers() {
        let mut r = thermoq_core::rng::chain_rng(3, 0);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[pick(&mut r, 7)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800));
    }
}
