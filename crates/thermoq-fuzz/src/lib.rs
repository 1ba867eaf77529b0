//! # thermoq-fuzz — structure-aware fuzzing of every reader of user files, on stable Rust
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! Issue 18 asks that nothing a user supplies can crash thermoq. Each [`Target`] here feeds one
//! reader inputs built from the structure of its format — valid records with one field replaced
//! by an extreme, missing, negative, wrong-typed or oversized value, then byte-level damage
//! (flips, truncation, insertions, huge bincode length prefixes) — through proptest strategies:
//!
//! | target | reader |
//! |---|---|
//! | `model-json` | [`thermoq_core::IsingFile::from_json_str`] |
//! | `model-binary` | [`thermoq_core::IsingFile::from_bytes`] |
//! | `colouring` | [`thermoq_core::Coloring::from_json_str`] |
//! | `cd-checkpoint` | [`thermoq_train::Checkpoint`] JSON + [`thermoq_train::Checkpoint::resume`] |
//! | `dtm-checkpoint` | [`thermoq_train::dtm::DtmCheckpoint`] JSON + `DtmRun::from_checkpoint` (small trained checkpoints, T = 1 and 2) |
//! | `tau-csv` | [`thermoq_data::columns::parse_columns`], the τ / ESS / R̂ estimators and the doubling run, as `thermoq tau` calls them (mostly clean numeric CSV, some broken) |
//!
//! A reader passes when it returns (`Ok` or a typed error) without panicking; the test binaries
//! (`tests/fuzz.rs`, `tests/fuzz_runs.rs`) also install the counting global allocator of
//! [`harness`] and fail any case whose single largest allocation exceeds [`ALLOC_BUDGET`]. `cargo test -p thermoq-fuzz` runs a short seeded
//! pass; `cargo xtask fuzz --cases N` runs N cases per target. Cell files and run
//! manifests (issue 18, item 7) have no reader in this tree yet and are not covered.

pub mod harness;
pub mod runs;

use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// The largest single allocation any case may make (64 MiB).
pub const ALLOC_BUDGET: usize = 64 << 20;

/// The fuzz targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// JSON model files.
    ModelJson,
    /// Binary model files.
    ModelBinary,
    /// Colouring files.
    Colouring,
    /// CD trainer checkpoints.
    CdCheckpoint,
    /// DTM run checkpoints.
    DtmCheckpoint,
    /// Series read by `thermoq tau`.
    TauCsv,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 6] = [
        Target::ModelJson,
        Target::ModelBinary,
        Target::Colouring,
        Target::CdCheckpoint,
        Target::DtmCheckpoint,
        Target::TauCsv,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Target::ModelJson => "model-json",
            Target::ModelBinary => "model-binary",
            Target::Colouring => "colouring",
            Target::CdCheckpoint => "cd-checkpoint",
            Target::DtmCheckpoint => "dtm-checkpoint",
            Target::TauCsv => "tau-csv",
        }
    }

    /// Feeds one input to the reader. Returns whether the reader accepted it.
    pub fn run(self, input: &[u8]) -> bool {
        let text = || std::str::from_utf8(input).ok();
        match self {
            Target::ModelJson => {
                text().is_some_and(|t| thermoq_core::IsingFile::from_json_str(t, "fuzz").is_ok())
            }
            Target::ModelBinary => thermoq_core::IsingFile::from_bytes(input, "fuzz").is_ok(),
            Target::Colouring => text().is_some_and(|t| {
                let g = thermoq_core::Graph::new(5, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]);
                g.is_ok_and(|g| thermoq_core::Coloring::from_json_str(t, &g).is_ok())
            }),
            Target::CdCheckpoint => serde_json::from_slice::<thermoq_train::Checkpoint>(input)
                .is_ok_and(|c| c.resume().is_ok()),
            Target::DtmCheckpoint => {
                serde_json::from_slice::<thermoq_train::dtm::DtmCheckpoint>(input)
                    .is_ok_and(|c| thermoq_train::dtm::DtmRun::from_checkpoint(c).is_ok())
            }
            Target::TauCsv => text().is_some_and(tau_pipeline),
        }
    }

    /// The structure-aware input strategy of this target.
    pub fn inputs(self) -> BoxedStrategy<Vec<u8>> {
        match self {
            Target::ModelJson => json_inputs(model_value()),
            Target::ModelBinary => binary_model_inputs(),
            Target::Colouring => json_inputs(Just(json!({"colors": [0, 1, 0, 1, 2]})).boxed()),
            Target::CdCheckpoint => json_inputs(Just(cd_checkpoint().clone()).boxed()),
            Target::DtmCheckpoint => json_inputs(
                prop_oneof![
                    3 => Just(dtm_checkpoint().clone()),
                    1 => Just(dtm_checkpoint_two_steps().clone()),
                ]
                .boxed(),
            ),
            Target::TauCsv => tau_inputs(),
        }
    }
}

/// What `thermoq tau` does with a series file: parse, bring extreme magnitudes into range by a
/// power of two (as the CLI does), then the pooled Sokal τ̂, ESS, split-R̂ and the doubling run.
/// Returns whether every estimate came back. The estimators are also run on the raw values
/// (where only "no panic" is asked). A finding is a panic, and so is an estimator that returns
/// `Ok` with a non-finite number on in-range values: that would be a silent NaN.
fn tau_pipeline(text: &str) -> bool {
    use thermoq_snr::tau::{self, ChainSet};
    let Ok(mut cols) = thermoq_data::columns::parse_columns(text) else {
        return false;
    };
    {
        // Raw values, extreme magnitudes included: any answer is fine, no panic.
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        if let Ok(set) = ChainSet::new(&refs) {
            let _ = tau::sokal_pooled(&set);
            let _ = tau::ess(&set);
            let _ = tau::split_rhat(&set);
        }
    }
    thermoq_data::columns::rescale_extreme(&mut cols);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let Ok(set) = ChainSet::new(&refs) else {
        return false;
    };
    let finite = |what: &str, v: f64| {
        assert!(
            v.is_finite(),
            "tau-csv finding: {what} returned Ok({v}) on in-range values"
        );
    };
    let a = tau::sokal_pooled(&set);
    if let Ok(e) = &a {
        finite("sokal_pooled tau", e.tau);
        finite("sokal_pooled std_err", e.std_err);
        finite("sokal_pooled ess", e.ess);
    }
    let b = tau::ess(&set);
    if let Ok(x) = b {
        finite("ess", x);
    }
    let c = tau::split_rhat(&set);
    if let Ok(x) = c {
        finite("split_rhat", x);
    }
    let d = tau::doubling_prefixes(&cols);
    a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok()
}

/// Interesting replacement values for one JSON field.
fn extreme_value() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(1e-320)),
        Just(json!(u64::MAX)),
        Just(json!(4_294_967_294u64)),
        Just(json!(1u64 << 60)),
        Just(json!(i64::MIN)),
        Just(json!("x")),
        Just(json!([])),
        Just(json!({})),
        (0usize..3000, -2.0f64..2.0).prop_map(|(n, v)| json!(vec![v; n])),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(|v| json!(v)),
        any::<i64>().prop_map(|v| json!(v)),
    ]
    .boxed()
}

/// A small, mostly valid model record (some fields then get damaged).
fn model_value() -> BoxedStrategy<Value> {
    (
        1usize..8,
        0.1f64..3.0,
        proptest::collection::vec((0usize..8, 0usize..8, -2.0f64..2.0), 0..12),
    )
        .prop_map(|(n, beta, edges)| {
            json!({"format": "thermoq-ising-v1", "n": n, "beta": beta, "h": vec![0.1; n],
                   "edges": edges.iter().map(|&(i, j, w)| json!([i, j, w])).collect::<Vec<_>>()})
        })
        .boxed()
}

/// Replaces the node at a pseudo-random path (chosen by `picks`) with `v`.
fn replace_at(node: &mut Value, picks: &[usize], v: Value) {
    let Some((&p, rest)) = picks.split_first() else {
        *node = v;
        return;
    };
    match node {
        Value::Array(a) if !a.is_empty() => {
            let k = p % a.len();
            replace_at(&mut a[k], rest, v);
        }
        Value::Object(o) if !o.is_empty() => {
            let k = p % o.len();
            if let Some(x) = o.values_mut().nth(k) {
                replace_at(x, rest, v);
            }
        }
        _ => *node = v,
    }
}

/// Removes a pseudo-random key from the first object on the path.
fn drop_key(root: &mut Value, pick: usize) {
    if let Value::Object(o) = root
        && !o.is_empty()
    {
        let k = o.keys().nth(pick % o.len()).cloned();
        if let Some(k) = k {
            o.remove(&k);
        }
    }
}

/// One byte-level damage to a serialized input.
#[derive(Clone, Debug)]
enum ByteEdit {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Flip(i, b)),
        any::<usize>().prop_map(ByteEdit::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..12)
        )
            .prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        // a bincode varint that claims a huge length
        (any::<usize>(), any::<u64>()).prop_map(|(i, n)| {
            let mut b = vec![253u8];
            b.extend_from_slice(&n.to_le_bytes());
            ByteEdit::Insert(i, b)
        }),
    ];
    proptest::collection::vec(edit, 0..3)
}

fn apply(mut bytes: Vec<u8>, edits: &[ByteEdit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            ByteEdit::Flip(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] ^= b;
                }
            }
            ByteEdit::Truncate(i) => bytes.truncate(i % len),
            ByteEdit::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
        }
    }
    bytes
}

/// JSON inputs: the base record, up to three fields replaced by extreme values, perhaps a key
/// dropped, then serialized and (sometimes) damaged byte by byte.
fn json_inputs(base: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    (
        base,
        proptest::collection::vec(
            (
                proptest::collection::vec(any::<usize>(), 0..6),
                extreme_value(),
            ),
            0..4,
        ),
        proptest::option::of(any::<usize>()),
        byte_edits(),
        any::<bool>(),
    )
        .prop_map(|(mut v, reps, drop, edits, damage)| {
            for (path, x) in reps {
                replace_at(&mut v, &path, x);
            }
            if let Some(d) = drop {
                drop_key(&mut v, d);
            }
            let bytes = serde_json::to_vec(&v).unwrap_or_default();
            if damage { apply(bytes, &edits) } else { bytes }
        })
        .boxed()
}

fn binary_model_inputs() -> BoxedStrategy<Vec<u8>> {
    (model_value(), byte_edits())
        .prop_map(|(v, edits)| {
            let text = v.to_string();
            let bytes = match thermoq_core::IsingFile::from_json_str(&text, "fuzz") {
                Ok(f) => f.to_bytes(),
                Err(_) => b"TQISING1".to_vec(),
            };
            apply(bytes, &edits)
        })
        .boxed()
}

/// A small deterministic generator (SplitMix64) for the values of one generated series file:
/// the strategy draws its seed, so every file is reproducible from the proptest case.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [−1, 1).
    fn sym(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// How the numbers of a generated series file are made.
#[derive(Clone, Copy, Debug)]
enum Regime {
    /// AR(1) with this coefficient (from strongly anti-correlated to nearly frozen).
    Ar1(f64),
    /// Every chain constant (zero variance), or constant per chain with different levels.
    Constant { per_chain: bool },
    /// A chain that takes two values only (a spin, or a frozen one that flips rarely).
    TwoLevel(f64),
    /// Mostly zeros with rare spikes.
    Spikes,
}

fn regime() -> impl Strategy<Value = Regime> {
    prop_oneof![
        4 => (-0.99f64..0.999).prop_map(Regime::Ar1),
        1 => any::<bool>().prop_map(|per_chain| Regime::Constant { per_chain }),
        1 => (0.0f64..0.5).prop_map(Regime::TwoLevel),
        1 => Just(Regime::Spikes),
    ]
}

/// One clean series file: `m` chains × `n` rows of finite numbers from `regime`, scaled by
/// `10^exp10` (extreme magnitudes near 1e±308 and subnormals included), written with a random
/// separator, number format, optional header and comment lines.
#[allow(clippy::too_many_arguments)]
fn clean_series(
    seed: u64,
    m: usize,
    n: usize,
    regime: Regime,
    exp10: i32,
    sep: char,
    sci: bool,
    header: bool,
    comments: bool,
) -> String {
    let mut r = Mix(seed);
    let scale = 10f64.powi(exp10);
    let offset: Vec<f64> = (0..m).map(|_| r.sym() * 3.0).collect();
    let mut state: Vec<f64> = (0..m).map(|_| r.sym()).collect();
    let mut s = String::new();
    if header {
        let names: Vec<String> = (0..m).map(|c| format!("chain{c}")).collect();
        s.push_str(&names.join(&sep.to_string()));
        s.push('\n');
    }
    for t in 0..n {
        if comments && t % 17 == 3 {
            s.push_str("# a comment line\n");
        }
        let mut row = Vec::with_capacity(m);
        for c in 0..m {
            let x = match regime {
                Regime::Ar1(phi) => {
                    state[c] = phi * state[c] + (1.0 - phi * phi).sqrt() * r.sym();
                    state[c] + offset[c]
                }
                Regime::Constant { per_chain } => {
                    if per_chain {
                        offset[c]
                    } else {
                        1.25
                    }
                }
                Regime::TwoLevel(p) => {
                    if r.sym().abs() < p {
                        state[c] = -state[c];
                    }
                    state[c].signum()
                }
                Regime::Spikes => {
                    if r.next().is_multiple_of(29) {
                        r.sym() * 1e3
                    } else {
                        0.0
                    }
                }
            } * scale;
            // Keep the value finite: scaling 3·1e308 would overflow.
            let x = if x.is_finite() {
                x
            } else {
                f64::MAX.copysign(x)
            };
            row.push(if sci {
                format!("{x:e}")
            } else {
                format!("{x}")
            });
        }
        s.push_str(&row.join(&sep.to_string()));
        s.push('\n');
    }
    s
}

/// Broken series files: fields that are not numbers, non-finite values, ragged rows.
fn broken_series() -> BoxedStrategy<String> {
    let value = prop_oneof![
        (-10.0f64..10.0).prop_map(|v| format!("{v}")),
        Just("1e308".to_string()),
        Just("-1.7e308".to_string()),
        Just("1e-320".to_string()),
        Just("0".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("x".to_string()),
        Just(String::new()),
    ];
    (
        proptest::collection::vec(proptest::collection::vec(value, 1..4), 0..80),
        any::<bool>(),
    )
        .prop_map(|(rows, header)| {
            let mut s = String::new();
            if header {
                s.push_str("a,b,c\n");
            }
            for r in rows {
                s.push_str(&r.join(","));
                s.push('\n');
            }
            s
        })
        .boxed()
}

/// Series files: about 85% clean numeric CSV (1–4 chains of 2–400 rows — a few shorter than the
/// 8-sample minimum — of moderate, huge, tiny or subnormal finite values; see [`clean_series`]),
/// the rest broken files; then, one time in eight, byte-level damage.
fn tau_inputs() -> BoxedStrategy<Vec<u8>> {
    let clean = (
        any::<u64>(),
        1usize..5,
        prop_oneof![1 => 2usize..8, 12 => 8usize..400],
        regime(),
        prop_oneof![
            6 => Just(0i32),
            1 => -3i32..4,
            1 => 300i32..309,
            1 => -330i32..-300,
        ],
        prop_oneof![Just(','), Just(' '), Just('\t'), Just(';')],
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(seed, m, n, reg, e, sep, sci, header, comments)| {
            clean_series(seed, m, n, reg, e, sep, sci, header, comments)
        });
    (
        prop_oneof![17 => clean, 3 => broken_series()],
        prop::bool::weighted(0.125),
        byte_edits(),
    )
        .prop_map(|(s, damage, edits)| {
            let bytes = s.into_bytes();
            if damage { apply(bytes, &edits) } else { bytes }
        })
        .boxed()
}

/// A real CD checkpoint (4 spins, one step taken) as JSON.
pub fn cd_checkpoint() -> &'static Value {
    static C: OnceLock<Value> = OnceLock::new();
    C.get_or_init(|| {
        use thermoq_train::{Adam, CdConfig, CdTrainer, Checkpoint, LrSchedule, Optimizer};
        let n = 4;
        let g = thermoq_core::Graph::complete(n);
        let m = g.n_edges();
        let built = thermoq_models::IsingModel::new(g, vec![0.1; m], vec![0.0; n], 1.0)
            .ok()
            .and_then(|model| {
                let cfg = CdConfig {
                    kernel: thermoq_samplers::KernelKind::Rs1,
                    n_chains: 4,
                    burn_in: 1,
                    sweeps: 2,
                    persistent: true,
                    batch_size: 0,
                    train_biases: true,
                    seed: 1,
                    steps_per_epoch: 2,
                };
                let opt = Optimizer::Adam(Adam::new(LrSchedule::constant(0.05).ok()?).ok()?);
                let mut t = CdTrainer::new(model, (0..n).collect(), cfg, opt).ok()?;
                let d: Vec<f64> = (0..m).map(|_| -0.3).chain((0..n).map(|_| -0.2)).collect();
                t.step(thermoq_train::PositiveData::Moments(&d)).ok()?;
                serde_json::to_value(Checkpoint::of(&t)).ok()
            });
        built.unwrap_or(Value::Null)
    })
}

/// A small but structurally complete DTM checkpoint as JSON: one epoch trained (Adam moments,
/// penalty state with a measured autocorrelation, one history record with a probe and an
/// inpainting error) on 20 synthetic 28×28 digits (0 and 1, pooled to 14×14), on the 20_8 grid
/// (400 nodes, 1600 couplings), one label spot, `steps` diffusion steps. About 2000 parameters
/// per layer, so a case costs well under a millisecond.
fn small_dtm_checkpoint(steps: usize) -> Value {
    use std::ops::ControlFlow;
    use thermoq_train::dtm::{DtmData, DtmRun, DtmRunConfig, ProbeConfig};
    let cfg = DtmRunConfig {
        grid: thermoq_models::dtm::GridName::S20D8,
        digits: vec![0, 1],
        label_spots: 1,
        steps,
        batch: 8,
        warmup: 2,
        samples: 2,
        sweeps_per_sample: 1,
        epochs: 1,
        lr_decay_epochs: 1,
        probe: Some(ProbeConfig {
            every: 1,
            replicates: 2,
            batch: 4,
        }),
        inpaint_test: 2,
        ..DtmRunConfig::quick()
    };
    let mut r = Mix(0x5eed);
    let pixels: Vec<u8> = (0..20 * 784).map(|_| (r.next() % 256) as u8).collect();
    let labels: Vec<u8> = (0..20).map(|k| (k % 2) as u8).collect();
    let built = thermoq_data::Mnist::new(28, 28, pixels, labels)
        .ok()
        .and_then(|m| DtmData::from_mnist(&m, &cfg).ok())
        .and_then(|data| {
            let mut run = DtmRun::new(cfg).ok()?;
            run.train(&data, |_| {}, |_| Ok(ControlFlow::Continue(())))
                .ok()?;
            serde_json::to_value(run.checkpoint()).ok()
        });
    built.unwrap_or(Value::Null)
}

/// The one-step small DTM checkpoint (see `small_dtm_checkpoint`).
pub fn dtm_checkpoint() -> &'static Value {
    static C: OnceLock<Value> = OnceLock::new();
    C.get_or_init(|| small_dtm_checkpoint(1))
}

/// The two-step (T = 2) small DTM checkpoint.
pub fn dtm_checkpoint_two_steps() -> &'static Value {
    static C: OnceLock<Value> = OnceLock::new();
    C.get_or_init(|| small_dtm_checkpoint(2))
}
