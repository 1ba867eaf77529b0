//! Criterion benchmarks for the τ_int estimators of `thermoq-snr`.
//!
//! `sokal_ar1_1e6`: Sokal's self-consistent window (emcee's `integrated_time`, c = 5) on a
//! 10⁶-sample AR(1) series with φ = 0.99 — one FFT pair of length 2²¹ plus planning.
//! `sokal_pooled_8x125k`: the same number of samples as 8 chains, pooled with rayon.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use thermoq_snr::tau::{ChainSet, ar1, sokal, sokal_pooled};

fn bench_tau(c: &mut Criterion) {
    let x = ar1::series(0.99, 1_000_000, &mut ChaCha8Rng::seed_from_u64(1));
    c.bench_function("sokal_ar1_1e6", |b| {
        b.iter(|| sokal(black_box(&x)).map(|e| e.tau))
    });
    match ChainSet::from_flat(&x, 8) {
        Ok(set) => {
            c.bench_function("sokal_pooled_8x125k", |b| {
                b.iter(|| sokal_pooled(black_box(&set)).map(|e| e.tau))
            });
        }
        Err(e) => eprintln!("skipping pooled bench: {e}"),
    }
}

criterion_group!(benches, bench_tau);
criterion_main!(benches);
