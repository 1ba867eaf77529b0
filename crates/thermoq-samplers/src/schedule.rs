//! [`ColourSchedule`]: the order in which one sweep of a chromatic block kernel visits colour
//! classes — the one place the `BLK-ALT` / `BLK-SYM` / `BLK-RS` orders are written.
//!
//! [`GibbsKernel`](crate::GibbsKernel) turns a schedule into its [`Plan`] with
//! [`ColourSchedule::to_plan`] (so the exact operator of `thermoq-spectral` is built from it), and
//! every fast engine — [`FastSampler`](crate::fast::FastSampler)'s sparse, lattice, dense and
//! lanes engines and the [`ConditionedSampler`](crate::fast::conditioned::ConditionedSampler) —
//! walks the same schedule with [`ColourSchedule::visit`]. A new block kernel is therefore written
//! once, here. [`ColourSchedule::from_plan`] reads a schedule back from a plan (tests check the
//! round trip for every block kernel).
//!
//! Random choices of a sweep (the `BLK-SYM` coin, the `BLK-RS` picks) are drawn from the chain's
//! own stream through [`ScheduleRng`], in a fixed order: `BLK-SYM` draws one 32-bit word first
//! (even: listed order, odd: reversed); `BLK-RS` draws each pick right before its class is updated.

use crate::{KernelKind, Plan, SamplerError};

/// The random source a schedule draws its choices from (a chain's stream).
pub trait ScheduleRng {
    /// A uniform 32-bit word.
    fn next_word(&mut self) -> u32;
    /// A uniform index in `0..n` (`n ≥ 1`).
    fn pick_index(&mut self, n: usize) -> usize;
}

/// Which classes one sweep visits, in which order (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColourSchedule {
    /// `BLK-ALT`: the listed classes in the listed order.
    Fixed(Vec<usize>),
    /// `BLK-SYM`: a fair coin per sweep; the listed order or its reverse.
    Symmetric(Vec<usize>),
    /// `BLK-RS`: `classes` uniform picks among classes `0..classes`.
    RandomScan {
        /// Number of colour classes (and of picks per sweep).
        classes: usize,
    },
}

impl ColourSchedule {
    /// The schedule of block kernel `kind` over all `n_classes` classes in ascending order.
    pub fn new(kind: KernelKind, n_classes: usize) -> Result<Self, SamplerError> {
        let all: Vec<usize> = (0..n_classes).collect();
        Self::with_order(kind, &all)
    }

    /// The schedule of `kind` visiting only `order` (in that order; `BLK-ALT`, `BLK-SYM`), or all
    /// `order.len()` classes at random (`BLK-RS`, where `order` must be `0..k`).
    pub fn with_order(kind: KernelKind, order: &[usize]) -> Result<Self, SamplerError> {
        match kind {
            KernelKind::BlkAlt => Ok(Self::Fixed(order.to_vec())),
            KernelKind::BlkSym => Ok(Self::Symmetric(order.to_vec())),
            KernelKind::BlkRs if order.iter().copied().eq(0..order.len()) => Ok(Self::RandomScan {
                classes: order.len(),
            }),
            KernelKind::BlkRs => Err(SamplerError::invalid(
                "colour classes",
                "blk-rs picks among all classes; expected 0..k in order",
            )),
            _ => Err(SamplerError::invalid(
                "kernel",
                format!("is {kind}; expected a block kernel (blk-alt, blk-sym, blk-rs)"),
            )),
        }
    }

    /// Class updates per sweep.
    pub fn steps(&self) -> usize {
        match self {
            Self::Fixed(o) | Self::Symmetric(o) => o.len(),
            Self::RandomScan { classes } => *classes,
        }
    }

    /// The kernel this schedule runs.
    pub fn kind(&self) -> KernelKind {
        match self {
            Self::Fixed(_) => KernelKind::BlkAlt,
            Self::Symmetric(_) => KernelKind::BlkSym,
            Self::RandomScan { .. } => KernelKind::BlkRs,
        }
    }

    /// One sweep as a [`Plan`], class `c` being `Block(classes[c])`.
    pub fn to_plan(&self, classes: &[Vec<u32>]) -> Plan {
        let block = |c: usize| Plan::Block(classes[c].clone());
        match self {
            Self::Fixed(o) => Plan::Seq(o.iter().map(|&c| block(c)).collect()),
            Self::Symmetric(o) => {
                let fwd = Plan::Seq(o.iter().map(|&c| block(c)).collect());
                let rev = fwd.reversed();
                Plan::Mix(vec![fwd, rev])
            }
            Self::RandomScan { classes: k } => {
                Plan::Repeat(Box::new(Plan::Mix((0..*k).map(block).collect())), *k)
            }
        }
    }

    /// Reads the schedule back from a block kernel's plan (`None` if `plan` is not one of the
    /// three block shapes over `classes`).
    pub fn from_plan(plan: &Plan, classes: &[Vec<u32>]) -> Option<Self> {
        let class_of = |p: &Plan| match p {
            Plan::Block(b) => classes.iter().position(|c| c == b),
            _ => None,
        };
        let seq = |p: &Plan| match p {
            Plan::Seq(parts) => parts.iter().map(class_of).collect::<Option<Vec<usize>>>(),
            _ => None,
        };
        let s = match plan {
            Plan::Seq(_) => Self::Fixed(seq(plan)?),
            Plan::Mix(parts) if parts.len() == 2 => {
                let fwd = seq(&parts[0])?;
                let rev = seq(&parts[1])?;
                fwd.iter().eq(rev.iter().rev()).then_some(())?;
                Self::Symmetric(fwd)
            }
            Plan::Repeat(inner, n) => {
                let Plan::Mix(parts) = &**inner else {
                    return None;
                };
                let all = parts.iter().map(class_of).collect::<Option<Vec<usize>>>()?;
                (all.iter().copied().eq(0..*n) && *n == classes.len()).then_some(())?;
                Self::RandomScan { classes: *n }
            }
            _ => return None,
        };
        (s.to_plan(classes) == *plan).then_some(s)
    }

    /// Runs one sweep's schedule: calls `f(class, rng)` for each class visited, in order, drawing
    /// the sweep's choices from `rng` (see the module docs for the order of draws).
    #[inline]
    pub fn visit<R: ScheduleRng + ?Sized>(&self, rng: &mut R, mut f: impl FnMut(usize, &mut R)) {
        match self {
            Self::Fixed(o) => {
                for &c in o {
                    f(c, rng);
                }
            }
            Self::Symmetric(o) => {
                if rng.next_word() & 1 == 0 {
                    for &c in o {
                        f(c, rng);
                    }
                } else {
                    for &c in o.iter().rev() {
                        f(c, rng);
                    }
                }
            }
            Self::RandomScan { classes } => {
                for _ in 0..*classes {
                    let c = rng.pick_index(*classes);
                    f(c, rng);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GibbsKernel, Kernel};
    use thermoq_core::Coloring;
    use thermoq_models::{EnergyModel, builders};

    #[test]
    fn kernel_plans_are_the_schedules() {
        let m = builders::random_sparse(10, 0.4, 0.6, 0.3, 1.0, 3);
        let col = Coloring::dsatur(m.graph());
        for kind in [KernelKind::BlkAlt, KernelKind::BlkSym, KernelKind::BlkRs] {
            let k = GibbsKernel::new(kind, m.graph(), Some(col.clone())).expect("kernel");
            let plan = <GibbsKernel as Kernel<thermoq_models::IsingModel>>::plan(&k);
            let s = ColourSchedule::from_plan(plan, col.classes()).expect("block plan");
            assert_eq!(
                s,
                ColourSchedule::new(kind, col.n_colors()).expect("block kernel")
            );
            assert_eq!(s.kind(), kind);
            assert_eq!(s.steps(), col.n_colors());
        }
        assert!(ColourSchedule::new(KernelKind::Rs1, 3).is_err());
        assert!(ColourSchedule::with_order(KernelKind::BlkRs, &[1, 0]).is_err());
    }
}
