//! Placement of the visible nodes on a grid and the four sampling blocks.
//!
//! The visible layer of a DTM step is `n_image` pixel nodes followed by `classes · spots` label
//! nodes (the one-hot label repeated `spots` times). They are placed on the *upper* colour by a
//! seeded permutation: upper nodes are listed row-major, shuffled by Fisher–Yates driven by
//! `ChaCha8Rng::seed_from_u64(seed)`, and visible node `v` goes to the `v`-th shuffled upper node.
//! All other upper nodes and every lower node are hidden. Capacity (SCIENCE.md II.9):
//! `side²/2 ≥ n_image + classes · spots`.
//!
//! Sampling blocks (each an independent set, because no edge joins two upper or two lower
//! nodes): [`Block::Image`], [`Block::Label`], [`Block::UpperHidden`], [`Block::LowerHidden`].
//! [`DtmLayout::coloring`] gives them as a [`Coloring`] (colours in that order, empty blocks
//! skipped), ready for `GibbsKernel::new(KernelKind::BlkSym, graph, Some(coloring))`.

use super::{DtmError, TorusGrid};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thermoq_core::{Coloring, Graph, Spin};

/// Sizes of the visible layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VisibleSpec {
    /// Image pixels (784 for 28×28, 196 for 14×14).
    pub n_image: usize,
    /// Label classes of the one-hot code (10 for MNIST).
    pub n_classes: usize,
    /// How many times the one-hot code is repeated (`num_label_spots`).
    pub label_spots: usize,
}

impl VisibleSpec {
    /// Number of label nodes, `classes · spots` (saturating: an absurd `label_spots` read from a
    /// checkpoint then fails the layout's size check instead of overflowing; fuzz finding).
    pub fn n_label(&self) -> usize {
        self.n_classes.saturating_mul(self.label_spots)
    }

    /// Number of visible nodes.
    pub fn n_visible(&self) -> usize {
        self.n_image.saturating_add(self.n_label())
    }
}

/// The four sampling blocks of a DTM layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Block {
    /// Image nodes (upper colour).
    Image,
    /// Label nodes (upper colour).
    Label,
    /// Hidden nodes on the upper colour.
    UpperHidden,
    /// Hidden nodes on the lower colour (every lower node).
    LowerHidden,
}

impl Block {
    /// All blocks in colour order.
    pub const ALL: [Block; 4] = [
        Block::Image,
        Block::Label,
        Block::UpperHidden,
        Block::LowerHidden,
    ];
}

/// A grid with its visible nodes placed.
#[derive(Clone, Debug, PartialEq)]
pub struct DtmLayout {
    grid: TorusGrid,
    spec: VisibleSpec,
    seed: u64,
    blocks: [Vec<u32>; 4],
    visible: Vec<u32>,
    hidden: Vec<u32>,
    coloring: Coloring,
}

impl DtmLayout {
    /// Places `spec`'s visible nodes on `grid`'s upper colour with placement seed `seed`.
    pub fn new(grid: TorusGrid, spec: VisibleSpec, seed: u64) -> Result<Self, DtmError> {
        if spec.n_image == 0 {
            return Err(DtmError::invalid(
                "n_image",
                "is 0, expected at least one image node",
            ));
        }
        let upper = grid.upper_nodes();
        let needed = spec.n_visible();
        if needed > upper.len() {
            return Err(DtmError::Capacity {
                side: grid.side(),
                upper: upper.len(),
                needed,
                n_image: spec.n_image,
                n_label: spec.n_label(),
            });
        }
        let mut perm: Vec<u32> = upper.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in (1..perm.len()).rev() {
            let j = bounded(&mut rng, i as u64 + 1) as usize;
            perm.swap(i, j);
        }
        let image = perm[..spec.n_image].to_vec();
        let label = perm[spec.n_image..needed].to_vec();
        let mut upper_hidden = perm[needed..].to_vec();
        upper_hidden.sort_unstable();
        let lower = grid.lower_nodes();
        let blocks = [image, label, upper_hidden, lower];
        let mut colors = vec![u32::MAX; grid.n_nodes()];
        let mut c = 0u32;
        for b in &blocks {
            if b.is_empty() {
                continue;
            }
            for &i in b {
                colors[i as usize] = c;
            }
            c += 1;
        }
        let coloring = Coloring::from_colors(grid.graph(), colors)?;
        let visible = blocks[0].iter().chain(&blocks[1]).copied().collect();
        let hidden = blocks[2].iter().chain(&blocks[3]).copied().collect();
        Ok(Self {
            grid,
            spec,
            seed,
            blocks,
            visible,
            hidden,
            coloring,
        })
    }

    /// The grid.
    pub fn grid(&self) -> &TorusGrid {
        &self.grid
    }

    /// The coupling graph (the grid's).
    pub fn graph(&self) -> &Graph {
        self.grid.graph()
    }

    /// Number of grid nodes.
    pub fn n_nodes(&self) -> usize {
        self.grid.n_nodes()
    }

    /// Visible-layer sizes.
    pub fn spec(&self) -> VisibleSpec {
        self.spec
    }

    /// Placement seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Grid nodes of a block (image and label in visible order; hidden blocks ascending).
    pub fn block(&self, b: Block) -> &[u32] {
        &self.blocks[b as usize]
    }

    /// Visible nodes: image nodes then label nodes; entry `v` is where visible spin `v` lives.
    pub fn visible_nodes(&self) -> &[u32] {
        &self.visible
    }

    /// Hidden nodes: upper hidden then lower hidden.
    pub fn hidden_nodes(&self) -> &[u32] {
        &self.hidden
    }

    /// The 4-block colouring (colour order Image, Label, UpperHidden, LowerHidden; empty blocks
    /// skipped).
    pub fn coloring(&self) -> &Coloring {
        &self.coloring
    }

    /// Colour of block `b` in [`DtmLayout::coloring`], or `None` if the block is empty.
    pub fn block_color(&self, b: Block) -> Option<u32> {
        self.blocks[b as usize]
            .first()
            .map(|&i| self.coloring.color(i as usize))
    }

    /// Writes visible spins `v` (image then label) into a full grid state `x` at their nodes.
    pub fn scatter_visible(&self, v: &[Spin], x: &mut [Spin]) -> Result<(), DtmError> {
        self.check_len("visible state", v.len(), self.visible.len())?;
        self.check_len("grid state", x.len(), self.n_nodes())?;
        for (&node, &s) in self.visible.iter().zip(v) {
            x[node as usize] = s;
        }
        Ok(())
    }

    /// Reads the visible spins (image then label) out of a full grid state.
    pub fn gather_visible(&self, x: &[Spin]) -> Result<Vec<Spin>, DtmError> {
        self.check_len("grid state", x.len(), self.n_nodes())?;
        Ok(self.visible.iter().map(|&i| x[i as usize]).collect())
    }

    fn check_len(&self, field: &str, found: usize, expected: usize) -> Result<(), DtmError> {
        if found != expected {
            return Err(DtmError::length(field, found, expected));
        }
        Ok(())
    }
}

fn bounded<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}
