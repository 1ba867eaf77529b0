//! The committed cells of exp1, exp2 and exp5, re-summarized by this crate, give the committed
//! `results.json` (grid, summary, cells) apart from `git_revision` — and for exp1 the one
//! deliberate change: the magnetization-mistiming median is now the true median of the 48
//! cells. The cells go through the typed results (deserialized, then serialized again), so this
//! also checks that the typed results keep every field name and value of the committed files;
//! and the report rendered from them ([`Render`]) is the committed one, file by file.

use serde_json::Value;
use thermoq_repro::exp1::Exp1;
use thermoq_repro::exp2::Exp2;
use thermoq_repro::exp5::Exp5;
use thermoq_repro::report::Render;
use thermoq_repro::{CellOutcome, Preset, RunConfig, assemble, stats::median};

/// `(re-summarized, committed)` results of `docs/reproductions/<folder>/results.json`, both
/// without `git_revision`, after checking that `exp`'s grid generates exactly the committed cells.
/// Also renders the report and compares every file with the committed one.
fn resummarize<E: Render>(exp: &E, folder: &str) -> (Value, Value, Vec<E::Output>) {
    let dir = format!(
        "{}/../../docs/reproductions/{folder}",
        env!("CARGO_MANIFEST_DIR")
    );
    let path = format!("{dir}/results.json");
    let mut committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("committed results"))
            .expect("parses");
    let cells: Vec<CellOutcome<E::Cell, E::Output>> =
        serde_json::from_value(committed["cells"].clone()).expect("cells deserialize");
    let grid = exp.cells();
    assert_eq!(grid.len(), cells.len(), "{folder}");
    for ((id, cfg), c) in grid.iter().zip(&cells) {
        assert!(id == &c.id && cfg == &c.config, "{folder}: cell {id}");
    }
    let outputs: Vec<E::Output> = serde_json::from_value(
        committed["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .map(|c| c["result"].clone())
            .collect(),
    )
    .expect("results deserialize");
    let res = assemble(exp, cells, String::new());
    let rendered = E::render(&res).expect("renders");
    for (name, text) in &rendered.files {
        let committed = std::fs::read_to_string(format!("{dir}/{name}")).expect("committed file");
        assert!(text == &committed, "{folder}/{name} renders differently");
    }
    let mut new = serde_json::to_value(res).expect("serializes");
    for v in [&mut new, &mut committed] {
        v.as_object_mut().expect("object").remove("git_revision");
    }
    (new, committed, outputs)
}

/// Equal values, and equal text byte for byte.
fn assert_same(new: &Value, old: &Value, folder: &str) {
    assert_eq!(new, old, "{folder}");
    assert_eq!(
        serde_json::to_string_pretty(new).expect("text"),
        serde_json::to_string_pretty(old).expect("text"),
        "{folder}"
    );
}

#[test]
fn committed_exp1_cells_resummarize_to_the_committed_results() {
    let exp = Exp1::new(RunConfig::new(Preset::Quick, 0));
    let (mut new, mut old, outputs) = resummarize(&exp, "exp1");
    let ratios: Vec<f64> = outputs
        .iter()
        .map(|r| r.tau_magnetization / r.tau_max)
        .collect();
    let true_median = median(ratios);
    assert_eq!(
        new["summary"]["magnetization_mistiming_median"].as_f64(),
        Some(true_median)
    );
    for v in [&mut new, &mut old] {
        v["summary"]
            .as_object_mut()
            .expect("summary")
            .remove("magnetization_mistiming_median");
    }
    assert_same(&new, &old, "exp1");
}

#[test]
fn committed_exp5_cells_resummarize_to_the_committed_results() {
    let exp = Exp5::new(RunConfig::new(Preset::Quick, 0));
    let (new, old, _) = resummarize(&exp, "exp5");
    assert_same(&new, &old, "exp5");
}

#[test]
fn committed_exp2_cells_resummarize_to_the_committed_results() {
    let exp = Exp2::new(RunConfig::new(Preset::Quick, 0));
    let (new, old, _) = resummarize(&exp, "exp2");
    assert_same(&new, &old, "exp2");
}
