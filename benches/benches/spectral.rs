//! Criterion benchmarks of `thermoq-spectral` (short: the whole file runs in well under a minute).
//!
//! * `decompose/rs1-sk/N` — the full dense RS1 decomposition (step matrix, symmetrization, parity
//!   sectors, eigendecompositions, eigenfunctions) of a bias-free SK model, N = 8, 10.
//! * `step/fused|plan/N` — one RS1 step on a function over all `2^N` states, N = 16: the fused
//!   site-mixture pass against the generic plan interpreter.
//! * `poisson/rs1-sk/N` — the matrix-free Poisson solve (Lanczos route) for one coupling
//!   observable, N = 12.
//! * `poisson-sector/rs1-sk/{1,8}-obs` — the same solve on the even sector's `2^{N−1}`
//!   representatives (`sector_asymptotic_variances`), N = 12, for one coupling and for a batch
//!   of eight (one pass over the tables per step for the whole batch).
//!
//! `cargo xtask bench spectral` gives the headline numbers (N = 10..13 dense with numpy
//! alongside, N = 16..22 matrix-free).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::time::Duration;
use thermoq_models::{EnergyModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::operator::{FastOp, split_repeat};
use thermoq_spectral::{
    PoissonParams, SectorKernel, SpectralParams, asymptotic_variances, decompose,
    sector_asymptotic_variances, sector_law,
};

fn bench_decompose(c: &mut Criterion) {
    let mut g = c.benchmark_group("decompose");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in [8usize, 10] {
        let m = builders::sherrington_kirkpatrick(n, 1.0, 1);
        let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).expect("kernel");
        g.bench_function(BenchmarkId::new("rs1-sk", n), |b| {
            b.iter(|| decompose(&k, &m, &SpectralParams::default()).expect("decompose"))
        });
    }
    g.finish();
}

fn bench_step(c: &mut Criterion) {
    let n = 16;
    let m = builders::sherrington_kirkpatrick(n, 1.0, 1);
    let op = ExactKernel::of_kind(KernelKind::Rs1, &m).expect("tables");
    let step = split_repeat(op.plan()).0.clone();
    let fast = FastOp::new(&step);
    let mut f: Vec<f64> = (0..op.n_states()).map(|s| (s as f64).cos()).collect();
    let mut scratch = vec![0.0; f.len()];
    let mut g = c.benchmark_group("step");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g.bench_function(BenchmarkId::new("fused", n), |b| {
        b.iter(|| fast.apply(&op, &mut f, &mut scratch))
    });
    g.bench_function(BenchmarkId::new("plan", n), |b| {
        b.iter(|| op.plan_right(&step, &mut f))
    });
    g.finish();
}

fn bench_poisson(c: &mut Criterion) {
    let n = 12;
    let m = builders::sherrington_kirkpatrick(n, 1.0, 1);
    let op = ExactKernel::of_kind(KernelKind::Rs1, &m).expect("tables");
    let law = ExactLaw::new(&m).expect("law");
    let table: Vec<Vec<f64>> = law
        .observable_table(&m, ObservableSet::Couplings)
        .into_iter()
        .take(1)
        .collect();
    let mut g = c.benchmark_group("poisson");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g.bench_function(BenchmarkId::new("rs1-sk", n), |b| {
        b.iter(|| {
            asymptotic_variances(&op, &law.pi, &table, &PoissonParams::default()).expect("solve")
        })
    });
    g.finish();
}

fn bench_poisson_sector(c: &mut Criterion) {
    let n = 12;
    let m = builders::sherrington_kirkpatrick(n, 1.0, 1);
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).expect("kernel");
    let sk = SectorKernel::new(&k, &m, true).expect("sector tables");
    let pi = sector_law(&sk, &m).expect("law");
    let (rows, sectors) = sk
        .observable_rows(&m, ObservableSet::Couplings)
        .expect("rows");
    let mut g = c.benchmark_group("poisson-sector");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for obs in [1usize, 8] {
        g.bench_function(BenchmarkId::new("rs1-sk", format!("{obs}-obs")), |b| {
            b.iter(|| {
                sector_asymptotic_variances(
                    &sk,
                    &pi,
                    &rows[..obs],
                    &sectors[..obs],
                    &PoissonParams::default(),
                )
                .expect("solve")
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_decompose,
    bench_step,
    bench_poisson,
    bench_poisson_sector
);
criterion_main!(benches);
