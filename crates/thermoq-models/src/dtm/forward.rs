//! The forward (noising) process and the fixed coupling between consecutive steps.
//!
//! Every binary variable is independently *resampled uniformly* at Poisson rate `λ`: over a time
//! `Δt` it is resampled with probability `1 − e^{−λΔt}`, so it keeps its value with probability
//!
//! ```text
//! P(x_t = x_s) = (1 + e^{−λ(t−s)}) / 2 .
//! ```
//!
//! The time grid is `t_k = s(k/T)`, `k = 0..T`, with the `log` schedule `s(u) = −ln(1 − u)` (so
//! `t_T = ∞`: pure noise) or the `linear` schedule `s(u) = u`. Step `k` (`k = 0..T`, exclusive)
//! denoises `x_{t_{k+1}} → x_{t_k}`. Its fixed input coupling is the log-odds of the forward
//! kernel over `Δt_k = t_{k+1} − t_k`:
//!
//! ```text
//! J_k = −½ ln tanh(λΔt_k/2) = artanh(e^{−λΔt_k}),     e^{2J_k} = coth(λΔt_k/2),
//! ```
//!
//! computed in the `artanh` form, which is exact at both ends: `J → ∞` as `Δt → 0` and `J = 0`
//! at `Δt = ∞` (the `T = 1` log schedule, where the DTM is one monolithic Boltzmann machine).
//! Training data for step `k` use the stretched interval `[t_k(1−ε), t_{k+1}(1+ε)]`
//! (`diffusion_offset` ε); the coupling uses the nominal `Δt_k`, as dtm-replication does.

use super::DtmError;
use rand::Rng;
use thermoq_core::Spin;

/// Largest number of denoising steps `T` a forward process accepts (each step is one layer).
pub const MAX_STEPS: usize = 256;

/// Time schedule of the diffusion steps.
///
/// Serialized, displayed and parsed as `"log"` / `"linear"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// `s(u) = −ln(1 − u)`; the last time is `∞`.
    Log,
    /// `s(u) = u`.
    Linear,
}

impl Schedule {
    /// `s(u)` for `u ∈ [0, 1]`.
    pub fn time(self, u: f64) -> f64 {
        match self {
            Self::Log => {
                if u >= 1.0 {
                    f64::INFINITY
                } else {
                    -(-u).ln_1p()
                }
            }
            Self::Linear => u,
        }
    }

    /// Parses `log` or `linear`.
    pub fn parse(s: &str) -> Result<Self, DtmError> {
        Self::from_name(&s.to_ascii_lowercase()).ok_or_else(|| {
            DtmError::invalid(
                "schedule",
                format!("is {s:?}, expected \"log\" or \"linear\""),
            )
        })
    }
}

// The serde names above are these (a test checks it).
thermoq_core::enum_names!(Schedule {
    Log => "log",
    Linear => "linear",
});

/// `J = −½ ln tanh(λΔt/2) = artanh(e^{−λΔt})`: `∞` at `λΔt = 0`, `0` at `λΔt = ∞`.
pub fn coupling(lambda: f64, dt: f64) -> f64 {
    let x = lambda * dt;
    if x <= 0.0 {
        return f64::INFINITY;
    }
    let q = (-x).exp();
    if q > 0.5 {
        // Near Δt = 0, 1 − q must come from expm1: artanh(q) = ½[ln(1+q) − ln(1−q)].
        0.5 * (q.ln_1p() - (-(-x).exp_m1()).ln())
    } else {
        q.atanh()
    }
}

/// Probability that a variable keeps its value over `Δt`: `(1 + e^{−λΔt}) / 2`.
pub fn same_probability(lambda: f64, dt: f64) -> f64 {
    0.5 * (1.0 + (-lambda * dt).exp())
}

/// Probability that a variable is resampled over `Δt`: `1 − e^{−λΔt}` (`−expm1(−λΔt)`).
pub fn resample_probability(lambda: f64, dt: f64) -> f64 {
    -(-lambda * dt).exp_m1()
}

#[inline]
fn uniform53<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Runs the forward process for time `dt` at rate `lambda` on every spin of `x`: each spin is
/// resampled to a fair ±1 with probability `1 − e^{−λΔt}`.
pub fn noise<R: Rng + ?Sized>(x: &mut [Spin], lambda: f64, dt: f64, rng: &mut R) {
    let p = resample_probability(lambda, dt);
    for s in x {
        if uniform53(rng) < p {
            *s = if rng.next_u32() & 1 == 1 { 1 } else { -1 };
        }
    }
}

/// The forward process of a DTM: rates, schedule, number of steps and training offset.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ForwardProcess {
    lambda_image: f64,
    lambda_label: f64,
    schedule: Schedule,
    n_steps: usize,
    offset: f64,
}

impl Default for ForwardProcess {
    /// The DTM paper's MNIST defaults: λ_image 0.8, λ_label 0.2, log schedule, T = 1, ε = 0.1.
    fn default() -> Self {
        Self {
            lambda_image: 0.8,
            lambda_label: 0.2,
            schedule: Schedule::Log,
            n_steps: 1,
            offset: 0.1,
        }
    }
}

impl ForwardProcess {
    /// Validates: rates finite and `> 0`, `T ≥ 1`, offset in `[0, 1)`.
    ///
    /// `n_steps` must be in `1..=`[`MAX_STEPS`].
    pub fn new(
        lambda_image: f64,
        lambda_label: f64,
        schedule: Schedule,
        n_steps: usize,
        offset: f64,
    ) -> Result<Self, DtmError> {
        for (field, v) in [
            ("lambda_image", lambda_image),
            ("lambda_label", lambda_label),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(DtmError::invalid(
                    field,
                    format!("is {v}, expected a finite rate > 0"),
                ));
            }
        }
        if n_steps == 0 {
            return Err(DtmError::invalid(
                "n_steps",
                "is 0, expected at least one diffusion step",
            ));
        }
        // One layer (graph, layout, parameters, optimizer state) is built per step: bound the
        // count before anything is allocated for it.
        if n_steps > MAX_STEPS {
            return Err(DtmError::invalid(
                "n_steps",
                format!("is {n_steps}, expected at most {MAX_STEPS} diffusion steps"),
            ));
        }
        if !(offset.is_finite() && (0.0..1.0).contains(&offset)) {
            return Err(DtmError::invalid(
                "diffusion_offset",
                format!("is {offset}, expected a number in [0, 1)"),
            ));
        }
        Ok(Self {
            lambda_image,
            lambda_label,
            schedule,
            n_steps,
            offset,
        })
    }

    /// Image rate λ_image.
    pub fn lambda_image(&self) -> f64 {
        self.lambda_image
    }

    /// Label rate λ_label.
    pub fn lambda_label(&self) -> f64 {
        self.lambda_label
    }

    /// The schedule.
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// Number of denoising steps `T`.
    pub fn n_steps(&self) -> usize {
        self.n_steps
    }

    /// `diffusion_offset` ε.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// The grid `t_0 = 0 < t_1 < … < t_T` (`t_T = ∞` for the log schedule).
    pub fn times(&self) -> Vec<f64> {
        (0..=self.n_steps)
            .map(|k| self.schedule.time(k as f64 / self.n_steps as f64))
            .collect()
    }

    /// Nominal interval `(t_k, t_{k+1})` of step `k`.
    pub fn interval(&self, k: usize) -> Result<(f64, f64), DtmError> {
        self.check_step(k)?;
        let t = |j: usize| self.schedule.time(j as f64 / self.n_steps as f64);
        Ok((t(k), t(k + 1)))
    }

    /// Training interval `(t_k(1−ε), t_{k+1}(1+ε))` of step `k`.
    pub fn training_interval(&self, k: usize) -> Result<(f64, f64), DtmError> {
        let (s, t) = self.interval(k)?;
        Ok((s * (1.0 - self.offset), t * (1.0 + self.offset)))
    }

    /// Fixed input couplings `(J_image, J_label)` of step `k` (nominal `Δt_k`).
    pub fn couplings(&self, k: usize) -> Result<(f64, f64), DtmError> {
        let (s, t) = self.interval(k)?;
        let dt = t - s;
        Ok((
            coupling(self.lambda_image, dt),
            coupling(self.lambda_label, dt),
        ))
    }

    /// Noises a visible vector (first `n_image` entries at λ_image, the rest at λ_label) for `dt`.
    pub fn noise_visible<R: Rng + ?Sized>(
        &self,
        v: &mut [Spin],
        n_image: usize,
        dt: f64,
        rng: &mut R,
    ) -> Result<(), DtmError> {
        if n_image > v.len() {
            return Err(DtmError::length(
                "visible state (image part)",
                v.len(),
                n_image,
            ));
        }
        let (img, lab) = v.split_at_mut(n_image);
        noise(img, self.lambda_image, dt, rng);
        noise(lab, self.lambda_label, dt, rng);
        Ok(())
    }

    /// A training pair for step `k` from clean data `x0` (visible order, image first):
    /// `x_prev` = `x0` noised to `t_k(1−ε)`, and `x_t` = `x_prev` noised further to `t_{k+1}(1+ε)`.
    /// The model of step `k` learns `x_prev` (clamped in the positive phase) given `x_t` (input).
    pub fn training_pair<R: Rng + ?Sized>(
        &self,
        k: usize,
        x0: &[Spin],
        n_image: usize,
        rng: &mut R,
    ) -> Result<(Vec<Spin>, Vec<Spin>), DtmError> {
        let (s, t) = self.training_interval(k)?;
        let mut prev = x0.to_vec();
        self.noise_visible(&mut prev, n_image, s, rng)?;
        let mut next = prev.clone();
        self.noise_visible(&mut next, n_image, t - s, rng)?;
        Ok((prev, next))
    }

    fn check_step(&self, k: usize) -> Result<(), DtmError> {
        if k >= self.n_steps {
            return Err(DtmError::invalid(
                "step",
                format!("is {k}, expected a step below T = {}", self.n_steps),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn schedule_names_are_the_serde_names() {
        for s in Schedule::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(Schedule::parse(&s.name().to_uppercase()).unwrap(), s);
        }
        assert!(Schedule::parse("cosine").is_err());
    }

    #[test]
    fn coupling_limits() {
        assert_eq!(coupling(0.8, f64::INFINITY), 0.0);
        assert_eq!(coupling(0.8, 0.0), f64::INFINITY);
        // T = 1, log schedule ⇒ J = 0
        let p = ForwardProcess::default();
        assert_eq!(p.times(), vec![0.0, f64::INFINITY]);
        assert_eq!(p.couplings(0).unwrap(), (0.0, 0.0));
        assert_eq!(p.training_interval(0).unwrap(), (0.0, f64::INFINITY));
        assert!(p.couplings(1).is_err());
    }

    #[test]
    fn schedules() {
        let p = ForwardProcess::new(1.0, 1.0, Schedule::Log, 4, 0.0).unwrap();
        let t = p.times();
        assert!((t[2] - 2f64.ln()).abs() < 1e-15);
        assert_eq!(t[4], f64::INFINITY);
        let l = ForwardProcess::new(1.0, 1.0, Schedule::Linear, 4, 0.0).unwrap();
        assert_eq!(l.times(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(Schedule::parse("LOG").unwrap(), Schedule::Log);
        assert!(Schedule::parse("cosine").is_err());
        assert!(ForwardProcess::new(0.0, 1.0, Schedule::Log, 1, 0.1).is_err());
        assert!(ForwardProcess::new(1.0, f64::NAN, Schedule::Log, 1, 0.1).is_err());
        assert!(ForwardProcess::new(1.0, 1.0, Schedule::Log, 0, 0.1).is_err());
        assert!(ForwardProcess::new(1.0, 1.0, Schedule::Log, 1, 1.0).is_err());
    }
}
