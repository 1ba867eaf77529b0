//! Annealed generation from a trained [`DtmRun`], a nearest-centroid check of the generated
//! digits, and a PNG grid writer.
//!
//! Generation (SCIENCE.md §3.2): chains start from uniform noise `x_T`; for `k = T−1, …, 0` layer
//! `k` is sampled conditioned on the current `x_{t_{k+1}}` for `generation.sweeps` sweeps with `β`
//! annealed linearly from `beta_start·β` to `beta_end·β`, and its visible state becomes the next
//! input. The label block is clamped to the requested class at every step (class-conditional
//! generation), so a grid row shows one digit class.

use super::config::invalid;
use super::data::DtmData;
use super::run::{DtmRun, block_classes};
use crate::TrainError;
use flate2::Crc;
use flate2::write::ZlibEncoder;
use rand::RngExt;
use std::io::Write;
use thermoq_core::Spin;
use thermoq_core::rng::chain_rng;
use thermoq_data::mnist::label_spins;
use thermoq_models::dtm::Block;
use thermoq_samplers::ChainBatch;

const GEN_SALT: u64 = 0x4454_4d5f_6765_6e21;

impl DtmRun {
    /// Generates one digit image per entry of `classes` (class indices into `config.digits`).
    /// Returns the image spins of each chain, in order.
    pub fn generate(&self, classes: &[u8], seed: u64) -> Result<Vec<Vec<Spin>>, TrainError> {
        let cfg = self.config();
        let g = &cfg.generation;
        let n_classes = cfg.digits.len();
        let chains = classes.len();
        if chains == 0 {
            return Err(invalid("classes", "is empty".into()));
        }
        let n_image = cfg.n_image();
        let n_label = n_classes * cfg.label_spots;
        let mut labels = vec![0 as Spin; chains * n_label];
        for (c, &cl) in classes.iter().enumerate() {
            label_spins(
                cl,
                n_classes,
                cfg.label_spots,
                &mut labels[c * n_label..(c + 1) * n_label],
            )
            .map_err(|e| invalid("classes", e.to_string()))?;
        }
        // x_T: uniform image noise, the requested label.
        let mut r = chain_rng(seed ^ GEN_SALT, 0);
        let mut x_t: Vec<Vec<Spin>> = (0..chains)
            .map(|c| {
                let mut v: Vec<Spin> = (0..n_image)
                    .map(|_| if r.random::<bool>() { 1 } else { -1 })
                    .collect();
                v.extend_from_slice(&labels[c * n_label..(c + 1) * n_label]);
                v
            })
            .collect();
        for k in (0..self.layers().len()).rev() {
            let layer = &self.layers()[k];
            let layout = layer.layout();
            let n = layer.graph().n();
            let s_seed = chain_rng(seed ^ GEN_SALT, 1 + k as u64).random::<u64>();
            let mut s = self.sampler(k, chains, s_seed)?;
            let inputs: Vec<&[Spin]> = x_t.iter().map(Vec::as_slice).collect();
            s.set_fields(self.fields(k, &inputs)?.as_deref())?;
            s.set_free_classes(&block_classes(
                layout,
                &[Block::Image, Block::UpperHidden, Block::LowerHidden],
            ))?;
            let mut batch = ChainBatch::uniform(chains, n, s_seed);
            for (c, x) in x_t.iter().enumerate() {
                // The image starts from noise (the batch's own); the label is clamped.
                let mut v = layout.gather_visible(batch.chain(c))?;
                v[n_image..].copy_from_slice(&x[n_image..]);
                layout.scatter_visible(&v, batch.chain_mut(c))?;
            }
            let sweeps = g.sweeps;
            for t in 0..sweeps {
                let u = if sweeps > 1 {
                    t as f64 / (sweeps - 1) as f64
                } else {
                    1.0
                };
                let f = g.beta_start + (g.beta_end - g.beta_start) * u;
                s.set_beta(cfg.beta * f)?;
                s.sweep(&mut batch, 1)?;
            }
            for (c, x) in x_t.iter_mut().enumerate() {
                *x = layout.gather_visible(batch.chain(c))?;
            }
        }
        Ok(x_t
            .into_iter()
            .map(|mut v| {
                v.truncate(n_image);
                v
            })
            .collect())
    }
}

/// Nearest-centroid classifier on ±1 images: class `c`'s centroid is the mean training image of
/// that class; an image goes to the centroid at the smallest Euclidean distance.
#[derive(Clone, Debug, PartialEq)]
pub struct CentroidClassifier {
    centroids: Vec<Vec<f64>>,
}

impl CentroidClassifier {
    /// Fits the centroids on the training split of `data` (`n_classes` classes).
    pub fn fit(data: &DtmData, n_classes: usize) -> Self {
        let n = data.n_image();
        let mut centroids = vec![vec![0.0; n]; n_classes];
        let mut counts = vec![0usize; n_classes];
        for i in 0..data.train_len(None) {
            let c = usize::from(data.train_class(i));
            counts[c] += 1;
            for (a, &v) in centroids[c].iter_mut().zip(&data.train_visible(i)[..n]) {
                *a += f64::from(v);
            }
        }
        for (c, k) in centroids.iter_mut().zip(&counts) {
            c.iter_mut().for_each(|a| *a /= (*k).max(1) as f64);
        }
        Self { centroids }
    }

    /// The predicted class index of `image`.
    pub fn predict(&self, image: &[Spin]) -> u8 {
        let mut best = (f64::INFINITY, 0u8);
        for (c, m) in self.centroids.iter().enumerate() {
            let d: f64 = m
                .iter()
                .zip(image)
                .map(|(a, &x)| (a - f64::from(x)).powi(2))
                .sum();
            if d < best.0 {
                best = (d, c as u8);
            }
        }
        best.1
    }

    /// Fraction of `images` predicted as their `classes`.
    pub fn accuracy(&self, images: &[&[Spin]], classes: &[u8]) -> f64 {
        let ok = images
            .iter()
            .zip(classes)
            .filter(|(im, c)| self.predict(im) == **c)
            .count();
        ok as f64 / images.len().max(1) as f64
    }
}

/// Writes ±1 square images (`side × side`, row-major) as a grayscale PNG grid of `cols` columns,
/// each pixel drawn as a `scale × scale` block (+1 white on black), with 2-pixel gaps.
pub fn png_grid(
    images: &[&[Spin]],
    side: usize,
    cols: usize,
    scale: usize,
) -> Result<Vec<u8>, TrainError> {
    if images.is_empty() || cols == 0 || scale == 0 || side == 0 {
        return Err(invalid(
            "png grid",
            "needs images, columns, side and scale ≥ 1".into(),
        ));
    }
    if let Some(k) = images.iter().position(|im| im.len() != side * side) {
        return Err(invalid(
            "png grid",
            format!(
                "image {k} has {} pixels, expected {}",
                images[k].len(),
                side * side
            ),
        ));
    }
    let gap = 2;
    let rows = images.len().div_ceil(cols);
    let cell = side * scale + gap;
    let (w, h) = (cols * cell + gap, rows * cell + gap);
    let mut px = vec![64u8; w * h];
    for (k, im) in images.iter().enumerate() {
        let (r0, c0) = (gap + (k / cols) * cell, gap + (k % cols) * cell);
        for y in 0..side * scale {
            for x in 0..side * scale {
                let v = im[(y / scale) * side + x / scale];
                px[(r0 + y) * w + c0 + x] = if v > 0 { 255 } else { 0 };
            }
        }
    }
    encode_png_gray(&px, w, h)
}

/// A minimal 8-bit grayscale PNG encoder (IHDR, one zlib IDAT, IEND).
pub fn encode_png_gray(px: &[u8], w: usize, h: usize) -> Result<Vec<u8>, TrainError> {
    if px.len() != w * h {
        return Err(TrainError::Length {
            field: "png pixels".into(),
            found: px.len(),
            expected: w * h,
        });
    }
    let io = |e: std::io::Error| TrainError::Io {
        path: "<png>".into(),
        source: e,
    };
    let mut raw = Vec::with_capacity((w + 1) * h);
    for row in px.chunks(w) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).map_err(io)?;
    let idat = z.finish().map_err(io)?;
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // depth 8, grayscale, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn png_has_valid_structure() {
        let im: Vec<Spin> = (0..16).map(|k| if k % 3 == 0 { 1 } else { -1 }).collect();
        let png = png_grid(&[&im, &im, &im], 4, 2, 3).unwrap();
        assert_eq!(&png[..8], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        assert_eq!(&png[12..16], b"IHDR");
        // width = 2 cols × (4·3 + 2) + 2 = 30, height = 2 rows × 14 + 2 = 30
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 30);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 30);
        // IHDR CRC of the known header bytes: recompute and compare
        let mut crc = Crc::new();
        crc.update(&png[12..29]);
        assert_eq!(
            u32::from_be_bytes(png[29..33].try_into().unwrap()),
            crc.sum()
        );
        assert!(png_grid(&[&im[..5]], 4, 2, 3).is_err());
        // Decompress IDAT and check the first row of the first image.
        let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut d = flate2::read::ZlibDecoder::new(&png[41..41 + len]);
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut raw).unwrap();
        assert_eq!(raw.len(), 30 * 31);
        let row2 = &raw[2 * 31 + 1..3 * 31]; // pixel row 2 = first image row 0
        assert_eq!(&row2[2..5], &[255, 255, 255]); // pixel (0,0) = +1, scale 3
        assert_eq!(&row2[5..8], &[0, 0, 0]); // pixel (0,1) = −1
    }
}
