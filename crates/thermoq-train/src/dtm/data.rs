//! [`DtmData`]: MNIST digits as DTM visible vectors (image spins, then the repeated one-hot label).

use super::config::DtmRunConfig;
use crate::TrainError;
use thermoq_core::Spin;
use thermoq_data::mnist::{BinaryImages, SplitSpec, label_spins};
use thermoq_data::{DataError, Mnist};

fn data(e: DataError) -> TrainError {
    TrainError::Invalid {
        field: "data".into(),
        message: e.to_string(),
    }
}

/// Train and test digits as visible vectors, in a fixed order.
#[derive(Clone, Debug, PartialEq)]
pub struct DtmData {
    n_image: usize,
    side: usize,
    n_visible: usize,
    train: Vec<Spin>,
    train_class: Vec<u8>,
    test: Vec<Spin>,
    test_class: Vec<u8>,
}

impl DtmData {
    /// Keeps `config.digits`, splits (stratified, `config.split_seed`), binarizes at
    /// `config.threshold`, max-pools 2×2 if asked, and appends the label code
    /// (`config.label_spots` copies of one-hot over `config.digits.len()` classes).
    pub fn from_mnist(m: &Mnist, config: &DtmRunConfig) -> Result<Self, TrainError> {
        config.validate()?;
        let kept = m.filter_classes(&config.digits).map_err(data)?;
        let (train, test) = kept
            .split(&SplitSpec::new(config.test_fraction, config.split_seed))
            .map_err(data)?;
        Self::from_train_test(&train, &test, config)
    }

    /// Like [`Self::from_mnist`] for data that comes already split (the full MNIST's training and
    /// t10k sets, [`crate::dtm::DtmDataset::MnistFull`]): keeps `config.digits` of each, in file
    /// order, with no further split.
    pub fn from_split(
        train: &Mnist,
        test: &Mnist,
        config: &DtmRunConfig,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let train = train.filter_classes(&config.digits).map_err(data)?;
        let test = test.filter_classes(&config.digits).map_err(data)?;
        Self::from_train_test(&train, &test, config)
    }

    fn from_train_test(
        train: &Mnist,
        test: &Mnist,
        config: &DtmRunConfig,
    ) -> Result<Self, TrainError> {
        let prep = |m: &Mnist| -> Result<BinaryImages, TrainError> {
            let b = m.binarize(config.threshold).map_err(data)?;
            if config.pool_2x2 {
                b.max_pool_2x2().map_err(data)
            } else {
                Ok(b)
            }
        };
        let (train, test) = (prep(train)?, prep(test)?);
        if train.image_size() != config.n_image() {
            return Err(TrainError::Invalid {
                field: "data".into(),
                message: format!(
                    "images have {} pixels after preprocessing, expected {}",
                    train.image_size(),
                    config.n_image()
                ),
            });
        }
        let n_classes = config.digits.len();
        let n_label = n_classes * config.label_spots;
        let build = |b: &BinaryImages| -> Result<(Vec<Spin>, Vec<u8>), TrainError> {
            let mut v = Vec::with_capacity(b.len() * (b.image_size() + n_label));
            let mut cls = Vec::with_capacity(b.len());
            let mut lab = vec![0 as Spin; n_label];
            for i in 0..b.len() {
                let c = config
                    .digits
                    .iter()
                    .position(|&d| d == b.label(i))
                    .ok_or_else(|| TrainError::Invalid {
                        field: "data".into(),
                        message: format!("digit {} is not among {:?}", b.label(i), config.digits),
                    })? as u8;
                label_spins(c, n_classes, config.label_spots, &mut lab).map_err(data)?;
                v.extend_from_slice(b.image(i));
                v.extend_from_slice(&lab);
                cls.push(c);
            }
            Ok((v, cls))
        };
        let (tr, trc) = build(&train)?;
        let (te, tec) = build(&test)?;
        Ok(Self {
            n_image: config.n_image(),
            side: train.cols(),
            n_visible: config.n_image() + n_label,
            train: tr,
            train_class: trc,
            test: te,
            test_class: tec,
        })
    }

    /// Image pixels per digit.
    pub fn n_image(&self) -> usize {
        self.n_image
    }

    /// Image side (images are square).
    pub fn side(&self) -> usize {
        self.side
    }

    /// Training examples available, capped at `max`.
    pub fn train_len(&self, max: Option<usize>) -> usize {
        let n = self.train_class.len();
        max.map_or(n, |m| m.min(n))
    }

    /// Test examples.
    pub fn test_len(&self) -> usize {
        self.test_class.len()
    }

    /// Training example `i` as a visible vector.
    pub fn train_visible(&self, i: usize) -> &[Spin] {
        &self.train[i * self.n_visible..(i + 1) * self.n_visible]
    }

    /// Training example `i`'s class index (position in `config.digits`).
    pub fn train_class(&self, i: usize) -> u8 {
        self.train_class[i]
    }

    /// Test example `i` as a visible vector.
    pub fn test_visible(&self, i: usize) -> &[Spin] {
        &self.test[i * self.n_visible..(i + 1) * self.n_visible]
    }

    /// Test example `i`'s class index.
    pub fn test_class(&self, i: usize) -> u8 {
        self.test_class[i]
    }
}
