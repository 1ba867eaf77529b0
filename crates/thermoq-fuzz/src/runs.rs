//! Fuzz targets for run folders ([`thermoq_repro::runs`]): stored cell files and a run folder's
//! records (`run.json`, `manifest.json`, `--shard` values).
//!
//! | target | reader |
//! |---|---|
//! | `cell-file` | [`thermoq_repro::runs::parse_cell`] (JSON, checksum, typed record) |
//! | `run-manifest` | [`thermoq_repro::runs::RunRecord::from_json`], `Manifest` JSON, `Shard` text |
//!
//! Cell inputs are valid cell files with fields replaced or dropped and bytes damaged, half of
//! them *resealed* (the checksum recomputed after the damage), so the typed decoding behind the
//! checksum is reached too, not only the checksum refusal.

use super::{extreme_value, json_inputs, replace_at};
use proptest::prelude::*;
use serde_json::{Value, json};
use thermoq_repro::runs::{
    CellRecord, Manifest, RunRecord, Shard, StoredCell, cell_bytes, cell_checksum, parse_cell,
};

/// A typed cell configuration, as an experiment's would be.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FuzzCell {
    /// Spins.
    pub n: usize,
    /// Inverse temperature.
    pub beta: f64,
    /// Kernel name.
    pub kernel: String,
    /// Seed.
    pub seed: u64,
}

/// A typed cell result.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FuzzOutput {
    /// Some numbers.
    pub q: Vec<f64>,
    /// A status word.
    pub status: String,
    /// An optional count.
    pub count: Option<u32>,
}

/// The run-folder fuzz targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunTarget {
    /// Stored cell files.
    CellFile,
    /// `run.json`, `manifest.json` and `--shard` values.
    RunManifest,
}

impl RunTarget {
    /// Every target.
    pub const ALL: [RunTarget; 2] = [RunTarget::CellFile, RunTarget::RunManifest];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            RunTarget::CellFile => "cell-file",
            RunTarget::RunManifest => "run-manifest",
        }
    }

    /// Feeds one input to the readers. Returns whether the (first) reader accepted it.
    pub fn run(self, input: &[u8]) -> bool {
        match self {
            RunTarget::CellFile => {
                let typed = parse_cell::<FuzzCell, FuzzOutput>(input);
                let untyped = parse_cell::<Value, Value>(input);
                // A typed record is intact only if the untyped one is (same checksum).
                if matches!(typed, StoredCell::Intact(_))
                    && !matches!(untyped, StoredCell::Intact(_))
                {
                    panic!("typed cell intact but untyped not");
                }
                matches!(typed, StoredCell::Intact(_))
            }
            RunTarget::RunManifest => {
                let rec = RunRecord::from_json(input);
                if let Ok(r) = &rec {
                    assert!(r.differences(r).is_empty(), "a record differs from itself");
                }
                let _ = serde_json::from_slice::<Manifest>(input);
                if let Ok(t) = std::str::from_utf8(input) {
                    // Only the `i/n` form: `auto` would read this process's environment.
                    if !t.trim_start().starts_with("auto")
                        && let Ok(s) = t.parse::<Shard>()
                    {
                        assert!(s.i < s.n, "shard {s:?} out of range");
                    }
                }
                rec.is_ok()
            }
        }
    }

    /// The structure-aware input strategy of this target.
    pub fn inputs(self) -> BoxedStrategy<Vec<u8>> {
        match self {
            RunTarget::CellFile => {
                prop_oneof![json_inputs(Just(seed_cell()).boxed()), resealed_cells(),].boxed()
            }
            RunTarget::RunManifest => prop_oneof![
                json_inputs(Just(seed_record()).boxed()),
                json_inputs(Just(seed_manifest()).boxed()),
                shard_texts(),
            ]
            .boxed(),
        }
    }
}

/// A valid cell file's JSON (with its checksum).
pub fn seed_cell() -> Value {
    let rec = CellRecord {
        id: "cw-n08-b0.5".to_string(),
        config: FuzzCell {
            n: 8,
            beta: 0.5,
            kernel: "RS1".into(),
            seed: 7,
        },
        result: FuzzOutput {
            q: vec![0.25, 1.5e-3, 12.0],
            status: "resolved".into(),
            count: Some(3),
        },
        seconds: 0.5,
    };
    cell_bytes(&rec)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn seed_record() -> Value {
    json!({"experiment": "exp1", "preset": "quick", "seed": 0, "revision": "abc123-dirty",
           "config_hash": "00ff", "cells": ["a", "b", "c"]})
}

fn seed_manifest() -> Value {
    json!({"experiment": "exp1", "git_revision": "abc", "version": "0.1.0",
           "command": ["xtask", "repro", "exp1"], "threads": 2, "shard": {"i": 0, "n": 1},
           "wall_seconds": 1.5, "run": seed_record()})
}

/// Cell files with up to three fields replaced, then the checksum recomputed.
fn resealed_cells() -> BoxedStrategy<Vec<u8>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<usize>(), 1..5),
            extreme_value(),
        ),
        1..4,
    )
    .prop_map(|reps| {
        let mut v = seed_cell();
        for (path, x) in reps {
            replace_at(&mut v, &path, x);
        }
        if let Ok(sum) = cell_checksum(&v)
            && let Some(m) = v.as_object_mut()
        {
            m.insert("sha256".into(), Value::String(sum));
        }
        serde_json::to_vec(&v).unwrap_or_default()
    })
    .boxed()
}

/// `i/n`-shaped text with odd numbers, signs, spaces and separators.
fn shard_texts() -> BoxedStrategy<Vec<u8>> {
    (
        prop_oneof![
            any::<u64>().prop_map(|x| x.to_string()),
            Just("-1".to_string()),
            Just("".to_string()),
            Just("18446744073709551616".to_string())
        ],
        prop_oneof![Just("/"), Just(" / "), Just("//"), Just(":"), Just("")],
        prop_oneof![
            (0u64..10).prop_map(|x| x.to_string()),
            any::<u64>().prop_map(|x| x.to_string()),
            Just("0".to_string()),
            Just("x".to_string())
        ],
    )
        .prop_map(|(a, sep, b)| format!("{a}{sep}{b}").into_bytes())
        .boxed()
}
