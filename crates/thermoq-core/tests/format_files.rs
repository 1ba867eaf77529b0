//! File-level tests of the `thermoq-ising-v1` format: arbitrary valid records survive a save/load
//! round trip through both the JSON and the binary form exactly (bit-identical numbers, same edge
//! order and orientation), and the two forms are told apart by the magic alone.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use proptest::prelude::*;
use std::path::PathBuf;
use thermoq_core::IsingFile;
use thermoq_core::format::BINARY_MAGIC;

/// A scratch path unique to this process and test case.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("thermoq-core-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Valid records: N in 1..12, a random simple edge set in random orientation, finite numbers of
/// any magnitude (including subnormal-free extremes and negative zero).
fn record() -> impl Strategy<Value = IsingFile> {
    let num = prop_oneof![
        -10.0f64..10.0,
        Just(-0.0f64),
        Just(1e-300f64),
        Just(-1.7e308f64),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ];
    (1usize..12, 1e-3f64..50.0, any::<u64>()).prop_flat_map(move |(n, beta, seed)| {
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .filter(|&(i, j)| (seed >> ((i * 7 + j) % 64)) & 1 == 1)
            .map(|(i, j)| if (i + j) % 3 == 0 { (j, i) } else { (i, j) })
            .collect();
        let ne = pairs.len();
        (
            proptest::collection::vec(num.clone(), n),
            proptest::collection::vec(num.clone(), ne),
        )
            .prop_map(move |(h, j)| {
                let edges = pairs.iter().zip(j).map(|(&(a, b), w)| (a, b, w)).collect();
                IsingFile::new(n, beta, h, edges).expect("valid by construction")
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xf0_0001),
        ..ProptestConfig::default()
    })]

    #[test]
    fn save_load_roundtrips_exactly(f in record()) {
        for (name, binary) in [("rt.json", false), ("rt.bin", true)] {
            let p = scratch(name);
            f.save(&p).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            prop_assert_eq!(bytes.starts_with(BINARY_MAGIC), binary);
            let g = IsingFile::load(&p).unwrap();
            prop_assert_eq!(g.n, f.n);
            prop_assert_eq!(g.beta.to_bits(), f.beta.to_bits());
            for (a, b) in g.h.iter().zip(&f.h) {
                prop_assert_eq!(a.to_bits(), b.to_bits(), "{}: h {} vs {}", name, a, b);
            }
            prop_assert_eq!(g.edges.len(), f.edges.len());
            for (a, b) in g.edges.iter().zip(&f.edges) {
                prop_assert_eq!((a.0, a.1), (b.0, b.1));
                prop_assert_eq!(a.2.to_bits(), b.2.to_bits(), "{}: J {} vs {}", name, a.2, b.2);
            }
        }
    }
}

#[test]
fn load_names_the_file_and_field() {
    let p = scratch("bad.json");
    std::fs::write(
        &p,
        r#"{"format":"thermoq-ising-v1","n":2,"beta":1,"h":[0,0],"edges":[[0,5,1]]}"#,
    )
    .unwrap();
    let e = IsingFile::load(&p).unwrap_err().to_string();
    assert!(e.starts_with("edges: edge 0 has endpoint 5"), "{e}");
    let missing = scratch("does-not-exist.json");
    let e = IsingFile::load(&missing).unwrap_err().to_string();
    assert!(e.contains("does-not-exist.json"), "{e}");
    // a JSON file that happens to be binary garbage after the magic is read as binary
    let q = scratch("garbage.json");
    std::fs::write(&q, b"TQISING1\xff\xff\xff").unwrap();
    let e = IsingFile::load(&q).unwrap_err().to_string();
    assert!(e.contains("binary"), "{e}");
}
