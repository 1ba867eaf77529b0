//! Torus grid presets: the sparse bipartite graphs a DTM layer lives on.
//!
//! A preset `SIDE_DEGREE` is a `side × side` torus with a chessboard colouring — node `(r, c)`
//! (index `r·side + c`) is *upper* when `r + c` is even, *lower* otherwise — and a list of offset
//! "jumps" `(dr, dc)` with `dr + dc` odd. Each jump is used in its four rotations
//! `(dr, dc), (−dc, dr), (−dr, −dc), (dc, −dr)`, so every node has degree `4 · #jumps`, and since
//! an odd offset on an even torus flips the colour, every edge joins an upper and a lower node.
//! A preset is valid exactly when the `4 · #jumps` offsets are pairwise distinct modulo `side`
//! (otherwise two rotations would produce the same edge); [`TorusGrid::new`] checks this and
//! rejects the preset with a typed error, and [`thermoq_core::Graph`] rejects duplicates anyway.

use super::DtmError;
use thermoq_core::{Coloring, Graph};

/// A grid preset: side and jumps (row offset, column offset).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GridPreset {
    /// Side of the square torus (even).
    pub side: usize,
    /// Offset generators `(dr, dc)`, each with `dr + dc` odd.
    pub jumps: Vec<(i64, i64)>,
}

const J8: &[(i64, i64)] = &[(0, 1), (4, 1)];
const J12: &[(i64, i64)] = &[(0, 1), (4, 1), (10, 9)];
const J16: &[(i64, i64)] = &[(0, 1), (4, 1), (10, 9), (11, 14)];
const J20: &[(i64, i64)] = &[(0, 1), (4, 1), (10, 9), (11, 14), (23, 6)];

/// A named preset: `(name, side, jumps)`.
pub type NamedPreset = (&'static str, usize, &'static [(i64, i64)]);

/// The named presets: `(name, side, jumps)`. The 60/70 presets are the DTM paper's
/// (dtm-replication's `graph_preset_architectures`); the small ones are for tests and quick runs.
pub const PRESETS: &[NamedPreset] = &[
    ("4_4", 4, &[(0, 1)]),
    ("8_8", 8, J8),
    ("20_8", 20, J8),
    ("24_8", 24, J8),
    ("30_12", 30, J12),
    ("42_8", 42, J8),
    ("60_8", 60, J8),
    ("60_12", 60, J12),
    ("60_16", 60, J16),
    ("60_20", 60, J20),
    ("70_12", 70, J12),
];

/// The name of one of the [`PRESETS`], serialized (and displayed, and parsed) as that name,
/// e.g. `"60_12"`. Variant `SxDy` is the preset of side `x` and degree `y`; the variants are in
/// [`PRESETS`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GridName {
    /// `4_4`.
    #[serde(rename = "4_4")]
    S4D4,
    /// `8_8`.
    #[serde(rename = "8_8")]
    S8D8,
    /// `20_8`.
    #[serde(rename = "20_8")]
    S20D8,
    /// `24_8`.
    #[serde(rename = "24_8")]
    S24D8,
    /// `30_12`.
    #[serde(rename = "30_12")]
    S30D12,
    /// `42_8`.
    #[serde(rename = "42_8")]
    S42D8,
    /// `60_8`.
    #[serde(rename = "60_8")]
    S60D8,
    /// `60_12` (the DTM paper's MNIST grid).
    #[serde(rename = "60_12")]
    S60D12,
    /// `60_16`.
    #[serde(rename = "60_16")]
    S60D16,
    /// `60_20`.
    #[serde(rename = "60_20")]
    S60D20,
    /// `70_12`.
    #[serde(rename = "70_12")]
    S70D12,
}

// Every variant indexes its own row of PRESETS (a test checks the names agree).
const _: () = assert!(PRESETS.len() == GridName::ALL.len());

impl GridName {
    /// Every named preset, in [`PRESETS`] order.
    pub const ALL: [GridName; 11] = [
        Self::S4D4,
        Self::S8D8,
        Self::S20D8,
        Self::S24D8,
        Self::S30D12,
        Self::S42D8,
        Self::S60D8,
        Self::S60D12,
        Self::S60D16,
        Self::S60D20,
        Self::S70D12,
    ];

    fn entry(self) -> &'static NamedPreset {
        &PRESETS[self as usize]
    }

    /// The name, e.g. `"60_12"`.
    pub fn name(self) -> &'static str {
        self.entry().0
    }

    /// The preset's side and jumps.
    pub fn preset(self) -> GridPreset {
        let &(_, side, jumps) = self.entry();
        GridPreset {
            side,
            jumps: jumps.to_vec(),
        }
    }
}

impl std::fmt::Display for GridName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GridName {
    type Err = DtmError;

    /// Parses a preset name exactly as written in [`PRESETS`].
    fn from_str(name: &str) -> Result<Self, DtmError> {
        Self::ALL
            .into_iter()
            .find(|g| g.name() == name)
            .ok_or_else(|| DtmError::UnknownPreset {
                name: name.into(),
                known: PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", "),
            })
    }
}

impl GridPreset {
    /// A preset by name (`"60_12"`, `"24_8"`, …).
    pub fn named(name: &str) -> Result<Self, DtmError> {
        Ok(name.parse::<GridName>()?.preset())
    }

    /// Degree of every node, `4 · #jumps`.
    pub fn degree(&self) -> usize {
        4 * self.jumps.len()
    }

    /// The conventional name `side_degree`.
    pub fn name(&self) -> String {
        format!("{}_{}", self.side, self.degree())
    }
}

/// A built torus grid: the preset, its graph, and the chessboard colours.
#[derive(Clone, Debug, PartialEq)]
pub struct TorusGrid {
    preset: GridPreset,
    graph: Graph,
}

impl TorusGrid {
    /// Builds and validates the grid of `preset`.
    ///
    /// Edges are listed upper node by upper node (row-major), then jump by jump, then rotation by
    /// rotation; each edge is `(upper, lower)`. This order is the parameter order of the couplings.
    pub fn new(preset: &GridPreset) -> Result<Self, DtmError> {
        let side = preset.side;
        let err = |message: String| DtmError::Grid { side, message };
        if side < 2 || !side.is_multiple_of(2) {
            return Err(err(format!("side is {side}, expected an even number ≥ 2")));
        }
        if side > 46_340 {
            return Err(err("side² exceeds the supported node count".into()));
        }
        if preset.jumps.is_empty() {
            return Err(err("has no jumps, expected at least one".into()));
        }
        let s = side as i64;
        let mut offsets: Vec<(usize, usize)> = Vec::with_capacity(preset.degree());
        for (k, &(dr, dc)) in preset.jumps.iter().enumerate() {
            if (dr + dc).rem_euclid(2) != 1 {
                return Err(err(format!(
                    "jump {k} = ({dr}, {dc}) has an even offset sum; expected dr + dc odd so edges join opposite colours"
                )));
            }
            for (a, b) in [(dr, dc), (-dc, dr), (-dr, -dc), (dc, -dr)] {
                let o = (a.rem_euclid(s) as usize, b.rem_euclid(s) as usize);
                if let Some(q) = offsets.iter().position(|&p| p == o) {
                    return Err(err(format!(
                        "rotation ({a}, {b}) of jump {k} coincides modulo {side} with offset {q} \
                         ({:?}); expected all 4·#jumps offsets distinct (keep jumps below side/2)",
                        offsets[q]
                    )));
                }
                offsets.push(o);
            }
        }
        let n = side * side;
        let mut edges = Vec::with_capacity(n / 2 * offsets.len());
        for r in 0..side {
            for c in 0..side {
                if (r + c) % 2 != 0 {
                    continue;
                }
                for &(dr, dc) in &offsets {
                    let v = ((r + dr) % side) * side + (c + dc) % side;
                    edges.push((r * side + c, v));
                }
            }
        }
        let graph = Graph::new_named(n, &edges, "grid edges")?;
        let g = Self {
            preset: preset.clone(),
            graph,
        };
        // The construction guarantees bipartiteness; keep the invariant checked, not assumed.
        if let Some((i, j)) = g
            .graph
            .edges()
            .find(|&(i, j)| g.is_upper(i) == g.is_upper(j))
        {
            return Err(err(format!(
                "edge {i}-{j} joins two nodes of one colour; expected a bipartite grid"
            )));
        }
        Ok(g)
    }

    /// Builds the grid of a named preset.
    pub fn named(name: &str) -> Result<Self, DtmError> {
        Self::new(&GridPreset::named(name)?)
    }

    /// The preset.
    pub fn preset(&self) -> &GridPreset {
        &self.preset
    }

    /// Side of the torus.
    pub fn side(&self) -> usize {
        self.preset.side
    }

    /// Number of nodes, `side²`.
    pub fn n_nodes(&self) -> usize {
        self.graph.n()
    }

    /// The coupling graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Index of node `(r, c)` (coordinates taken modulo `side`, so negative offsets wrap).
    pub fn node(&self, r: i64, c: i64) -> usize {
        let s = self.side() as i64;
        (r.rem_euclid(s) * s + c.rem_euclid(s)) as usize
    }

    /// Coordinates `(r, c)` of node `i`.
    pub fn coords(&self, i: usize) -> (usize, usize) {
        (i / self.side(), i % self.side())
    }

    /// Whether node `i` is on the upper colour (`r + c` even).
    pub fn is_upper(&self, i: usize) -> bool {
        let (r, c) = self.coords(i);
        (r + c) % 2 == 0
    }

    /// Upper nodes, ascending (row-major).
    pub fn upper_nodes(&self) -> Vec<u32> {
        (0..self.n_nodes())
            .filter(|&i| self.is_upper(i))
            .map(|i| i as u32)
            .collect()
    }

    /// Lower nodes, ascending.
    pub fn lower_nodes(&self) -> Vec<u32> {
        (0..self.n_nodes())
            .filter(|&i| !self.is_upper(i))
            .map(|i| i as u32)
            .collect()
    }

    /// The chessboard colouring: colour 0 = upper, 1 = lower.
    pub fn chessboard(&self) -> Result<Coloring, DtmError> {
        let colors = (0..self.n_nodes())
            .map(|i| u32::from(!self.is_upper(i)))
            .collect();
        Ok(Coloring::from_colors(&self.graph, colors)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn every_named_preset_builds() {
        for &(name, side, jumps) in PRESETS {
            if side >= 60 {
                continue; // the large ones are checked in tests/dtm.rs
            }
            let g = TorusGrid::named(name).unwrap();
            assert_eq!(g.preset().name(), name);
            assert_eq!(g.graph().n_edges(), side * side * 4 * jumps.len() / 2);
        }
    }

    #[test]
    fn grid_names_match_presets() {
        for (i, g) in GridName::ALL.into_iter().enumerate() {
            assert_eq!(g as usize, i);
            assert_eq!(g.name(), PRESETS[i].0);
            assert_eq!(g.to_string(), PRESETS[i].0);
            assert_eq!(g.name().parse::<GridName>().unwrap(), g);
            // the serde name is the preset name
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{}\"", PRESETS[i].0));
            assert_eq!(serde_json::from_str::<GridName>(&json).unwrap(), g);
            assert_eq!(g.preset().name(), g.name());
        }
        assert!(matches!(
            "61_12".parse::<GridName>(),
            Err(DtmError::UnknownPreset { .. })
        ));
    }

    #[test]
    fn rejects_bad_geometry() {
        let p = |side, jumps: &[(i64, i64)]| GridPreset {
            side,
            jumps: jumps.to_vec(),
        };
        assert!(matches!(
            TorusGrid::new(&p(7, &[(0, 1)])),
            Err(DtmError::Grid { .. })
        ));
        assert!(matches!(
            TorusGrid::new(&p(8, &[(1, 1)])),
            Err(DtmError::Grid { .. })
        ));
        assert!(matches!(
            TorusGrid::new(&p(8, &[])),
            Err(DtmError::Grid { .. })
        ));
        // (1, 0) is a rotation of (0, 1): duplicate offsets
        assert!(matches!(
            TorusGrid::new(&p(8, &[(0, 1), (1, 0)])),
            Err(DtmError::Grid { .. })
        ));
        // side 2: (0, 1) and (0, −1) coincide modulo 2
        assert!(matches!(
            TorusGrid::new(&p(2, &[(0, 1)])),
            Err(DtmError::Grid { .. })
        ));
        // (4, 1) on side 8 (= side/2 in one coordinate) still gives 8 distinct offsets
        assert!(TorusGrid::new(&p(8, &[(0, 1), (4, 1)])).is_ok());
        assert!(matches!(
            GridPreset::named("61_12"),
            Err(DtmError::UnknownPreset { .. })
        ));
    }
}
