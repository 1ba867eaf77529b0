//! Evaluation metrics of a trained DTM's generated digits (SCIENCE.md §3.3):
//!
//! * [`GenerationEval`] — a nearest-centroid classifier fitted on the training split
//!   ([`CentroidClassifier`]) scores generated digits against their requested classes and the
//!   test digits against theirs, and the ink (fraction of +1 pixels) of both, a mode-collapse /
//!   blank-image check;
//! * [`inpaint_background_baseline`] — the inpainting error of filling the bottom half of each
//!   test digit with background (−1) everywhere: the score a model that paints nothing gets.

use serde::{Deserialize, Serialize};
use thermoq_core::Spin;

use super::data::DtmData;
use super::generate::CentroidClassifier;
use crate::error::TrainError;

/// Fraction of +1 pixels, averaged over `images` (0 for none).
pub fn ink(images: &[&[Spin]]) -> f64 {
    images
        .iter()
        .map(|im| im.iter().filter(|&&v| v > 0).count() as f64 / im.len() as f64)
        .sum::<f64>()
        / images.len().max(1) as f64
}

/// Scores of generated digits against the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationEval {
    /// Nearest-centroid accuracy of the generated digits against their requested classes.
    pub centroid_accuracy_generated: f64,
    /// The same classifier on the test digits (its ceiling on real data).
    pub centroid_accuracy_test: f64,
    /// Ink of the generated digits.
    pub ink_generated: f64,
    /// Ink of the test digits.
    pub ink_test: f64,
}

impl GenerationEval {
    /// Fits the centroid classifier on `data`'s training split (`n_classes` classes) and scores
    /// `generated` (image pixels only) against `classes`.
    pub fn measure(
        data: &DtmData,
        n_classes: usize,
        generated: &[&[Spin]],
        classes: &[u8],
    ) -> Result<Self, TrainError> {
        if generated.len() != classes.len() {
            return Err(TrainError::Length {
                field: "classes".into(),
                found: classes.len(),
                expected: generated.len(),
            });
        }
        let clf = CentroidClassifier::fit(data, n_classes);
        let test_imgs: Vec<&[Spin]> = (0..data.test_len())
            .map(|i| &data.test_visible(i)[..data.n_image()])
            .collect();
        let test_cls: Vec<u8> = (0..data.test_len()).map(|i| data.test_class(i)).collect();
        Ok(Self {
            centroid_accuracy_generated: clf.accuracy(generated, classes),
            centroid_accuracy_test: clf.accuracy(&test_imgs, &test_cls),
            ink_generated: ink(generated),
            ink_test: ink(&test_imgs),
        })
    }
}

/// Inpainting error of the all-background fill: the mean fraction of +1 pixels in the bottom half
/// (rows `side/2 ..`) of the first `n` test digits (capped at the test split).
pub fn inpaint_background_baseline(data: &DtmData, n: usize) -> f64 {
    let side = data.side();
    let n_inp = n.min(data.test_len());
    (0..n_inp)
        .map(|i| {
            let im = &data.test_visible(i)[..data.n_image()];
            im[(side / 2) * side..].iter().filter(|&&v| v > 0).count() as f64
                / (im.len() - (side / 2) * side) as f64
        })
        .sum::<f64>()
        / n_inp.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ink_counts_plus_pixels() {
        let a: [Spin; 4] = [1, -1, -1, -1];
        let b: [Spin; 4] = [1, 1, 1, -1];
        assert!((ink(&[&a, &b]) - 0.5).abs() < 1e-15);
        assert_eq!(ink(&[]), 0.0);
    }
}
