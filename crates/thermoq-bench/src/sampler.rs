//! `bench sampler`: spin updates per second of the fast engines (and the reference sampler) on
//! the PEERS.md cases, and the machine bounds that limit them (ChaCha8 byte rate, the lanes
//! engine's xoshiro128+ word rate, memory bandwidth, `f32` GEMM rate). Each measurement is one
//! warm-up and the median of `reps` timed repetitions; one JSON row per measurement, with
//! `updates_per_s = sweeps × spins × chains / seconds`.

use crate::{BenchError, BenchModel, CHAINS, SEED, dtm_case, median, time_median};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use rand::Rng;
use rayon::prelude::*;
use serde_json::json;
use std::time::Instant;
use thermoq_core::Coloring;
use thermoq_models::dtm::VisibleSpec;
use thermoq_models::{EnergyModel, Rbm, builders};
use thermoq_samplers::fast::conditioned::ConditionedSampler;
use thermoq_samplers::fast::{DENSE_CHAIN_BLOCK, Engine, Generator};
use thermoq_samplers::pt::{FastPt, Ladder, SwapScheme};
use thermoq_samplers::{BatchSampler, ChainBatch, GibbsKernel, KernelKind, SamplerError};

/// One throughput case.
pub struct Case {
    /// Its name.
    pub name: &'static str,
    /// The model.
    pub model: BenchModel,
    /// `None`: the engine's default (checkerboard / the RBM's two layers).
    pub coloring: Option<Coloring>,
    /// Engines and generators timed; `Auto` is what `FastSampler::new` picks.
    pub runs: Vec<(Engine, Generator)>,
    /// Sweeps per timed repetition.
    pub sweeps: usize,
}

/// The case names, for messages.
pub const CASE_NAMES: &str = "ising-32, ising-128, rbm-784x256, dtm-60_12, pt-dtm-60_12";

/// Where a measurement ran.
#[derive(Clone, Copy, Debug)]
pub struct Setting<'a> {
    /// Block kernel.
    pub kind: KernelKind,
    /// Timed repetitions.
    pub reps: usize,
    /// Worker threads (recorded).
    pub threads: usize,
    /// Build profile (`dev` or `release`, recorded).
    pub profile: &'a str,
}

/// The cases (`quick`: a quarter of the sweeps).
pub fn cases(quick: bool) -> Result<Vec<Case>, BenchError> {
    let q = if quick { 4 } else { 1 };
    let lattice_both = vec![
        (Engine::Auto, Generator::ChaCha8),
        (Engine::Lattice, Generator::Xoshiro128Plus),
    ];
    let spec = VisibleSpec {
        n_image: 784,
        n_classes: 10,
        label_spots: 5,
    };
    let (dtm, dtm_coloring) = dtm_case("60_12", spec, 0.1, SEED)?;
    let lanes_both = vec![
        (Engine::Lanes, Generator::ChaCha8),
        (Engine::Lanes, Generator::Xoshiro128Plus),
    ];
    Ok(vec![
        Case {
            name: "ising-32",
            model: BenchModel::Ising(builders::lattice_2d(32, 32, 0.4, 0.0, 1.0)?),
            coloring: None,
            runs: lattice_both.clone(),
            sweeps: 8000 / q,
        },
        Case {
            name: "ising-128",
            model: BenchModel::Ising(builders::lattice_2d(128, 128, 0.4, 0.0, 1.0)?),
            coloring: None,
            runs: lattice_both.clone(),
            sweeps: 500 / q,
        },
        Case {
            name: "rbm-784x256",
            model: BenchModel::Rbm(Rbm::random(784, 256, 0.01, 1.0, SEED)?),
            coloring: None,
            runs: vec![
                (Engine::Auto, Generator::ChaCha8),
                (Engine::Dense, Generator::Xoshiro128Plus),
            ],
            sweeps: 1000 / q,
        },
        Case {
            name: "dtm-60_12",
            model: BenchModel::Ising(dtm.clone()),
            coloring: Some(dtm_coloring.clone()),
            runs: lanes_both.clone(),
            sweeps: 400 / q,
        },
        Case {
            name: "pt-dtm-60_12",
            model: BenchModel::Ising(dtm),
            coloring: Some(dtm_coloring),
            runs: lanes_both,
            sweeps: 400 / q,
        },
    ])
}

/// Times `engine` with `generator` on `case`.
pub fn bench_fast(
    case: &Case,
    engine: Engine,
    generator: Generator,
    at: Setting<'_>,
) -> Result<serde_json::Value, BenchError> {
    let (kind, reps) = (at.kind, at.reps);
    let n = case.model.ising().n_spins();
    let mut s = case
        .model
        .sampler(kind, case.coloring.clone(), engine, generator, SEED)?;
    let mut batch = ChainBatch::uniform(CHAINS, n, SEED);
    let sweeps = if s.engine() == Engine::Sparse {
        (case.sweeps / 8).max(1)
    } else {
        case.sweeps
    };
    let (sec, all) = time_median(reps, || s.sweep(&mut batch, sweeps))?;
    let mut r = row(case.name, s.engine().name(), at, n, sweeps, sec, &all);
    r["generator"] = s.generator().name().into();
    Ok(r)
}

/// Times the reference `BatchSampler` on `case` (a sixteenth of the sweeps).
pub fn bench_reference(case: &Case, at: Setting<'_>) -> Result<serde_json::Value, BenchError> {
    let (kind, reps) = (at.kind, at.reps);
    let m = case.model.ising();
    let n = m.n_spins();
    let coloring = match &case.model {
        BenchModel::Rbm(r) => Some(thermoq_core::Coloring::from_colors(
            m.graph(),
            r.two_block_colors(),
        )?),
        BenchModel::Ising(_) => None,
    };
    let k = GibbsKernel::new(kind, m.graph(), coloring.or_else(|| case.coloring.clone()))?;
    let mut s = BatchSampler::new(m, &k, CHAINS, SEED);
    let mut batch = ChainBatch::uniform(CHAINS, n, SEED);
    let sweeps = (case.sweeps / 16).max(1);
    let (sec, all) = time_median(reps, || s.sweep(&mut batch, sweeps))?;
    Ok(row(case.name, "reference", at, n, sweeps, sec, &all))
}

fn row(
    case: &str,
    engine: &str,
    at: Setting<'_>,
    n: usize,
    sweeps: usize,
    sec: f64,
    all: &[f64],
) -> serde_json::Value {
    json!({
        "case": case,
        "updates_per_s": (sweeps * n * CHAINS) as f64 / sec,
        "chains": CHAINS,
        "sweeps": sweeps,
        "spins": n,
        "threads": at.threads,
        "seconds": sec,
        "seconds_all": all,
        "kernel": at.kind.name(),
        "engine": engine,
        "profile": at.profile,
    })
}

/// The machine's bounds: ChaCha8 bytes/s (one stream per thread, 4 KiB refills, with the
/// engines' block function and with `rand_chacha`'s), memory read bandwidth (parallel sum over
/// 256 MiB), and faer `f32` GEMM rate (square 1024 and the RBM half-sweep shapes 256×784·784×64
/// and 784×256·256×64).
pub fn bounds(
    quick: bool,
    reps: usize,
    threads: usize,
) -> Result<Vec<serde_json::Value>, BenchError> {
    let mut out = Vec::new();
    // RNG: each thread fills a 4 KiB buffer repeatedly from its own ChaCha8 stream, with the
    // engines' own block function (`fill_chacha8`, the bytes of rand_chacha: AVX-512 where the
    // CPU has it) and, for reference, with rand_chacha's `fill_bytes`. The binding bound takes
    // the faster (`binding_bound`).
    let per_thread: usize = if quick { 64 << 20 } else { 256 << 20 };
    for (case, own) in [
        ("bound-chacha8", true),
        ("bound-chacha8-rand-chacha", false),
    ] {
        out.push(rate_row(
            case,
            "bytes_per_s",
            per_thread * threads,
            reps,
            threads,
            || {
                let sink: u64 = (0..threads)
                    .into_par_iter()
                    .map(|t| {
                        let mut r = thermoq_core::rng::chain_rng(1, t as u64);
                        let mut buf = [0u8; 4096];
                        let mut acc = 0u64;
                        for _ in 0..per_thread / buf.len() {
                            if own {
                                thermoq_samplers::fast::fill_chacha8(&mut r, &mut buf);
                            } else {
                                r.fill_bytes(&mut buf);
                            }
                            acc = acc.wrapping_add(u64::from(buf[17]));
                        }
                        acc
                    })
                    .sum();
                std::hint::black_box(sink);
            },
        )?);
    }
    // The lattice engine's xoshiro128+ comparison bytes (three per word), 64 chains.
    let per_chain: usize = if quick { 4 << 20 } else { 16 << 20 };
    let bytes = CHAINS * per_chain;
    out.push(rate_row(
        "bound-xoshiro128p-bytes",
        "bytes_per_s",
        bytes,
        reps,
        threads,
        || {
            std::hint::black_box(thermoq_samplers::fast::probe_xoshiro_bytes(
                CHAINS, per_chain,
            ));
        },
    )?);
    // The lanes engine's xoshiro128+ comparison words (one 24-bit word per update), 4 blocks of
    // 16 lanes as in the 64-chain cases.
    let per_lane: usize = if quick { 1 << 20 } else { 1 << 22 };
    let lane_words = 4 * 16 * per_lane;
    out.push(rate_row(
        "bound-xoshiro128p-lanes",
        "words_per_s",
        lane_words,
        reps,
        threads,
        || {
            std::hint::black_box(thermoq_samplers::fast::probe_xoshiro_words(4, per_lane));
        },
    )?);
    // Memory bandwidth: sum a 256 MiB array of u64 in parallel.
    let words = if quick { 8 << 20 } else { 32 << 20 };
    let data: Vec<u64> = (0..words as u64).collect();
    let (sec, _) = time_median(reps, || -> Result<(), BenchError> {
        let s: u64 = data
            .par_chunks(1 << 16)
            .map(|c| c.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
            .sum();
        std::hint::black_box(s);
        Ok(())
    })?;
    out.push(json!({
        "case": "bound-memory-read",
        "bytes_per_s": (words * 8) as f64 / sec,
        "threads": threads,
        "seconds": sec,
    }));
    drop(data);
    // GEMM: one call with faer's own parallelism, at 1024³ (the DTM compute bound) and at the
    // two RBM half-sweep products for all 64 chains; then the same RBM products split as the
    // dense engine splits them (independent blocks of `DENSE_CHAIN_BLOCK` chains, one sequential
    // GEMM per block, blocks in parallel). One call can be slower at these small shapes; the
    // RBM bound takes the faster of the two ways (`binding_bound`).
    let (few, many) = if quick { (2, 50) } else { (8, 400) };
    let one_call = Par::rayon(0);
    for (name, m, k, n, blocks, par, times) in [
        ("bound-gemm-f32-1024", 1024, 1024, 1024, 1, one_call, few),
        (
            "bound-gemm-f32-256x784x64",
            256,
            784,
            CHAINS,
            1,
            one_call,
            many,
        ),
        (
            "bound-gemm-f32-784x256x64",
            784,
            256,
            CHAINS,
            1,
            one_call,
            many,
        ),
        (
            "bound-gemm-f32-256x784-blocked",
            256,
            784,
            DENSE_CHAIN_BLOCK,
            CHAINS / DENSE_CHAIN_BLOCK,
            Par::Seq,
            many,
        ),
        (
            "bound-gemm-f32-784x256-blocked",
            784,
            256,
            DENSE_CHAIN_BLOCK,
            CHAINS / DENSE_CHAIN_BLOCK,
            Par::Seq,
            many,
        ),
    ] {
        let a = Mat::<f32>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let bs: Vec<Mat<f32>> = (0..blocks)
            .map(|t| Mat::<f32>::from_fn(k, n, |i, j| ((i * 5 + j + t) % 3) as f32 - 1.0))
            .collect();
        let mut cs: Vec<Mat<f32>> = (0..blocks).map(|_| Mat::<f32>::zeros(m, n)).collect();
        let (sec, _) = time_median(reps, || -> Result<(), BenchError> {
            let gemm = |c: &mut Mat<f32>, b: &Mat<f32>| {
                matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par);
            };
            for _ in 0..times {
                if blocks == 1 {
                    gemm(&mut cs[0], &bs[0]);
                } else {
                    cs.par_iter_mut().zip(&bs).for_each(|(c, b)| gemm(c, b));
                }
            }
            Ok(())
        })?;
        out.push(json!({
            "case": name,
            "flops_per_s": (2 * m * k * n * blocks * times) as f64 / sec,
            "shape": [m, k, n],
            "blocks": blocks,
            "threads": threads,
            "seconds": sec,
        }));
    }
    Ok(out)
}

/// A bound row: `work` produces `amount` units, timed as the median of `reps` runs; the row
/// reports `amount / seconds` under `key`.
fn rate_row(
    case: &str,
    key: &str,
    amount: usize,
    reps: usize,
    threads: usize,
    mut work: impl FnMut(),
) -> Result<serde_json::Value, BenchError> {
    let (sec, _) = time_median(reps, || -> Result<(), BenchError> {
        work();
        Ok(())
    })?;
    let mut row = json!({ "case": case, "threads": threads, "seconds": sec });
    row[key] = (amount as f64 / sec).into();
    Ok(row)
}

/// ChaCha8 bytes the lattice engine draws per update: one byte, three more on a tied top byte
/// (probability ≤ 1/256).
pub const LATTICE_BYTES_PER_UPDATE: f64 = 1.0 + 3.0 / 256.0;
/// ChaCha8 bytes the lanes engine draws per update (one 24-bit comparison word).
pub const LANES_BYTES_PER_UPDATE: f64 = 3.0;
/// `f32` flops per RBM spin update: one sweep of a chain is two GEMM half-sweeps of
/// `2·784·256` flops each for `784 + 256` updates (772 flops per update on 784 × 256).
pub fn rbm_flops_per_update(nv: usize, nh: usize) -> f64 {
    (4 * nv * nh) as f64 / (nv + nh) as f64
}
/// FMA-pipe vector operations per DTM-layer update on the lanes engine: per node and 16-lane
/// block, 12 neighbours × 2 FMAs from memory plus per 8 lanes 8 comparison ops (≈ 40 per 16).
pub const DTM_VECTOR_OPS_PER_UPDATE: f64 = 2.5;

/// The binding bound of a case row: the smallest of the machine limits that apply to the work
/// the row's engine and generator do, from the `bound-*` rows of the same run. Returns
/// `(updates_per_s, what)`, or `None` when a needed bound row is missing.
///
/// * `ising-*`: random numbers — ChaCha8 bytes/s, or the lattice engine's xoshiro128+ bytes/s
///   (three per word), ÷ [`LATTICE_BYTES_PER_UPDATE`].
/// * `rbm-*`: the `f32` GEMM rate at the two half-sweep shapes (harmonic mean: equal flops
///   each) ÷ [`rbm_flops_per_update`].
/// * `dtm-*` and `pt-dtm-*`: the smaller of compute — the 1024³ GEMM rate in 8-wide FMAs
///   (÷ 16 flop) ÷ [`DTM_VECTOR_OPS_PER_UPDATE`] — and random numbers (ChaCha8 bytes/s ÷
///   [`LANES_BYTES_PER_UPDATE`], or xoshiro128+ words/s).
pub fn binding_bound(
    row: &serde_json::Value,
    bounds: &[serde_json::Value],
) -> Option<(f64, String)> {
    let get = |case: &str, key: &str| {
        bounds
            .iter()
            .find(|b| b["case"] == case)
            .and_then(|b| b[key].as_f64())
    };
    // A ceiling row is bound as the case it is the ceiling of.
    let case = row["ceiling_of"].as_str().or(row["case"].as_str())?;
    let xoshiro = row["generator"] == "xoshiro128+";
    let rng = |bytes_per_update: f64| -> Option<(f64, String)> {
        if xoshiro && case.starts_with("ising-") {
            Some((
                get("bound-xoshiro128p-bytes", "bytes_per_s")? / bytes_per_update,
                format!("rng: {bytes_per_update:.3} xoshiro128+ bytes per update"),
            ))
        } else if xoshiro {
            Some((
                get("bound-xoshiro128p-lanes", "words_per_s")?,
                "rng: 1 xoshiro128+ word per update".into(),
            ))
        } else {
            // The faster of the engines' ChaCha8 and rand_chacha's (the same bytes).
            let own = get("bound-chacha8", "bytes_per_s")?;
            let rate = get("bound-chacha8-rand-chacha", "bytes_per_s").map_or(own, |r| own.max(r));
            Some((
                rate / bytes_per_update,
                format!("rng: {bytes_per_update:.3} ChaCha8 bytes per update"),
            ))
        }
    };
    if case.starts_with("ising-") {
        rng(LATTICE_BYTES_PER_UPDATE)
    } else if case.starts_with("rbm-") {
        // Each half at the faster of one parallel GEMM and the engine's blocked GEMMs.
        let best = |one: &str, blocked: &str| {
            let a = get(one, "flops_per_s")?;
            Some(get(blocked, "flops_per_s").map_or(a, |b| a.max(b)))
        };
        let a = best(
            "bound-gemm-f32-256x784x64",
            "bound-gemm-f32-256x784-blocked",
        )?;
        let b = best(
            "bound-gemm-f32-784x256x64",
            "bound-gemm-f32-784x256-blocked",
        )?;
        let f = rbm_flops_per_update(784, 256);
        Some((
            2.0 / (1.0 / a + 1.0 / b) / f,
            format!("gemm: {f:.0} f32 flops per update at the RBM shapes"),
        ))
    } else if case.starts_with("dtm-") || case.starts_with("pt-dtm-") {
        let compute = get("bound-gemm-f32-1024", "flops_per_s")? / 16.0 / DTM_VECTOR_OPS_PER_UPDATE;
        let r = rng(LANES_BYTES_PER_UPDATE)?;
        Some(if compute <= r.0 {
            (
                compute,
                format!("compute: {DTM_VECTOR_OPS_PER_UPDATE} 8-wide FMA-pipe ops per update"),
            )
        } else {
            r
        })
    } else {
        None
    }
}

/// Adds `bound_updates_per_s`, `bound` (what binds) and `bound_fraction` (`updates_per_s` ÷ the
/// bound) to every case row of `rows` whose bound the run measured ([`binding_bound`]), and
/// `ceiling_fraction` (÷ the `ceiling-<case>` row's rate, [`ceilings`]) to the engine rows of a
/// case and generator that have one.
pub fn add_bound_fractions(rows: &mut [serde_json::Value]) {
    let bounds: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r["case"].as_str().is_some_and(|c| c.starts_with("bound-")))
        .cloned()
        .collect();
    let ceilings: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r.get("ceiling_of").is_some())
        .cloned()
        .collect();
    for r in rows.iter_mut() {
        let Some(u) = r["updates_per_s"].as_f64() else {
            continue;
        };
        if let Some((b, what)) = binding_bound(r, &bounds) {
            r["bound_updates_per_s"] = b.into();
            r["bound"] = what.into();
            r["bound_fraction"] = (u / b).into();
        }
        if r.get("ceiling_of").is_none()
            && let Some(c) = ceilings
                .iter()
                .find(|c| c["ceiling_of"] == r["case"] && c["generator"] == r["generator"])
            && let Some(cu) = c["updates_per_s"].as_f64()
        {
            r["ceiling_fraction"] = (u / cu).into();
        }
    }
}

/// Rungs of the PT case.
pub const PT_RUNGS: usize = 16;
/// Hottest rung of the PT case's pilot ladder.
pub const PT_ALPHA_TOP: f64 = 0.25;

/// The PT case (`pt-dtm-60_12`): a 16-rung PT-DEO ladder at equal thermodynamic length on the
/// `60_12` layer, `CHAINS / 16 = 4` PT chains (64 slots, the plain case's chain count), local
/// kernel `at.kind` (`blk-alt` or `blk-sym`) on the lanes engine with `generator`. The ladder is
/// placed from a pilot: `C(α)` measured on a geometric 16-rung ladder down to [`PT_ALPHA_TOP`]
/// (100 sweeps burn-in, 200 recorded), then [`Ladder::equal_length`]. Timed, alternating in one
/// loop, `reps` times each after a warm-up: `FastPt::advance(sweeps)` and plain block Gibbs on
/// the same layer and engine (`ConditionedSampler::sweep`, 64 chains, same kernel and
/// generator). The row carries both rates (`updates_per_s` = PT slot updates, swaps included in
/// the time; `plain_updates_per_s`), `ratio_to_plain` and the ladder's mean swap acceptance.
pub fn bench_pt(
    case: &Case,
    generator: Generator,
    at: Setting<'_>,
) -> Result<serde_json::Value, BenchError> {
    let (kind, reps) = (at.kind, at.reps);
    let m = case.model.ising();
    let n = m.n_spins();
    let coloring = case
        .coloring
        .clone()
        .unwrap_or_else(|| Coloring::dsatur(m.graph()));
    let pt_chains = CHAINS / PT_RUNGS;
    let new_pt = |ladder: Ladder| -> Result<FastPt, BenchError> {
        let mut p = FastPt::new(
            m,
            &coloring,
            kind,
            ladder,
            SwapScheme::PtDeo,
            pt_chains,
            SEED,
        )?;
        p.set_generator(generator)?;
        Ok(p)
    };
    let mut pilot = new_pt(Ladder::geometric(PT_RUNGS, PT_ALPHA_TOP)?)?;
    pilot.advance(100, false)?;
    pilot.advance(200, true)?;
    let c = pilot
        .specific_heat(&pilot.pooled())
        .ok_or_else(|| SamplerError::Invalid {
            field: "pilot".into(),
            message: "recorded no sweeps".into(),
        })?;
    let ladder = Ladder::equal_length(pilot.ladder().alphas(), &c, PT_RUNGS)?;
    let mut pt = new_pt(ladder.clone())?;
    let mut plain = ConditionedSampler::new(m, &coloring, kind, CHAINS, SEED)?;
    plain.set_generator(generator)?;
    let mut batch = ChainBatch::uniform(CHAINS, n, SEED);
    let sweeps = case.sweeps;
    pt.advance(sweeps, false)?;
    plain.sweep(&mut batch, sweeps)?;
    let (mut t_pt, mut t_plain) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for _ in 0..reps {
        let s = Instant::now();
        plain.sweep(&mut batch, sweeps)?;
        t_plain.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        pt.advance(sweeps, true)?;
        t_pt.push(s.elapsed().as_secs_f64());
    }
    let (sec, sec_plain) = (median(&t_pt), median(&t_plain));
    let stats = pt.pooled();
    let acceptance: Vec<Option<f64>> = (0..PT_RUNGS - 1).map(|k| stats.acceptance(k)).collect();
    let mut r = row(case.name, "lanes", at, n, sweeps, sec, &t_pt);
    r["generator"] = generator.name().into();
    r["rungs"] = PT_RUNGS.into();
    r["pt_chains"] = pt_chains.into();
    r["scheme"] = SwapScheme::PtDeo.name().into();
    r["alphas"] = ladder.alphas().into();
    r["swap_acceptance"] = acceptance.into();
    r["plain_updates_per_s"] = ((sweeps * n * CHAINS) as f64 / sec_plain).into();
    r["plain_seconds_all"] = t_plain.into();
    r["ratio_to_plain"] = (sec_plain / sec).into();
    Ok(r)
}

/// What `bench sampler` measures.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    /// Where each measurement runs.
    pub at: Setting<'a>,
    /// A quarter of the sweeps ([`cases`]).
    pub quick: bool,
    /// Only these cases (empty: all).
    pub only: &'a [String],
    /// Also time the reference `BatchSampler`.
    pub reference: bool,
    /// Also time the generic sparse engine and the lanes engine on every case.
    pub sparse: bool,
    /// Measure the machine bounds (and add `bound_fraction` to every case row).
    pub bounds: bool,
}

/// Runs `plan`: one row per case × engine × generator (the PT case when the kernel is `blk-alt`
/// or `blk-sym`), then the bound rows, with [`add_bound_fractions`] applied. An unknown case name
/// is an error naming it.
pub fn run(plan: &Plan<'_>) -> Result<Vec<serde_json::Value>, BenchError> {
    let all = cases(plan.quick)?;
    if let Some(a) = plan.only.iter().find(|a| !all.iter().any(|c| c.name == *a)) {
        return Err(SamplerError::Invalid {
            field: "case".into(),
            message: format!("is {a:?}, expected one of {CASE_NAMES}"),
        }
        .into());
    }
    let at = plan.at;
    let mut rows = Vec::new();
    for case in all
        .iter()
        .filter(|c| plan.only.is_empty() || plan.only.iter().any(|a| a == c.name))
    {
        if case.name.starts_with("pt-") {
            if at.kind != KernelKind::BlkRs {
                for &(_, generator) in &case.runs {
                    rows.push(bench_pt(case, generator, at)?);
                }
            }
            continue;
        }
        let mut runs = case.runs.clone();
        if plan.sparse {
            for e in [Engine::Sparse, Engine::Lanes] {
                if !runs.contains(&(e, Generator::ChaCha8)) {
                    runs.push((e, Generator::ChaCha8));
                }
            }
        }
        for (engine, generator) in runs {
            rows.push(bench_fast(case, engine, generator, at)?);
        }
        if plan.reference {
            rows.push(bench_reference(case, at)?);
        }
    }
    if plan.bounds {
        rows.extend(bounds(plan.quick, at.reps, at.threads)?);
        let timed: Vec<&Case> = all
            .iter()
            .filter(|c| plan.only.is_empty() || plan.only.iter().any(|a| a == c.name))
            .collect();
        rows.extend(ceilings(&timed, at)?);
        add_bound_fractions(&mut rows);
    }
    Ok(rows)
}

/// The speed-of-light loops of the lattice and DTM cases among `cases`
/// (`thermoq_samplers::fast::probe_lattice_loop` / `probe_dtm_loop`: the least work per update
/// of the engine's algorithm, none of its bookkeeping), each a row `ceiling-<case>` with
/// `ceiling_of` and the generator it draws from. A case gets no row where the CPU lacks the
/// engines' widest kernels.
pub fn ceilings(cases: &[&Case], at: Setting<'_>) -> Result<Vec<serde_json::Value>, BenchError> {
    use thermoq_samplers::fast::{probe_dtm_loop, probe_lattice_loop};
    let mut out = Vec::new();
    for case in cases {
        let model = case.model.ising();
        // The lattice cases are square: `l × l` with `l² = n`.
        let n = model.n_spins();
        let l = n.isqrt();
        let lattice = case.name.starts_with("ising-") && l * l == n;
        let coloring = case
            .coloring
            .as_ref()
            .filter(|_| case.name.starts_with("dtm-"));
        let generator = match (lattice, coloring) {
            (true, _) => "chacha8",
            (false, Some(_)) => "xoshiro128+",
            (false, None) => continue,
        };
        let work = || -> Result<Option<u64>, BenchError> {
            Ok(match coloring {
                Some(c) if !lattice => probe_dtm_loop(model, c, CHAINS / 16, case.sweeps)?,
                _ => probe_lattice_loop(l, l, CHAINS, case.sweeps),
            })
        };
        let Some(updates) = work()? else {
            continue;
        };
        let (sec, all) = time_median(at.reps, || -> Result<(), BenchError> {
            std::hint::black_box(work()?);
            Ok(())
        })?;
        out.push(json!({
            "case": format!("ceiling-{}", case.name),
            "ceiling_of": case.name,
            "engine": "ceiling",
            "generator": generator,
            "updates_per_s": updates as f64 / sec,
            "seconds": sec,
            "seconds_all": all,
            "threads": at.threads,
        }));
    }
    Ok(out)
}

/// The human-readable summary of the case rows: updates/s, seconds, fraction of the bound, and
/// for the PT case its ratio to plain Gibbs.
pub fn summary(rows: &[serde_json::Value]) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<18} {:<10} {:<12} {:>14} {:>9} {:>9} {:>10} {:>9}\n",
        "case", "engine", "generator", "updates/s", "seconds", "of bound", "of ceiling", "of plain"
    );
    let opt = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |f| format!("{f:.2}"));
    for r in rows.iter().filter(|r| r.get("updates_per_s").is_some()) {
        let _ = writeln!(
            out,
            "{:<18} {:<10} {:<12} {:>14.3e} {:>9.3} {:>9} {:>10} {:>9}",
            r["case"].as_str().unwrap_or("?"),
            r["engine"].as_str().unwrap_or("?"),
            r["generator"].as_str().unwrap_or("-"),
            r["updates_per_s"].as_f64().unwrap_or(0.0),
            r["seconds"].as_f64().unwrap_or(0.0),
            opt(&r["bound_fraction"]),
            opt(&r["ceiling_fraction"]),
            opt(&r["ratio_to_plain"]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lattice row and its ceiling row are both divided by the case's ChaCha8 bound (the
    /// faster of the two ChaCha8 rows), and only the engine row of the same generator gets a
    /// `ceiling_fraction`.
    #[test]
    fn ceiling_rows_are_bound_as_their_case() {
        let mut rows = vec![
            json!({"case": "ising-32", "generator": "chacha8", "updates_per_s": 6.0e9}),
            json!({"case": "ising-32", "generator": "xoshiro128+", "updates_per_s": 5.0e9}),
            json!({"case": "bound-chacha8", "bytes_per_s": 2.0e10}),
            json!({"case": "bound-chacha8-rand-chacha", "bytes_per_s": 8.0e9}),
            json!({"case": "bound-xoshiro128p-bytes", "bytes_per_s": 3.0e10}),
            json!({"case": "ceiling-ising-32", "ceiling_of": "ising-32",
                   "generator": "chacha8", "updates_per_s": 1.2e10}),
        ];
        add_bound_fractions(&mut rows);
        let bound = 2.0e10 / LATTICE_BYTES_PER_UPDATE;
        let f = |r: &serde_json::Value, k: &str| r[k].as_f64();
        assert_eq!(f(&rows[0], "bound_fraction"), Some(6.0e9 / bound));
        assert_eq!(f(&rows[5], "bound_fraction"), Some(1.2e10 / bound));
        assert_eq!(f(&rows[0], "ceiling_fraction"), Some(0.5));
        assert_eq!(f(&rows[1], "ceiling_fraction"), None, "no xoshiro ceiling");
        assert_eq!(f(&rows[5], "ceiling_fraction"), None, "a ceiling of itself");
        assert!(summary(&rows).contains("ceiling-ising-32"));
    }
}
