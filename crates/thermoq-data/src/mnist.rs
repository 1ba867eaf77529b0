//! [`Mnist`]: grey-level digit images with labels, and the transforms the DTM trains on.
//!
//! Pixels are stored as bytes `0..=255` (grey level `v = byte / 255`), row-major, one image after
//! the other; labels are bytes `0..=9`. The pipeline used for the DTM (SCIENCE.md §3.1) is
//!
//! 1. [`Mnist::filter_classes`] — keep digits 0–3 ([`DEFAULT_CLASSES`]);
//! 2. [`Mnist::split`] — a fixed, seeded, stratified train/test split ([`SplitSpec`]);
//! 3. [`Mnist::binarize`] — pixel `v > 0.1` ⇒ spin `+1`, else `−1` ([`DEFAULT_THRESHOLD`]);
//! 4. optionally [`BinaryImages::max_pool_2x2`] — 28×28 → 14×14 for small grids (SCIENCE II.9);
//! 5. [`label_spins`] — the one-hot label repeated over `num_label_spots` groups of classes.

use crate::DataError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thermoq_core::Spin;

/// Binarization threshold of the DTM paper (`grayscale_levels = 1`): `v > 0.1` ⇒ `+1`.
pub const DEFAULT_THRESHOLD: f64 = 0.1;

/// Digit classes the DTM paper's MNIST runs train on.
pub const DEFAULT_CLASSES: [u8; 4] = [0, 1, 2, 3];

/// Number of digit classes in MNIST.
pub const N_CLASSES: usize = 10;

/// Labelled images of one shape, pixels of type `P` stored row-major, one image after the other:
/// [`Mnist`] (grey-level bytes) and [`BinaryImages`] (±1 spins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images<P> {
    rows: usize,
    cols: usize,
    pixels: Vec<P>,
    labels: Vec<u8>,
}

/// Grey-level images with labels.
pub type Mnist = Images<u8>;

/// ±1 images with labels (the output of [`Mnist::binarize`]).
pub type BinaryImages = Images<Spin>;

impl<P> Images<P> {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Pixels (or spins) per image (`rows · cols`).
    pub fn image_size(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i`, row-major.
    pub fn image(&self, i: usize) -> &[P] {
        let s = self.image_size();
        &self.pixels[i * s..(i + 1) * s]
    }

    /// Label of image `i`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl Mnist {
    /// Builds a dataset, checking `pixels.len() == labels.len() · rows · cols` and labels `< 10`.
    pub fn new(
        rows: usize,
        cols: usize,
        pixels: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        if rows == 0 || cols == 0 {
            return Err(DataError::invalid(
                "rows/cols",
                format!("image shape is {rows}×{cols}, expected both sides ≥ 1"),
            ));
        }
        let expected = labels
            .len()
            .checked_mul(rows * cols)
            .ok_or(DataError::invalid(
                "labels",
                "image count × image size overflows",
            ))?;
        if pixels.len() != expected {
            return Err(DataError::length("pixels", pixels.len(), expected));
        }
        if let Some(i) = labels.iter().position(|&l| usize::from(l) >= N_CLASSES) {
            return Err(DataError::invalid(
                format!("labels[{i}]"),
                format!("is {}, expected a digit 0..=9", labels[i]),
            ));
        }
        Ok(Self {
            rows,
            cols,
            pixels,
            labels,
        })
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// How many images of each digit.
    pub fn class_counts(&self) -> [usize; N_CLASSES] {
        let mut c = [0usize; N_CLASSES];
        for &l in &self.labels {
            c[usize::from(l)] += 1;
        }
        c
    }

    /// The images at `indices`, in that order (indices must be `< len`).
    pub fn subset(&self, indices: &[usize]) -> Result<Self, DataError> {
        let s = self.image_size();
        let mut pixels = Vec::with_capacity(indices.len() * s);
        let mut labels = Vec::with_capacity(indices.len());
        for (k, &i) in indices.iter().enumerate() {
            if i >= self.len() {
                return Err(DataError::invalid(
                    format!("indices[{k}]"),
                    format!("is {i}, expected an image index below {}", self.len()),
                ));
            }
            pixels.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Self::new(self.rows, self.cols, pixels, labels)
    }

    /// Keeps the images whose label is in `classes` (original order preserved).
    pub fn filter_classes(&self, classes: &[u8]) -> Result<Self, DataError> {
        if classes.is_empty() {
            return Err(DataError::invalid(
                "classes",
                "is empty, expected at least one digit 0..=9",
            ));
        }
        if let Some(&c) = classes.iter().find(|&&c| usize::from(c) >= N_CLASSES) {
            return Err(DataError::invalid(
                "classes",
                format!("contains {c}, expected digits 0..=9"),
            ));
        }
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| classes.contains(&self.labels[i]))
            .collect();
        self.subset(&keep)
    }

    /// A fixed, seeded, stratified train/test split (see [`SplitSpec`]).
    pub fn split(&self, spec: &SplitSpec) -> Result<(Self, Self), DataError> {
        let (train, test) = spec.indices(&self.labels)?;
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// Binarizes: pixel `byte/255 > threshold` ⇒ `+1`, else `−1`.
    pub fn binarize(&self, threshold: f64) -> Result<BinaryImages, DataError> {
        if !(threshold.is_finite() && (0.0..1.0).contains(&threshold)) {
            return Err(DataError::invalid(
                "threshold",
                format!("is {threshold}, expected a finite grey level in [0, 1)"),
            ));
        }
        let spins = self
            .pixels
            .iter()
            .map(|&b| {
                if f64::from(b) / 255.0 > threshold {
                    1
                } else {
                    -1
                }
            })
            .collect();
        Ok(BinaryImages {
            rows: self.rows,
            cols: self.cols,
            pixels: spins,
            labels: self.labels.clone(),
        })
    }
}

/// The fixed train/test split.
///
/// Stratified by class: for every digit `c`, the indices of class `c` (in dataset order) are
/// shuffled by a Fisher–Yates pass driven by `ChaCha8Rng::seed_from_u64(seed)` with
/// `set_stream(c)`, and the first `round(test_fraction · n_c)` of them form the test set. Both
/// outputs list indices in ascending dataset order, so the split depends only on
/// `(labels, test_fraction, seed)` — never on thread count or call order.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SplitSpec {
    /// Fraction of each class held out for testing, in `[0, 1)`.
    pub test_fraction: f64,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for SplitSpec {
    /// 20 % held out, seed 0.
    fn default() -> Self {
        Self {
            test_fraction: 0.2,
            seed: 0,
        }
    }
}

impl SplitSpec {
    /// A split with the given fraction and seed.
    pub fn new(test_fraction: f64, seed: u64) -> Self {
        Self {
            test_fraction,
            seed,
        }
    }

    /// `(train, test)` index lists for `labels`, each ascending.
    pub fn indices(&self, labels: &[u8]) -> Result<(Vec<usize>, Vec<usize>), DataError> {
        let f = self.test_fraction;
        if !(f.is_finite() && (0.0..1.0).contains(&f)) {
            return Err(DataError::invalid(
                "test_fraction",
                format!("is {f}, expected a number in [0, 1)"),
            ));
        }
        let mut is_test = vec![false; labels.len()];
        for c in 0..=u8::MAX {
            let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            if idx.is_empty() {
                continue;
            }
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(u64::from(c));
            shuffle(&mut idx, &mut rng);
            let n_test = (f * idx.len() as f64).round() as usize;
            for &i in &idx[..n_test] {
                is_test[i] = true;
            }
        }
        let train = (0..labels.len()).filter(|&i| !is_test[i]).collect();
        let test = (0..labels.len()).filter(|&i| is_test[i]).collect();
        Ok((train, test))
    }
}

/// Fisher–Yates with an unbiased bounded draw (Lemire), so the result is fixed by the RNG stream.
fn shuffle<R: rand::Rng + ?Sized>(v: &mut [usize], rng: &mut R) {
    for i in (1..v.len()).rev() {
        let j = bounded(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

fn bounded<R: rand::Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

impl BinaryImages {
    /// All spins, image after image.
    pub fn spins(&self) -> &[Spin] {
        &self.pixels
    }

    /// 2×2 max-pooling: output pixel `(r, c)` is `+1` iff any of input pixels
    /// `(2r..2r+2, 2c..2c+2)` is `+1` (28×28 → 14×14). Both sides must be even.
    pub fn max_pool_2x2(&self) -> Result<Self, DataError> {
        if !self.rows.is_multiple_of(2) || !self.cols.is_multiple_of(2) {
            return Err(DataError::Invalid {
                field: "image shape".into(),
                message: format!(
                    "is {}×{}, expected even sides for 2×2 pooling",
                    self.rows, self.cols
                ),
            });
        }
        let (r2, c2) = (self.rows / 2, self.cols / 2);
        let mut spins = Vec::with_capacity(self.len() * r2 * c2);
        for i in 0..self.len() {
            let img = self.image(i);
            for r in 0..r2 {
                for c in 0..c2 {
                    let any = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .iter()
                        .any(|&(dr, dc)| img[(2 * r + dr) * self.cols + 2 * c + dc] > 0);
                    spins.push(if any { 1 } else { -1 });
                }
            }
        }
        Ok(Self {
            rows: r2,
            cols: c2,
            pixels: spins,
            labels: self.labels.clone(),
        })
    }
}

/// Writes the label block of the DTM's visible layer: `spots` copies of a one-hot code over
/// `n_classes`, spot-major (`out[s · n_classes + c] = +1` iff `c == label`, else `−1`).
pub fn label_spins(
    label: u8,
    n_classes: usize,
    spots: usize,
    out: &mut [Spin],
) -> Result<(), DataError> {
    if usize::from(label) >= n_classes {
        return Err(DataError::invalid(
            "label",
            format!("is {label}, expected a class below {n_classes}"),
        ));
    }
    if out.len() != n_classes * spots {
        return Err(DataError::length(
            "label spins",
            out.len(),
            n_classes * spots,
        ));
    }
    for (k, x) in out.iter_mut().enumerate() {
        *x = if k % n_classes == usize::from(label) {
            1
        } else {
            -1
        };
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    fn toy() -> Mnist {
        // 6 images of 2×2, labels 0,1,0,2,1,0
        let pixels = (0..24).map(|k| (k * 11) as u8).collect();
        Mnist::new(2, 2, pixels, vec![0, 1, 0, 2, 1, 0]).unwrap()
    }

    #[test]
    fn new_validates() {
        assert!(matches!(
            Mnist::new(2, 2, vec![0; 7], vec![0, 1]),
            Err(DataError::Length { expected: 8, .. })
        ));
        assert!(matches!(
            Mnist::new(1, 1, vec![0], vec![10]),
            Err(DataError::Invalid { .. })
        ));
    }

    #[test]
    fn binarize_threshold_is_strict() {
        // 25/255 = 0.098 → −1, 26/255 = 0.102 → +1
        let m = Mnist::new(1, 3, vec![25, 26, 255], vec![3]).unwrap();
        let b = m.binarize(DEFAULT_THRESHOLD).unwrap();
        assert_eq!(b.image(0), &[-1, 1, 1]);
        assert!(m.binarize(f64::NAN).is_err());
    }

    #[test]
    fn filter_and_counts() {
        let m = toy();
        assert_eq!(&m.class_counts()[..3], &[3, 2, 1]);
        let f = m.filter_classes(&[0, 2]).unwrap();
        assert_eq!(f.labels(), &[0, 0, 2, 0]);
        assert_eq!(f.image(2), m.image(3));
        assert!(m.filter_classes(&[]).is_err());
        assert!(m.filter_classes(&[12]).is_err());
    }

    #[test]
    fn split_is_stratified_disjoint_and_seeded() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 7) as u8).collect();
        let spec = SplitSpec::new(0.25, 9);
        let (tr, te) = spec.indices(&labels).unwrap();
        assert_eq!(tr.len() + te.len(), 1000);
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        for c in 0..7u8 {
            let n_c = labels.iter().filter(|&&l| l == c).count();
            let t_c = te.iter().filter(|&&i| labels[i] == c).count();
            assert_eq!(t_c, (0.25 * n_c as f64).round() as usize);
        }
        assert_eq!(spec.indices(&labels).unwrap(), (tr.clone(), te.clone()));
        let (_, te2) = SplitSpec::new(0.25, 10).indices(&labels).unwrap();
        assert_ne!(te, te2);
        assert!(SplitSpec::new(1.0, 0).indices(&labels).is_err());
    }

    #[test]
    fn max_pool() {
        let m = Mnist::new(
            2,
            4,
            vec![0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            vec![1, 2],
        )
        .unwrap();
        let p = m.binarize(0.1).unwrap().max_pool_2x2().unwrap();
        assert_eq!((p.rows(), p.cols()), (1, 2));
        assert_eq!(p.image(0), &[-1, 1]);
        assert_eq!(p.image(1), &[-1, -1]);
        let odd = Mnist::new(1, 2, vec![0, 0], vec![0]).unwrap();
        assert!(odd.binarize(0.1).unwrap().max_pool_2x2().is_err());
    }

    #[test]
    fn label_block() {
        let mut out = vec![0i8; 8];
        label_spins(2, 4, 2, &mut out).unwrap();
        assert_eq!(out, vec![-1, -1, 1, -1, -1, -1, 1, -1]);
        assert!(label_spins(4, 4, 2, &mut out).is_err());
        assert!(label_spins(1, 4, 3, &mut out).is_err());
    }
}
