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
//! | `dtm-checkpoint` | [`thermoq_train::dtm::DtmCheckpoint`] JSON + `DtmRun::from_checkpoint` |
//! | `tau-csv` | [`thermoq_data::columns::parse_columns`] and the τ / ESS / R̂ estimators |
//!
//! A reader passes when it returns (`Ok` or a typed error) without panicking; the test harness
//! (`tests/fuzz.rs`) also installs a counting global allocator and fails any case whose single
//! largest allocation exceeds [`ALLOC_BUDGET`]. `cargo test -p thermoq-fuzz` runs a short seeded
//! pass; `cargo xtask fuzz --cases N` runs N cases per target. Cell files and run
//! manifests (issue 18, item 7) have no reader in this tree yet and are not covered.

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
            Target::TauCsv => text().is_some_and(|t| {
                let Ok(cols) = thermoq_data::columns::parse_columns(t) else {
                    return false;
                };
                let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
                let Ok(set) = thermoq_snr::tau::ChainSet::new(&refs) else {
                    return false;
                };
                let a = thermoq_snr::tau::sokal_pooled(&set);
                let b = thermoq_snr::tau::ess(&set);
                let c = thermoq_snr::tau::split_rhat(&set);
                // Whatever is returned as a number must be a finite one.
                a.as_ref()
                    .is_ok_and(|e| e.tau.is_finite() && e.ess.is_finite())
                    && b.as_ref().is_ok_and(|x| x.is_finite())
                    && c.as_ref().is_ok_and(|x| x.is_finite())
            }),
        }
    }

    /// The structure-aware input strategy of this target.
    pub fn inputs(self) -> BoxedStrategy<Vec<u8>> {
        match self {
            Target::ModelJson => json_inputs(model_value()),
            Target::ModelBinary => binary_model_inputs(),
            Target::Colouring => json_inputs(Just(json!({"colors": [0, 1, 0, 1, 2]})).boxed()),
            Target::CdCheckpoint => json_inputs(Just(cd_checkpoint().clone()).boxed()),
            Target::DtmCheckpoint => json_inputs(Just(dtm_checkpoint().clone()).boxed()),
            Target::TauCsv => tau_inputs(),
        }
    }
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

fn tau_inputs() -> BoxedStrategy<Vec<u8>> {
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
        1usize..4,
        proptest::collection::vec(proptest::collection::vec(value, 1..4), 0..80),
        any::<bool>(),
        byte_edits(),
    )
        .prop_map(|(_, rows, header, edits)| {
            let mut s = String::new();
            if header {
                s.push_str("a,b,c\n");
            }
            for r in rows {
                s.push_str(&r.join(","));
                s.push('\n');
            }
            apply(s.into_bytes(), &edits)
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

/// A real DTM checkpoint (the quick preset on the 24_8 grid, before training) as JSON.
pub fn dtm_checkpoint() -> &'static Value {
    static C: OnceLock<Value> = OnceLock::new();
    C.get_or_init(|| {
        use thermoq_train::dtm::{DtmRun, DtmRunConfig};
        let cfg = DtmRunConfig {
            grid: thermoq_models::dtm::GridName::S24D8,
            label_spots: 2,
            probe: None,
            ..DtmRunConfig::quick()
        };
        DtmRun::new(cfg)
            .ok()
            .and_then(|r| serde_json::to_value(r.checkpoint()).ok())
            .unwrap_or(Value::Null)
    })
}
