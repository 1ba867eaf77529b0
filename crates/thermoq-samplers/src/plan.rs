//! [`Plan`]: one sweep of a kernel as an expression over single-site updates.

/// An expression whose leaves resample spins. `Block` is a set of pairwise non-adjacent spins
/// updated simultaneously (equivalently, in any order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Resample spin `i`.
    Site(u32),
    /// Resample every spin of an independent set at once.
    Block(Vec<u32>),
    /// Apply the parts in order.
    Seq(Vec<Plan>),
    /// Apply one part chosen uniformly at random.
    Mix(Vec<Plan>),
    /// Apply the part `n` times.
    Repeat(Box<Plan>, usize),
}

impl Plan {
    /// Number of single-site updates one application performs (for `Mix`, of one branch; all
    /// branches of the kernels here perform the same number).
    pub fn updates(&self) -> usize {
        match self {
            Plan::Site(_) => 1,
            Plan::Block(b) => b.len(),
            Plan::Seq(p) => p.iter().map(Plan::updates).sum(),
            Plan::Mix(p) => p.first().map_or(0, Plan::updates),
            Plan::Repeat(p, n) => n * p.updates(),
        }
    }

    /// The plan reversed in time (the adjoint order): `Seq` reversed, everything else recursed.
    pub fn reversed(&self) -> Plan {
        match self {
            Plan::Seq(p) => Plan::Seq(p.iter().rev().map(Plan::reversed).collect()),
            Plan::Mix(p) => Plan::Mix(p.iter().map(Plan::reversed).collect()),
            Plan::Repeat(p, n) => Plan::Repeat(Box::new(p.reversed()), *n),
            leaf => leaf.clone(),
        }
    }
}
