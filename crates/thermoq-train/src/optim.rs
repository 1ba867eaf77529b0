//! Optimizers over a flat parameter vector and learning-rate schedules.
//!
//! Both optimizers *descend*: given the gradient `g` of the loss (for Boltzmann learning,
//! `g_a = E_data[f_a] − E_π[f_a]`, SCIENCE.md II.4), they move `θ` against it.
//!
//! * [`Sgd`]: `θ ← θ − η_t g`.
//! * [`Adam`] (Kingma & Ba; the optax form used by dtm-replication): with `t` counting steps from 1,
//!   `m ← b1 m + (1−b1) g`, `v ← b2 v + (1−b2) g²`, `m̂ = m/(1−b1^t)`, `v̂ = v/(1−b2^t)`,
//!   `θ ← θ − η m̂ / (√v̂ + ε)`; defaults `b1 = 0.9`, `b2 = 0.999`, `ε = 1e-8`.
//! * [`LrSchedule::Cosine`] (optax `cosine_decay_schedule`): `η_k = lr·[(1−α)·½(1 + cos(π·min(k,N)/N)) + α]`
//!   for the `k`-th step (`k = 0, 1, …`), so it decays from `lr` to `α·lr` over `N` steps and stays
//!   there; `α = 0.2` is the DTM paper default.
//!
//! All state is plain data (`serde`), so an optimizer can be checkpointed and resumed exactly.

use crate::TrainError;
use crate::error::{check_finite, check_len};
use serde::{Deserialize, Serialize};

/// Default final-fraction `α` of the cosine schedule (DTM paper, SCIENCE.md §3.2).
pub const DEFAULT_COSINE_ALPHA: f64 = 0.2;

/// A learning rate as a function of the step index `k = 0, 1, …`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LrSchedule {
    /// `η_k = lr`.
    Constant {
        /// The learning rate.
        lr: f64,
    },
    /// `η_k = lr·[(1−α)·½(1 + cos(π·min(k,N)/N)) + α]`.
    Cosine {
        /// Initial learning rate.
        lr: f64,
        /// Final fraction `α` (the rate ends at `α·lr`).
        alpha: f64,
        /// Decay length `N` in steps.
        steps: u64,
    },
}

impl LrSchedule {
    /// A constant rate, validated (`lr` finite and `> 0`).
    pub fn constant(lr: f64) -> Result<Self, TrainError> {
        let s = Self::Constant { lr };
        s.check()?;
        Ok(s)
    }

    /// Cosine decay from `lr` to `alpha·lr` over `steps` steps, validated.
    pub fn cosine(lr: f64, alpha: f64, steps: u64) -> Result<Self, TrainError> {
        let s = Self::Cosine { lr, alpha, steps };
        s.check()?;
        Ok(s)
    }

    /// Checks the numbers: `lr` finite `> 0`, `α ∈ [0, 1]`, `N ≥ 1`.
    pub fn check(&self) -> Result<(), TrainError> {
        let lr = match *self {
            Self::Constant { lr } => lr,
            Self::Cosine { lr, alpha, steps } => {
                if !(alpha.is_finite() && (0.0..=1.0).contains(&alpha)) {
                    return Err(TrainError::Invalid {
                        field: "alpha".into(),
                        message: format!("is {alpha}, expected a number in [0, 1]"),
                    });
                }
                if steps == 0 {
                    return Err(TrainError::Invalid {
                        field: "steps".into(),
                        message: "is 0, expected at least 1".into(),
                    });
                }
                lr
            }
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TrainError::Invalid {
                field: "lr".into(),
                message: format!("is {lr}, expected a finite number > 0"),
            });
        }
        Ok(())
    }

    /// The learning rate of step `k` (0-based).
    pub fn at(&self, k: u64) -> f64 {
        match *self {
            Self::Constant { lr } => lr,
            Self::Cosine { lr, alpha, steps } => {
                let u = k.min(steps) as f64 / steps as f64;
                let c = 0.5 * (1.0 + (std::f64::consts::PI * u).cos());
                lr * ((1.0 - alpha) * c + alpha)
            }
        }
    }
}

/// Plain gradient descent `θ ← θ − η_k g`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Steps taken so far.
    pub t: u64,
}

impl Sgd {
    /// SGD with the given schedule.
    pub fn new(schedule: LrSchedule) -> Result<Self, TrainError> {
        schedule.check()?;
        Ok(Self { schedule, t: 0 })
    }
}

/// Adam's decays and denominator guard, validated on construction (`b1, b2 ∈ [0, 1)`,
/// `ε ≥ 0`, all finite).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamParams {
    /// First-moment decay `b1`.
    pub b1: f64,
    /// Second-moment decay `b2`.
    pub b2: f64,
    /// Denominator guard `ε`.
    pub eps: f64,
}

impl AdamParams {
    /// `b1 = 0.9`, `b2 = 0.999`, `ε = 1e-8` (optax's defaults).
    pub const DEFAULT: Self = Self {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
    };

    /// Validated parameters.
    pub fn new(b1: f64, b2: f64, eps: f64) -> Result<Self, TrainError> {
        let p = Self { b1, b2, eps };
        p.check()?;
        Ok(p)
    }

    /// Checks the ranges (for parameters read from a file); the error names the field (`b1`,
    /// `b2` or `eps`).
    pub fn check(&self) -> Result<(), TrainError> {
        for (field, b) in [("b1", self.b1), ("b2", self.b2)] {
            if !(b.is_finite() && (0.0..1.0).contains(&b)) {
                return Err(TrainError::Invalid {
                    field: field.into(),
                    message: format!("is {b}, expected a number in [0, 1)"),
                });
            }
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(TrainError::Invalid {
                field: "eps".into(),
                message: format!("is {}, expected a finite number ≥ 0", self.eps),
            });
        }
        Ok(())
    }
}

/// Adam with bias correction (optax conventions): its schedule and [`AdamParams`], and its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Decays and ε (flattened: a checkpoint stores `b1`, `b2`, `eps` beside `schedule`).
    #[serde(flatten)]
    pub params: AdamParams,
    /// Steps taken so far.
    pub t: u64,
    /// First moments `m` (empty until the first step).
    pub m: Vec<f64>,
    /// Second moments `v` (empty until the first step).
    pub v: Vec<f64>,
}

impl Adam {
    /// Adam with [`AdamParams::DEFAULT`].
    pub fn new(schedule: LrSchedule) -> Result<Self, TrainError> {
        Self::with_params(schedule, AdamParams::DEFAULT)
    }

    /// Adam with explicit parameters (validated by [`AdamParams::new`]).
    pub fn with_params(schedule: LrSchedule, params: AdamParams) -> Result<Self, TrainError> {
        schedule.check()?;
        params.check()?;
        Ok(Self {
            schedule,
            params,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        })
    }
}

/// One of the optimizers, as checkpointable data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Optimizer {
    /// Plain gradient descent.
    Sgd(Sgd),
    /// Adam.
    Adam(Adam),
}

impl Optimizer {
    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        match self {
            Self::Sgd(o) => o.t,
            Self::Adam(o) => o.t,
        }
    }

    /// The learning rate the next step will use.
    pub fn next_lr(&self) -> f64 {
        match self {
            Self::Sgd(o) => o.schedule.at(o.t),
            Self::Adam(o) => o.schedule.at(o.t),
        }
    }

    /// Applies one descent step to `theta` with gradient `grad` (same length, finite).
    ///
    /// On error nothing is changed.
    pub fn step(&mut self, theta: &mut [f64], grad: &[f64]) -> Result<(), TrainError> {
        let lr = self.next_lr();
        self.step_with_lr(theta, grad, lr)
    }

    /// As [`Optimizer::step`] with the learning rate `lr` given by the caller instead of the
    /// optimizer's own schedule (the step counter still advances).
    pub fn step_with_lr(
        &mut self,
        theta: &mut [f64],
        grad: &[f64],
        lr: f64,
    ) -> Result<(), TrainError> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(TrainError::Invalid {
                field: "learning rate".into(),
                message: format!("is {lr}, expected a finite number ≥ 0"),
            });
        }
        check_len("grad", grad.len(), theta.len())?;
        check_finite("grad", grad)?;
        match self {
            Self::Sgd(o) => {
                for (p, g) in theta.iter_mut().zip(grad) {
                    *p -= lr * g;
                }
                o.t += 1;
            }
            Self::Adam(o) => {
                if o.m.is_empty() && o.v.is_empty() {
                    o.m = vec![0.0; theta.len()];
                    o.v = vec![0.0; theta.len()];
                }
                check_len("adam.m", o.m.len(), theta.len())?;
                check_len("adam.v", o.v.len(), theta.len())?;
                let t = o.t + 1;
                let AdamParams { b1, b2, eps } = o.params;
                let c1 = 1.0 - b1.powf(t as f64);
                let c2 = 1.0 - b2.powf(t as f64);
                for (((p, g), m), v) in theta.iter_mut().zip(grad).zip(&mut o.m).zip(&mut o.v) {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let mh = *m / c1;
                    let vh = *v / c2;
                    *p -= lr * mh / (vh.sqrt() + eps);
                }
                o.t = t;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_hand_values() {
        let s = LrSchedule::cosine(0.05, 0.2, 4).unwrap();
        // k=0: cos 0 = 1 → lr; k=2: cos(π/2)=0 → lr(0.8·0.5+0.2)=0.6 lr; k≥4: α lr.
        assert!((s.at(0) - 0.05).abs() < 1e-15);
        assert!((s.at(2) - 0.03).abs() < 1e-15);
        assert!((s.at(4) - 0.01).abs() < 1e-15);
        assert!((s.at(100) - 0.01).abs() < 1e-15);
        // k=1: ½(1+cos(π/4)) = ½(1+√2/2)
        let c = 0.5 * (1.0 + std::f64::consts::FRAC_1_SQRT_2);
        assert!((s.at(1) - 0.05 * (0.8 * c + 0.2)).abs() < 1e-15);
    }

    #[test]
    fn schedules_reject_bad_numbers() {
        assert!(LrSchedule::constant(f64::NAN).is_err());
        assert!(LrSchedule::constant(-1.0).is_err());
        assert!(LrSchedule::cosine(0.1, 1.5, 10).is_err());
        assert!(LrSchedule::cosine(0.1, 0.2, 0).is_err());
        assert!(AdamParams::new(1.0, 0.9, 1e-8).is_err());
        assert!(AdamParams::new(0.9, 0.999, f64::NAN).is_err());
        let bad = AdamParams {
            b1: 0.9,
            b2: -0.1,
            eps: 1e-8,
        };
        assert!(Adam::with_params(LrSchedule::Constant { lr: 0.1 }, bad).is_err());
    }

    #[test]
    fn sgd_step_by_hand() {
        let mut o = Optimizer::Sgd(Sgd::new(LrSchedule::constant(0.1).unwrap()).unwrap());
        let mut th = vec![1.0, -2.0];
        o.step(&mut th, &[0.5, -1.0]).unwrap();
        assert_eq!(th, vec![1.0 - 0.05, -2.0 + 0.1]);
        assert_eq!(o.steps(), 1);
    }

    #[test]
    fn adam_steps_by_hand() {
        let mut o = Optimizer::Adam(Adam::new(LrSchedule::constant(0.1).unwrap()).unwrap());
        let mut th = vec![1.0, 0.0];
        // Step 1: m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g² → Δ = −lr·g/(|g|+ε) ≈ −lr·sign(g).
        o.step(&mut th, &[2.0, -0.5]).unwrap();
        let d0 = 0.1 * 2.0 / (2.0 + 1e-8);
        let d1 = 0.1 * -0.5 / (0.5 + 1e-8);
        assert!((th[0] - (1.0 - d0)).abs() < 1e-15);
        assert!((th[1] - (0.0 - d1)).abs() < 1e-15);
        // Step 2 with g = (1, 0): m = 0.9·0.2 + 0.1·1 = 0.28, v = 0.999·0.004 + 0.001·1 = 0.004996;
        // m̂ = 0.28/0.19, v̂ = 0.004996/0.001999.
        let before = th[0];
        o.step(&mut th, &[1.0, 0.0]).unwrap();
        let mh = 0.28 / (1.0 - 0.81);
        let vh = 0.004996 / (1.0 - 0.999f64 * 0.999);
        assert!((th[0] - (before - 0.1 * mh / (vh.sqrt() + 1e-8))).abs() < 1e-13);
    }

    #[test]
    fn step_rejects_nan_and_length() {
        let mut o = Optimizer::Adam(Adam::new(LrSchedule::constant(0.1).unwrap()).unwrap());
        let mut th = vec![0.0; 2];
        assert!(matches!(
            o.step(&mut th, &[f64::NAN, 0.0]),
            Err(TrainError::NotFinite { index: 0, .. })
        ));
        assert!(matches!(
            o.step(&mut th, &[0.0]),
            Err(TrainError::Length {
                found: 1,
                expected: 2,
                ..
            })
        ));
        assert_eq!(o.steps(), 0);
        assert_eq!(th, vec![0.0; 2]);
    }
}
