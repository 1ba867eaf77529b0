//! End-to-end tests of the `thermoq` binary: a valid model gives moments close to the exact ones;
//! bad input gives a non-zero exit and an error naming the field, never a panic.

use std::path::Path;
use std::process::{Command, Output};
use thermoq_core::IsingFile;
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel, builders};
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::{GibbsKernel, KernelKind};

fn thermoq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thermoq"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exact asymptotic variance `v = c_0 + 2 Σ c_t` of `f` under the sweep operator (see
/// `thermoq-samplers/tests/moments.rs` for the derivation of the tolerance used below).
fn asymptotic_variance(ek: &ExactKernel, pi: &[f64], f: &[f64]) -> f64 {
    let m: f64 = pi.iter().zip(f).map(|(p, v)| p * v).sum();
    let fbar: Vec<f64> = f.iter().map(|v| v - m).collect();
    let dot = |g: &[f64]| -> f64 {
        pi.iter()
            .zip(&fbar)
            .zip(g)
            .map(|((p, a), b)| p * a * b)
            .sum()
    };
    let c0 = dot(&fbar);
    let mut g = fbar.clone();
    let mut v = c0;
    for _ in 0..10_000 {
        ek.apply_right(&mut g);
        let ct = dot(&g);
        v += 2.0 * ct;
        if ct.abs() < 1e-12 * c0 {
            break;
        }
    }
    v
}

#[test]
fn sample_matches_exact_moments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = builders::random_sparse(7, 0.5, 0.6, 0.3, 1.0, 21);
    let path = dir.path().join("m.json");
    model.to_file().save(&path).expect("save");
    let out = dir.path().join("moments.json");
    let (chains, sweeps, burn_in) = (32usize, 3000usize, 200usize);
    let (chains_s, sweeps_s, burn_in_s) =
        (chains.to_string(), sweeps.to_string(), burn_in.to_string());
    // the same BLK-SYM run (seed 3) of the model file `m`, plus `extra` arguments
    let sample = |m: &Path, extra: &[&str]| {
        let m = m.display().to_string();
        let mut args = vec![
            "sample",
            "--model",
            &m,
            "--kernel",
            "blk-sym",
            "--chains",
            &chains_s,
            "--sweeps",
            &sweeps_s,
            "--burn-in",
            &burn_in_s,
            "--seed",
            "3",
        ];
        args.extend_from_slice(extra);
        thermoq(&args)
    };
    let o = sample(&path, &["--out", &out.display().to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("output")).expect("json");
    let m1: Vec<f64> = serde_json::from_value(doc["m1"].clone()).expect("m1");
    let m2: Vec<f64> = serde_json::from_value(doc["m2_edges"].clone()).expect("m2_edges");
    assert_eq!(m1.len(), 7);
    assert_eq!(m2.len(), model.graph().n_edges());
    assert_eq!(doc["config"]["kernel"], "blk-sym");
    assert_eq!(doc["config"]["chains"], chains);
    assert_eq!(doc["config"]["seed"], 3);
    assert_eq!(doc["count"], (chains * sweeps) as u64);
    assert!(doc["config"]["threads"].as_u64().is_some_and(|t| t >= 1));
    assert_eq!(doc["config"]["thermoq_version"], env!("CARGO_PKG_VERSION"));

    // Exact oracle. tol = z·sqrt(v_a / (C·K)) with v_a the exact asymptotic variance of each
    // moment under the BLK-SYM sweep operator and z the two-sided Bonferroni value for the
    // 7 + |E| ≤ 30 moments at family-wise rate 1e-4 (z ≈ 4.65 for 30 moments; we use 5). The burn-in
    // of 200 sweeps leaves a start-up bias far below 1e-9 for this weakly coupled model.
    let law = ExactLaw::new(&model).expect("enumerable");
    let kernel = GibbsKernel::new(KernelKind::BlkSym, model.graph(), None).expect("kernel");
    let ek = ExactKernel::new(&kernel, &model).expect("exact");
    let ns = law.n_states();
    let spin = |s: usize, i: usize| if (s >> i) & 1 == 1 { 1.0 } else { -1.0 };
    let mut fs: Vec<Vec<f64>> = (0..7)
        .map(|i| (0..ns).map(|s| spin(s, i)).collect())
        .collect();
    for (i, j) in model.graph().edges() {
        fs.push((0..ns).map(|s| spin(s, i) * spin(s, j)).collect());
    }
    let exact: Vec<f64> = law
        .m1()
        .into_iter()
        .chain(law.m2(model.graph().edges()))
        .collect();
    let got: Vec<f64> = m1.iter().chain(&m2).copied().collect();
    assert!(fs.len() <= 30);
    for ((f, e), g) in fs.iter().zip(&exact).zip(&got) {
        let tol = 5.0 * (asymptotic_variance(&ek, &law.pi, f) / (chains * sweeps) as f64).sqrt();
        assert!((g - e).abs() <= tol, "sampled {g} vs exact {e} (tol {tol})");
    }
    let e_exact = law.energy_mean();
    let e_got = doc["energy_mean"].as_f64().expect("energy_mean");
    assert!((e_got - e_exact).abs() < 0.1, "{e_got} vs {e_exact}");
    assert!(doc["energy_var"].as_f64().is_some_and(|v| v > 0.0));

    // same run to stdout, with another thread count and the binary form: identical moments
    let bin = dir.path().join("m.bin");
    model.to_file().save(&bin).expect("save bin");
    let o = sample(&bin, &["--threads", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc2: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout json");
    assert_eq!(doc2["m1"], doc["m1"]);
    assert_eq!(doc2["m2_edges"], doc["m2_edges"]);
    assert_eq!(doc2["config"]["threads"], 1);
}

#[test]
fn sample_accepts_a_user_coloring_and_every_kernel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = IsingModel::from_file(
        &IsingFile::new(
            4,
            0.5,
            vec![0.1, 0.0, -0.1, 0.2],
            vec![(0, 1, 0.5), (1, 2, -0.3), (2, 3, 0.4), (3, 0, 0.2)],
        )
        .expect("valid"),
    )
    .expect("model");
    let path = dir.path().join("ring.json");
    model.to_file().save(&path).expect("save");
    let colors = write(dir.path(), "colors.json", "{\"colors\": [0, 1, 0, 1]}");
    let p = path.display().to_string();
    for kind in KernelKind::ALL {
        let o = thermoq(&[
            "sample",
            "--model",
            &p,
            "--kernel",
            kind.name(),
            "--chains",
            "4",
            "--sweeps",
            "50",
            "--burn-in",
            "5",
            "--colors",
            &colors,
        ]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        if kind.is_block() {
            assert_eq!(doc["config"]["n_colors"], 2);
        }
    }
}

#[test]
fn inspect_reports_structure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = builders::lattice_2d(4, 4, 0.4, 0.0, 0.7).expect("lattice");
    let path = dir.path().join("lat.json");
    model.to_file().save(&path).expect("save");
    let o = thermoq(&["inspect", "--model", &path.display().to_string(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["n"], 16);
    assert_eq!(doc["edges"], 32);
    assert_eq!(doc["beta"], 0.7);
    assert_eq!(doc["degree_min"], 4);
    assert_eq!(doc["degree_max"], 4);
    assert_eq!(doc["bias_free"], true);
    assert_eq!(doc["dsatur_colors"], 2);
    assert_eq!(doc["encoding"], "json");
    let o = thermoq(&["inspect", "--model", &path.display().to_string()]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("bias-free    yes") && text.contains("DSATUR 2"),
        "{text}"
    );
}

#[test]
fn help_explains_every_command() {
    let o = thermoq(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for cmd in ["sample", "inspect"] {
        assert!(text.contains(cmd), "--help does not mention {cmd}: {text}");
    }
}

/// Every bad input: non-zero exit, a message naming the field, no panic.
#[test]
fn bad_input_names_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = r#"{"format":"thermoq-ising-v1","n":3,"beta":1.0,"h":[0,0.1,-0.2],"edges":[[0,1,0.5],[1,2,-0.25]]}"#;
    let good = write(dir.path(), "good.json", ok);
    // (name, text replaced in the good model, replacement, field named, detail named); an empty
    // pattern replaces the whole text
    let model_cases = [
        (
            "selfloop",
            "[1,2,-0.25]",
            "[1,1,-0.25]",
            "edges",
            "self-loop",
        ),
        ("range", "[1,2,-0.25]", "[1,3,-0.25]", "edges", "0..3"),
        (
            "nan-h",
            "[0,0.1,-0.2]",
            "[0,\"NaN\",-0.2]",
            "h[1]",
            "finite",
        ),
        (
            "nan-beta",
            "\"beta\":1.0",
            "\"beta\":\"nan\"",
            "beta",
            "finite",
        ),
        ("neg-beta", "\"beta\":1.0", "\"beta\":-2", "beta", "> 0"),
        (
            "null-j",
            "[1,2,-0.25]",
            "[1,2,null]",
            "edges[1][2]",
            "finite",
        ),
        (
            "tag",
            "thermoq-ising-v1",
            "thermoq-ising-v0",
            "format",
            "thermoq-ising-v1",
        ),
        ("short-h", "[0,0.1,-0.2]", "[0,0.1]", "h", "length 2"),
        ("dup", "[1,2,-0.25]", "[1,0,-0.25]", "edges", "duplicates"),
        ("not-json", "", "{oops", "cannot parse", "thermoq-ising-v1"),
    ];
    for (name, from, to, field, detail) in model_cases {
        let text = if from.is_empty() {
            to.to_string()
        } else {
            ok.replace(from, to)
        };
        let p = write(dir.path(), &format!("{name}.json"), &text);
        for args in [
            vec!["sample", "--model", p.as_str(), "--sweeps", "5"],
            vec!["inspect", "--model", p.as_str()],
        ] {
            let o = thermoq(&args);
            let e = stderr(&o);
            assert!(!o.status.success(), "{name}: accepted");
            assert_eq!(o.status.code(), Some(1), "{name}: {e}");
            assert!(!e.contains("panicked"), "{name}: {e}");
            assert!(
                e.contains(field) && e.contains(detail),
                "{name}: {e} (expected {field}, {detail})"
            );
        }
    }
    // binary form with a corrupt body
    let mut bytes = IsingFile::from_json_str(ok, "t").expect("ok").to_bytes();
    bytes.truncate(bytes.len() - 4);
    let bin = dir.path().join("cut.bin");
    std::fs::write(&bin, bytes).expect("write");
    let o = thermoq(&["inspect", "--model", &bin.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("binary"), "{}", stderr(&o));
    // missing file
    let o = thermoq(&["sample", "--model", "/nonexistent/m.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/m.json"));
    // run options
    let bad_colors = write(dir.path(), "c1.json", "[0, 0, 1]");
    let short_colors = write(dir.path(), "c2.json", "[0, 1]");
    let neg_colors = write(dir.path(), "c3.json", "[0, -1, 0]");
    let run_cases: [(&[&str], &str); 6] = [
        (&["--kernel", "gibbs"], "kernel"),
        (&["--chains", "0"], "chains"),
        (&["--sweeps", "0"], "sweeps"),
        (
            &["--kernel", "blk-sym", "--colors", &bad_colors],
            "colouring: spins 0 and 1",
        ),
        (
            &["--kernel", "blk-sym", "--colors", &short_colors],
            "colors: has length 2, expected 3",
        ),
        (
            &["--kernel", "blk-sym", "--colors", &neg_colors],
            "colors[1]",
        ),
    ];
    for (extra, want) in run_cases {
        let mut args = vec!["sample", "--model", good.as_str()];
        args.extend_from_slice(extra);
        if !extra.contains(&"--sweeps") {
            args.extend_from_slice(&["--sweeps", "5"]);
        }
        let o = thermoq(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {e}");
        assert!(!e.contains("panicked"), "{extra:?}: {e}");
        assert!(e.contains(want), "{extra:?}: {e} (expected {want})");
    }
    // clap rejects malformed numbers itself (exit 2), naming the option
    let o = thermoq(&["sample", "--model", &good, "--chains", "many"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--chains"));
}
