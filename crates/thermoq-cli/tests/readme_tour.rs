//! The README's tour, run verbatim: every `cargo run -p thermoq-cli -- …` line of the first code
//! block after "## A five-minute tour" is run with the built `thermoq` binary in a fresh folder, in
//! order, and must succeed. A newcomer who copies the block gets the same result.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

const PREFIX: &str = "cargo run -p thermoq-cli -- ";

/// Runs the built `thermoq` with `args` in the folder `dir`.
fn thermoq_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thermoq"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("thermoq runs")
}

/// `thermoq model` with `args` in the folder `dir`.
fn model_in(dir: &Path, args: &[&str]) -> Output {
    thermoq_in(dir, &[&["model"], args].concat())
}

/// The tour's commands, as argument lists (shell comments removed).
fn tour_commands(readme: &str) -> Vec<Vec<String>> {
    let start = readme
        .find("## A five-minute tour")
        .expect("README has a tour section");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("tour has a sh block") + "```sh\n".len();
    let close = rest[open..].find("```").expect("tour block is closed") + open;
    rest[open..close]
        .lines()
        .filter_map(|l| l.strip_prefix(PREFIX))
        .map(|l| {
            let l = l.split(" #").next().unwrap_or(l);
            l.split_whitespace().map(str::to_string).collect()
        })
        .collect()
}

#[test]
fn readme_tour_runs_verbatim() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md readable");
    let cmds = tour_commands(&readme);
    assert!(
        cmds.len() >= 6,
        "the tour lists the model, inspect, sample, spectrum and snr commands (found {})",
        cmds.len()
    );
    assert!(
        cmds.iter().any(|c| c.first().is_some_and(|s| s == "model")),
        "the tour starts from a model file made by `thermoq model`"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for args in &cmds {
        let out = thermoq_in(dir.path(), args);
        assert!(
            out.status.success(),
            "`thermoq {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("model.json").exists());
}

#[test]
fn model_families_write_loadable_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: &[&[&str]] = &[
        &["lattice", "--lx", "4", "--ly", "5", "--out", "a.bin"],
        &["curie-weiss", "--n", "6", "--out", "b.json"],
        &["sk", "--n", "6", "--seed", "3", "--out", "c.json"],
        &["hopfield", "--n", "8", "--patterns", "2", "--out", "d.json"],
        &["rbm", "--visible", "5", "--hidden", "3", "--out", "e.json"],
        &[
            "rbm",
            "--visible",
            "5",
            "--hidden",
            "3",
            "--planted",
            "2",
            "--out",
            "f.json",
        ],
        &[
            "sparse", "--n", "12", "--p", "0.3", "--h-std", "0.2", "--out", "g.json",
        ],
    ];
    let expect_spins = [20, 6, 6, 8, 8, 8, 12];
    for (args, n) in cases.iter().zip(expect_spins) {
        let st = model_in(dir.path(), args);
        assert!(
            st.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let file = dir.path().join(args[args.len() - 1]);
        let m = thermoq_core::format::IsingFile::load(&file).expect("written file loads");
        assert_eq!(m.n, n, "{args:?}");
    }
}

#[test]
fn model_rejects_bad_arguments_by_name() {
    let cases: &[(&[&str], &str)] = &[
        (&["curie-weiss", "--n", "0"], "--n"),
        (&["sk", "--n", "100000"], "--n"),
        (&["lattice", "--lx", "2"], "--lx"),
        (&["hopfield", "--n", "6", "--patterns", "7"], "--patterns"),
        (&["sparse", "--p", "1.5"], "--p"),
        (&["sparse", "--j-std=-1"], "--j-std"),
        (&["rbm", "--beta", "inf"], "--beta"),
        (&["rbm", "--std", "NaN"], "--std"),
        (
            &["dtm-layer", "--checkpoint", "no-such-file.json"],
            "--checkpoint",
        ),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    for (args, field) in cases {
        let out = model_in(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        // 1: our own check; 2: clap's usage error. Either way an exit code, not a signal.
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{args:?}: {:?} {err}",
            out.status
        );
        assert!(err.contains(field), "{args:?}: error names {field}: {err}");
    }
}
