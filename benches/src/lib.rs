//! Criterion benchmarks for thermoq (see `benches/`).
