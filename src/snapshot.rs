//! Snapshots: a complete engine state in one versioned, checksummed file.
//!
//! A shop builds its catalog and complement graph offline and ships them to
//! many servers. [`EngineState`] is everything the standard engine is made
//! of (catalog, complement graph, category rules, merchant [`Rules`], the
//! strategy and scorer configuration, a version stamp); [`EngineState::save`]
//! writes it as one binary file and [`EngineState::load`] reads it back,
//! exactly. [`EngineState::to_engine`] then builds the engine to serve, or
//! [`LiveEngine::reload_file`](crate::LiveEngine::reload_file) swaps it into
//! a running server.
//!
//! ```
//! use cartwise::{CatalogBuilder, CategoryRules, ComplementGraph, EngineState, Money, Product};
//! let mut b = CatalogBuilder::new();
//! b.add(Product::new("PH", "Phone", Money(50_000), "phones"))?;
//! b.add(Product::new("CASE", "Case", Money(2_000), "cases"))?;
//! let catalog = b.build()?;
//! let mut g = ComplementGraph::builder(&catalog);
//! g.add("PH", "CASE", 0.9)?;
//! let graph = g.build()?;
//! let mut state = EngineState::new(catalog, graph, CategoryRules::default())?;
//! state.version = 42;
//!
//! let mut file = Vec::new();
//! state.save(&mut file)?;
//! let loaded = EngineState::load(&file[..])?;
//! assert_eq!(loaded, state);
//! let engine = loaded.to_engine()?;
//! assert_eq!(engine.version(), 42);
//! # Ok::<(), cartwise::Error>(())
//! ```
//!
//! # The file format
//!
//! A fixed 28-byte header, then the payload. All integers are
//! little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic [`MAGIC`]: `89 43 57 53 0D 0A 1A 0A` (`\x89CWS\r\n\x1a\n`) |
//! | 8 | 4 | format version, `u32` ([`FORMAT_VERSION`]) |
//! | 12 | 8 | payload length in bytes, `u64` |
//! | 20 | 8 | [`checksum`] of the payload, `u64` |
//!
//! Like PNG's, the magic starts with a non-ASCII byte and holds a CR LF
//! pair and a Ctrl-Z, so a file mangled by a text-mode transfer is caught by
//! its first eight bytes.
//!
//! The payload is a sequence of sections, in ascending tag order, each
//! present at most once: a `u32` tag, a `u64` body length, then the body,
//! encoded with `bincode` 1.3 (fixed-width little-endian integers, `u64`
//! length prefixes, strings as UTF-8 bytes).
//!
//! | tag | section | required |
//! |---|---|---|
//! | 1 | configuration: version stamp, merchant rules, upsell, cross-sell and scorer settings | yes |
//! | 2 | catalog: the flat arrays and string arenas, relation types, variants, attributes | yes |
//! | 3 | complement graph (CSR arrays, edge metadata, conditions) | yes |
//! | 4 | category rules (CSR arrays, conditions) | yes |
//! | 5 | bundles (name, member ids, price) | yes |
//! | 6 | learned co-purchase model ([`LearnedGraph`]: CSR graph, prior, popular list), since version 2 | no |
//! | 7 | mined association rules for [`Associations`]: complement graph, then [`ItemsetRules`], since version 2 | no |
//!
//! Why `bincode` 1.3: the payload is dominated by `u32` and `f32` arrays (a
//! 20M-edge graph is 40M values); fixed-width little-endian values decode
//! in a tight loop, where a varint format such as postcard's pays a branch
//! per byte. The 1.x wire format is frozen, which a file format wants.
//!
//! # Checksum
//!
//! [`checksum`] is XXH64 with seed 0, as specified by xxHash, written out in
//! this module (about 60 lines) so its value cannot change with a
//! dependency's version; it is checked against reference vectors in the
//! tests. It hashes 10+ GB/s, so it costs little next to decoding. It
//! detects accidental corruption (a flipped bit, a torn write), not
//! tampering: it is not a cryptographic signature.
//!
//! # Loading is all or nothing
//!
//! [`EngineState::load`] checks, in order: the magic ([`Error::Snapshot`]),
//! the format version ([`Error::SnapshotVersion`]), that the payload is all
//! there ([`Error::Snapshot`]), the checksum ([`Error::ChecksumMismatch`]),
//! that every section decodes and is used up exactly, and finally every
//! cross-reference (catalog arrays and string offsets, graph and
//! category-rule CSR invariants, merchant rules against the catalog,
//! finite non-negative weights, configuration ranges). Only then is an
//! `EngineState` returned, so a file that passes the checksum but is
//! internally inconsistent still fails here and can never panic later.
//! Nothing that is already serving is touched by a failed load.
//!
//! # Versioning policy
//!
//! * The magic and the version field stay at offsets 0 and 8 in every
//!   version, so any build can say which version a file has.
//! * A build writes [`FORMAT_VERSION`] and reads every version from
//!   [`MIN_FORMAT_VERSION`] up to it; a newer file is rejected with
//!   [`Error::SnapshotVersion`] before its payload is read.
//! * Any change to the bytes of an existing section, or a new section, bumps
//!   [`FORMAT_VERSION`]. New state is added as a new optional section (and
//!   an `Option` field of [`EngineState`], which is `#[non_exhaustive]`), so
//!   a newer build still reads older files: the missing section loads as
//!   `None`.
//! * Golden files (`tests/data/state_v1.snap`, `tests/data/state_v2.snap`)
//!   are loaded by the test suite, so an accidental format change fails CI.
//!   A version 1 file loads with [`EngineState::learned`] and
//!   [`EngineState::associations`] empty; a version 1 file holding section
//!   6 or 7 is rejected (version 1 had none).
//!
//! | version | what changed |
//! |---|---|
//! | 1 | sections 1 to 5 |
//! | 2 | optional sections 6 (learned model) and 7 (association rules); sections 1 to 5 unchanged |
//!
//! # JSON
//!
//! [`EngineState::to_json`] and [`EngineState::from_json`] write and read the
//! same state as JSON for people: products as in the
//! [catalog format](crate::catalog_json), edges by SKU, category rules by
//! name, and the configuration by field name. Loading JSON rebuilds
//! everything through the validating builders, so it is slower than a
//! snapshot but accepts hand edits.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use bincode::Options;

use crate::bundle::{BundleSpec, Bundles};
use crate::catalog::raw::RawCatalog;
use crate::catalog::{Catalog, InMemoryCatalog};
use crate::catalog_json::LoadedCatalog;
use crate::error::{Error, Result};
use crate::graph::{CategoryRules, ComplementGraph};
use crate::id::ProductId;
use crate::itemset::ItemsetRules;
use crate::product::Money;
use crate::recommend::{Engine, Rules};
use crate::score::{DefaultScorer, ScoreWeights};
use crate::strategy::{
    Associations, CrossSell, CrossSellConfig, FeatureRule, Learned, LearnedGraph, Upsell,
    UpsellConfig,
};

/// The first eight bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"\x89CWS\r\n\x1a\n";

/// The format version this build writes.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version this build reads.
pub const MIN_FORMAT_VERSION: u32 = 1;

/// Length of the fixed header in bytes: magic (8), version (4), payload
/// length (8), checksum (8).
pub const HEADER_LEN: usize = 28;

/// Section tags; see the module docs.
const TAG_CONFIG: u32 = 1;
const TAG_CATALOG: u32 = 2;
const TAG_GRAPH: u32 = 3;
const TAG_CATEGORY_RULES: u32 = 4;
const TAG_BUNDLES: u32 = 5;
const TAG_LEARNED: u32 = 6;
const TAG_ASSOCIATIONS: u32 = 7;
/// The highest tag this build knows.
const LAST_TAG: u32 = TAG_ASSOCIATIONS;
/// The highest tag of format version 1.
const LAST_TAG_V1: u32 = TAG_BUNDLES;

/// Bytes of a section's tag and length.
const SECTION_HEAD_LEN: usize = 12;

// ---------------------------------------------------------------------------
// Checksum: XXH64, seed 0.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline]
fn xxh_round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline]
fn xxh_merge(acc: u64, val: u64) -> u64 {
    (acc ^ xxh_round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

#[inline]
fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[inline]
fn read_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// The snapshot checksum: XXH64 of `bytes` with seed 0.
///
/// Exposed so tools can verify or repair a header; see the module docs.
///
/// ```
/// assert_eq!(cartwise::snapshot::checksum(b""), 0xEF46_DB37_51D8_E999);
/// assert_eq!(cartwise::snapshot::checksum(b"abc"), 0x44BC_2CF5_AD77_0999);
/// ```
///
/// Runs in O(len).
pub fn checksum(bytes: &[u8]) -> u64 {
    let len = bytes.len() as u64;
    let mut rest = bytes;
    let mut h = if rest.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        let mut stripes = rest.chunks_exact(32);
        for s in &mut stripes {
            v[0] = xxh_round(v[0], read_u64(&s[0..]));
            v[1] = xxh_round(v[1], read_u64(&s[8..]));
            v[2] = xxh_round(v[2], read_u64(&s[16..]));
            v[3] = xxh_round(v[3], read_u64(&s[24..]));
        }
        rest = stripes.remainder();
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for x in v {
            h = xxh_merge(h, x);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(len);
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        h ^= xxh_round(0, read_u64(w));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    rest = words.remainder();
    if rest.len() >= 4 {
        h ^= u64::from(read_u32(rest)).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

// ---------------------------------------------------------------------------
// The header.

/// A snapshot's fixed header; see the module docs for the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The format version the file was written in.
    pub format_version: u32,
    /// Length of the payload that follows the header, in bytes.
    pub payload_len: u64,
    /// [`checksum`] of the payload.
    pub checksum: u64,
}

impl SnapshotHeader {
    /// Reads and checks a header: the magic and the format version.
    ///
    /// # Errors
    /// [`Error::Snapshot`] when fewer than [`HEADER_LEN`] bytes are given or
    /// the magic is wrong; [`Error::SnapshotVersion`] for a version outside
    /// [`MIN_FORMAT_VERSION`]`..=`[`FORMAT_VERSION`].
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            let n = bytes.len().min(MAGIC.len());
            return snapshot_err(format!(
                "not a cartwise snapshot: the first bytes are {:02x?}, expected {:02x?}",
                &bytes[..n],
                MAGIC
            ));
        }
        if bytes.len() < HEADER_LEN {
            return snapshot_err(format!(
                "truncated header: {} of {HEADER_LEN} bytes",
                bytes.len()
            ));
        }
        let format_version = read_u32(&bytes[8..]);
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&format_version) {
            return Err(Error::SnapshotVersion {
                expected: FORMAT_VERSION,
                found: format_version,
            });
        }
        Ok(SnapshotHeader {
            format_version,
            payload_len: read_u64(&bytes[12..]),
            checksum: read_u64(&bytes[20..]),
        })
    }

    /// The header's 28 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..20].copy_from_slice(&self.payload_len.to_le_bytes());
        out[20..28].copy_from_slice(&self.checksum.to_le_bytes());
        out
    }
}

fn snapshot_err<T>(reason: impl Into<String>) -> Result<T> {
    Err(Error::Snapshot {
        reason: reason.into(),
    })
}

// ---------------------------------------------------------------------------
// Section bodies. Their field order and types are the wire format.

/// bincode options: fixed-width little-endian integers, no trailing bytes.
fn codec() -> impl Options {
    bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// Merchant rules, as stored (frozen copy of [`Rules`]' fields).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesV1 {
    #[serde(default)]
    exclude_skus: Vec<String>,
    #[serde(default)]
    exclude_categories: Vec<String>,
    #[serde(default)]
    max_per_category: Option<u32>,
    #[serde(default)]
    boosts: Vec<(String, f32)>,
    #[serde(default)]
    pins: Vec<String>,
}

// The `From<&Config>` impls below destructure without `..`: a field added
// to a configuration struct stops the build here until the snapshot format
// carries it (a new format version), instead of being dropped silently.

impl From<&Rules> for RulesV1 {
    fn from(r: &Rules) -> Self {
        let Rules {
            exclude_skus,
            exclude_categories,
            max_per_category,
            boosts,
            pins,
        } = r;
        RulesV1 {
            exclude_skus: exclude_skus.clone(),
            exclude_categories: exclude_categories.clone(),
            max_per_category: *max_per_category,
            boosts: boosts.clone(),
            pins: pins.clone(),
        }
    }
}

impl From<RulesV1> for Rules {
    fn from(r: RulesV1) -> Self {
        Rules {
            exclude_skus: r.exclude_skus,
            exclude_categories: r.exclude_categories,
            max_per_category: r.max_per_category,
            boosts: r.boosts,
            pins: r.pins,
            ..Rules::default()
        }
    }
}

/// Upsell settings, as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct UpsellV1 {
    max_price_step_percent: u32,
    features: FeatureRule,
    max_tiers_up: u32,
}

impl Default for UpsellV1 {
    fn default() -> Self {
        (&UpsellConfig::default()).into()
    }
}

impl From<&UpsellConfig> for UpsellV1 {
    fn from(c: &UpsellConfig) -> Self {
        let UpsellConfig {
            max_price_step_percent,
            features,
            max_tiers_up,
        } = *c;
        UpsellV1 {
            max_price_step_percent,
            features,
            max_tiers_up,
        }
    }
}

impl From<UpsellV1> for UpsellConfig {
    fn from(c: UpsellV1) -> Self {
        UpsellConfig {
            max_price_step_percent: c.max_price_step_percent,
            features: c.features,
            max_tiers_up: c.max_tiers_up,
            ..UpsellConfig::default()
        }
    }
}

/// Cross-sell settings, as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CrossSellV1 {
    category_fanout: u64,
}

impl Default for CrossSellV1 {
    fn default() -> Self {
        (&CrossSellConfig::default()).into()
    }
}

impl From<&CrossSellConfig> for CrossSellV1 {
    fn from(c: &CrossSellConfig) -> Self {
        let CrossSellConfig { category_fanout } = *c;
        CrossSellV1 {
            category_fanout: category_fanout as u64,
        }
    }
}

impl CrossSellV1 {
    fn into_config(self) -> Result<CrossSellConfig> {
        let category_fanout =
            usize::try_from(self.category_fanout).map_err(|_| Error::InvalidConfig {
                field: "category_fanout",
                value: self.category_fanout.to_string(),
                hint: "must fit in usize on this machine",
            })?;
        Ok(CrossSellConfig {
            category_fanout,
            ..CrossSellConfig::default()
        })
    }
}

/// Scorer weights, as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WeightsV1 {
    relevance: f32,
    margin: f32,
    price_fit: f32,
    popularity: f32,
    stock_depth: f32,
    low_stock: u32,
}

impl Default for WeightsV1 {
    fn default() -> Self {
        (&ScoreWeights::default()).into()
    }
}

impl From<&ScoreWeights> for WeightsV1 {
    fn from(w: &ScoreWeights) -> Self {
        let ScoreWeights {
            relevance,
            margin,
            price_fit,
            popularity,
            stock_depth,
            low_stock,
        } = *w;
        WeightsV1 {
            relevance,
            margin,
            price_fit,
            popularity,
            stock_depth,
            low_stock,
        }
    }
}

impl From<WeightsV1> for ScoreWeights {
    fn from(w: WeightsV1) -> Self {
        ScoreWeights {
            relevance: w.relevance,
            margin: w.margin,
            price_fit: w.price_fit,
            popularity: w.popularity,
            stock_depth: w.stock_depth,
            low_stock: w.low_stock,
            ..ScoreWeights::default()
        }
    }
}

/// One bundle, as stored (section 5). The regular price is not stored: it
/// is the sum of the members' prices, recomputed on load.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct BundleV1 {
    name: String,
    members: Vec<ProductId>,
    price: Money,
}

/// Section 1.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ConfigV1 {
    version: u64,
    rules: RulesV1,
    upsell: UpsellV1,
    cross_sell: CrossSellV1,
    weights: WeightsV1,
}

// ---------------------------------------------------------------------------
// The state.

/// Everything the standard engine is made of, to save, ship and load.
///
/// Build one with [`new`](Self::new) (or from a JSON catalog with
/// [`from_loaded`](Self::from_loaded)), set the public fields, and turn it
/// into an [`Engine`] with [`to_engine`](Self::to_engine). See the
/// [module docs](self) for the file format.
///
/// The struct is `#[non_exhaustive]`: later versions add fields (as the
/// learned model and the association rules were added, as `Option`s)
/// without breaking code that reads or sets the existing ones, and old
/// snapshot files load with the new fields empty.
///
/// The graph and category rules are behind `Arc`s, so cloning a state and
/// building engines from it share them instead of copying 8 bytes per edge.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EngineState {
    /// The version stamp the engine puts on every answer
    /// ([`Recommendations::version`](crate::Recommendations::version)).
    pub version: u64,
    /// The catalog.
    pub catalog: InMemoryCatalog,
    /// The complement graph over the catalog's product ids.
    pub graph: Arc<ComplementGraph>,
    /// Category -> category rules over the catalog's category ids.
    pub category_rules: Arc<CategoryRules>,
    /// The merchant's business rules (by SKU and category name).
    pub rules: Rules,
    /// The upsell strategy's configuration.
    pub upsell: UpsellConfig,
    /// The cross-sell strategy's configuration.
    pub cross_sell: CrossSellConfig,
    /// The default scorer's weights.
    pub weights: ScoreWeights,
    /// The merchant's bundles.
    pub bundles: Bundles,
    /// Mined association rules (single-item edges and two-item itemset
    /// rules over the catalog's ids), served by an [`Associations`]
    /// strategy after the curated ones; `None` for none. Section 7.
    pub associations: Option<Associations>,
    /// A learned co-purchase model over the catalog's ids, served by a
    /// [`Learned`] strategy last; `None` for none. Section 6.
    pub learned: Option<Arc<LearnedGraph>>,
}

impl EngineState {
    /// A state with default rules and configuration and version 0.
    /// `CategoryRules::default()` is stored as
    /// [`CategoryRules::empty`] over the catalog's categories.
    ///
    /// # Errors
    /// [`Error::Snapshot`] when the graph or the category rules were built
    /// for another catalog (their sizes or ids do not fit).
    pub fn new(
        catalog: InMemoryCatalog,
        graph: impl Into<Arc<ComplementGraph>>,
        category_rules: impl Into<Arc<CategoryRules>>,
    ) -> Result<Self> {
        let graph = graph.into();
        let mut category_rules = category_rules.into();
        // `CategoryRules::default()` and `empty(categories)` both mean "no
        // rules"; keep one form so states compare equal after a JSON trip.
        if *category_rules == CategoryRules::default() {
            category_rules = Arc::new(CategoryRules::empty(catalog.category_count()));
        }
        graph.validate(catalog.len())?;
        category_rules.validate(catalog.category_count())?;
        Ok(EngineState {
            version: 0,
            catalog,
            graph,
            category_rules,
            rules: Rules::default(),
            upsell: UpsellConfig::default(),
            cross_sell: CrossSellConfig::default(),
            weights: ScoreWeights::default(),
            bundles: Bundles::default(),
            associations: None,
            learned: None,
        })
    }

    /// The state of a loaded JSON catalog file (its catalog, graph,
    /// category rules, merchant rules and bundles), with default
    /// configuration.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn from_loaded(loaded: LoadedCatalog) -> Result<Self> {
        let mut state = EngineState::new(loaded.catalog, loaded.graph, loaded.category_rules)?;
        state.rules = loaded.rules;
        state.bundles = loaded.bundles;
        state.validate()?;
        Ok(state)
    }

    /// Checks everything [`to_engine`](Self::to_engine) needs: graph and
    /// category-rule invariants against the catalog, merchant rules
    /// against the catalog, finite non-negative weights, configuration
    /// ranges. Runs in O(products + edges).
    ///
    /// # Errors
    /// As [`to_engine`](Self::to_engine).
    pub fn validate(&self) -> Result<()> {
        self.to_engine().map(drop)
    }

    /// Builds the standard engine, with its strategies in this order:
    /// [`CrossSell`] over the graph and category rules, [`Upsell`], then
    /// [`Associations`] over the mined rules when
    /// [`associations`](Self::associations) is set, then [`Learned`] over
    /// the model when [`learned`](Self::learned) is set; ranked by
    /// [`DefaultScorer`] with the state's weights, under its merchant rules
    /// and version stamp. Shares the catalog, graphs and rules with `self`
    /// (no copy). Evidence for one product from several strategies adds
    /// up; the order decides which strategy's reason a tie shows.
    ///
    /// Validates first, since the fields are public; runs in
    /// O(products + edges).
    ///
    /// # Errors
    /// [`Error::Snapshot`] for a graph or category rules that do not fit the
    /// catalog; [`Error::InvalidConfig`] for weights or upsell settings out
    /// of range; as [`EngineBuilder::build`](crate::EngineBuilder::build)
    /// for merchant rules naming unknown SKUs or categories; as
    /// [`LearnedGraph::validate`] and [`ItemsetRules::validate`] for a
    /// learned model or association rules of another catalog.
    pub fn to_engine(&self) -> Result<Engine> {
        let n = self.catalog.len();
        self.graph.validate(n)?;
        self.graph.validate_relations(&self.catalog)?;
        self.category_rules
            .validate(self.catalog.category_count())?;
        if let Some(a) = &self.associations {
            a.graph().validate(n)?;
            a.graph().validate_relations(&self.catalog)?;
            a.itemsets().validate(n)?;
        }
        if let Some(l) = &self.learned {
            l.validate(n)?;
        }
        let cross_sell = CrossSell::new(Arc::clone(&self.graph), Arc::clone(&self.category_rules))
            .with_config(self.cross_sell.clone());
        let mut engine = Engine::builder(self.catalog.clone())
            .strategy(cross_sell)
            .strategy(Upsell::new(self.upsell.clone())?);
        if let Some(a) = &self.associations {
            engine = engine.strategy(a.clone());
        }
        if let Some(l) = &self.learned {
            engine = engine.strategy(Learned::new(Arc::clone(l)));
        }
        engine
            .scorer(DefaultScorer::new(self.weights.clone())?)
            .rules(self.rules.clone())
            .bundles(self.bundles.clone())
            .version(self.version)
            .build()
    }

    /// Writes the snapshot to `writer`. The whole file is encoded in memory
    /// first (the header needs the payload's checksum), so a failure while
    /// encoding writes nothing.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn save<W: Write>(&self, mut writer: W) -> Result<()> {
        let bytes = self.to_bytes()?;
        writer.write_all(&bytes).map_err(|e| Error::io("", e))?;
        writer.flush().map_err(|e| Error::io("", e))
    }

    /// The snapshot as bytes: header and payload.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if a section cannot be encoded (not expected for
    /// a state built through this crate's constructors).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.size_hint());
        out.extend_from_slice(&[0u8; HEADER_LEN]);
        let config = ConfigV1 {
            version: self.version,
            rules: (&self.rules).into(),
            upsell: (&self.upsell).into(),
            cross_sell: (&self.cross_sell).into(),
            weights: (&self.weights).into(),
        };
        write_section(&mut out, TAG_CONFIG, &config)?;
        write_section(&mut out, TAG_CATALOG, &self.catalog.to_raw())?;
        write_section(&mut out, TAG_GRAPH, &*self.graph)?;
        write_section(&mut out, TAG_CATEGORY_RULES, &*self.category_rules)?;
        let bundles: Vec<BundleV1> = self
            .bundles
            .list()
            .iter()
            .map(|b| BundleV1 {
                name: b.name.clone(),
                members: b.members.clone(),
                price: b.price,
            })
            .collect();
        write_section(&mut out, TAG_BUNDLES, &bundles)?;
        if let Some(learned) = &self.learned {
            write_section(&mut out, TAG_LEARNED, &**learned)?;
        }
        if let Some(a) = &self.associations {
            write_section(&mut out, TAG_ASSOCIATIONS, &(&**a.graph(), &**a.itemsets()))?;
        }
        let payload = &out[HEADER_LEN..];
        let header = SnapshotHeader {
            format_version: FORMAT_VERSION,
            payload_len: payload.len() as u64,
            checksum: checksum(payload),
        };
        out[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        Ok(out)
    }

    /// A guess at the payload size, to allocate once.
    fn size_hint(&self) -> usize {
        self.catalog.heap_bytes()
            + self.graph.heap_bytes()
            + self.learned.as_ref().map_or(0, |l| l.heap_bytes())
            + self
                .associations
                .as_ref()
                .map_or(0, |a| a.graph().heap_bytes() + a.itemsets().heap_bytes())
            + 4096
    }

    /// Reads one snapshot from `reader`: exactly the header and the payload
    /// it announces; bytes after that are left unread.
    ///
    /// # Errors
    /// See the [module docs](self#loading-is-all-or-nothing):
    /// [`Error::Snapshot`], [`Error::SnapshotVersion`],
    /// [`Error::ChecksumMismatch`], [`Error::Io`], or any validation error.
    pub fn load<R: Read>(mut reader: R) -> Result<Self> {
        let mut head = [0u8; HEADER_LEN];
        let got = read_up_to(&mut reader, &mut head)?;
        let header = SnapshotHeader::parse(&head[..got])?;
        let len = header.payload_len;
        // Grow as the bytes arrive rather than trusting the header with a
        // huge allocation: a bogus length then fails as truncation.
        let mut payload = Vec::with_capacity(usize::try_from(len.min(1 << 26)).unwrap_or(0));
        reader
            .take(len)
            .read_to_end(&mut payload)
            .map_err(|e| Error::io("", e))?;
        Self::from_payload(&header, &payload)
    }

    /// Reads a snapshot held in memory. Trailing bytes after the payload
    /// are an error.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let header = SnapshotHeader::parse(bytes)?;
        let payload = &bytes[HEADER_LEN..];
        if (payload.len() as u64) > header.payload_len {
            return snapshot_err(format!(
                "{} bytes after the payload of {} bytes",
                payload.len() as u64 - header.payload_len,
                header.payload_len
            ));
        }
        Self::from_payload(&header, payload)
    }

    /// Checks the length and checksum, decodes and validates.
    fn from_payload(header: &SnapshotHeader, payload: &[u8]) -> Result<Self> {
        if payload.len() as u64 != header.payload_len {
            return snapshot_err(format!(
                "truncated: the header announces {} payload bytes, {} are there",
                header.payload_len,
                payload.len()
            ));
        }
        let found = checksum(payload);
        if found != header.checksum {
            return Err(Error::ChecksumMismatch {
                expected: header.checksum,
                found,
            });
        }
        decode_payload(header.format_version, payload)
    }

    /// Writes the snapshot to a file, atomically: it writes a temporary
    /// file beside `path`, syncs it, and renames it over `path`, so a
    /// reader (or a crash) never sees a half-written snapshot.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn save_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        let name = path
            .file_name()
            .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }

    /// Reads a snapshot file. Trailing bytes after the payload are an error.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path, or as [`load`](Self::load).
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// The state as pretty-printed JSON; see the [module docs](self#json).
    ///
    /// The document holds `format_version`, `version`, `upsell`,
    /// `cross_sell`, `weights`, and `catalog`: the whole catalog file
    /// ([`LoadedCatalog::to_json`]) with products, links, category rules,
    /// merchant rules, relation types and bundles; and, when set,
    /// `associations` (`graph` and `itemsets`) and `learned`, as their
    /// id-based arrays (product ids are positions in SKU byte order),
    /// checked against the catalog on the way in.
    pub fn to_json(&self) -> String {
        let loaded = LoadedCatalog {
            catalog: self.catalog.clone(),
            graph: (*self.graph).clone(),
            category_rules: (*self.category_rules).clone(),
            rules: self.rules.clone(),
            bundles: self.bundles.clone(),
        };
        // Re-read as a value so the whole document is indented alike;
        // serde_json writes and reads floats exactly (shortest round-trip).
        let catalog = serde_json::from_str(&loaded.to_json()).unwrap_or(serde_json::Value::Null);
        let doc = StateJsonOut {
            format_version: FORMAT_VERSION,
            version: self.version,
            upsell: (&self.upsell).into(),
            cross_sell: (&self.cross_sell).into(),
            weights: (&self.weights).into(),
            catalog,
            associations: self.associations.as_ref().map(|a| AssociationsJson {
                graph: (**a.graph()).clone(),
                itemsets: (**a.itemsets()).clone(),
            }),
            learned: self.learned.as_deref(),
        };
        // Serialising these types cannot fail: every map key is a string
        // and every value is plain data.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Reads a state written by [`to_json`](Self::to_json) (or by hand),
    /// rebuilding it through the validating builders.
    ///
    /// # Errors
    /// [`Error::Json`] for syntax and shape errors (unknown keys included);
    /// [`Error::SnapshotVersion`] for a newer `format_version`; the
    /// catalog file's located errors ([`crate::catalog_json::from_json_str`],
    /// with lines and columns counted in the whole document); as
    /// [`validate`](Self::validate).
    pub fn from_json(text: &str) -> Result<Self> {
        let doc: StateJsonIn<'_> = serde_json::from_str(text).map_err(|e| Error::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&doc.format_version) {
            return Err(Error::SnapshotVersion {
                expected: FORMAT_VERSION,
                found: doc.format_version,
            });
        }
        let inner = doc.catalog.get();
        let loaded = crate::catalog_json::from_json_str(inner)
            .map_err(|e| shift_location(e, text, inner))?;
        let mut state = EngineState::from_loaded(loaded)?;
        state.version = doc.version;
        state.upsell = doc.upsell.into();
        state.cross_sell = doc.cross_sell.into_config()?;
        state.weights = doc.weights.into();
        state.associations = doc
            .associations
            .map(|a| Associations::new(Arc::new(a.graph), Arc::new(a.itemsets)));
        state.learned = doc.learned.map(Arc::new);
        state.validate()?;
        Ok(state)
    }
}

/// The JSON document, as written.
#[derive(serde::Serialize)]
struct StateJsonOut<'a> {
    format_version: u32,
    version: u64,
    upsell: UpsellV1,
    cross_sell: CrossSellV1,
    weights: WeightsV1,
    catalog: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    associations: Option<AssociationsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    learned: Option<&'a LearnedGraph>,
}

/// The association rules in the JSON document: the graph and the itemset
/// rules as their id-based arrays (product ids are positions in SKU byte
/// order).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssociationsJson {
    graph: ComplementGraph,
    itemsets: ItemsetRules,
}

/// The JSON document, as read: the catalog stays text so its errors can be
/// located.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StateJsonIn<'a> {
    format_version: u32,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    upsell: UpsellV1,
    #[serde(default)]
    cross_sell: CrossSellV1,
    #[serde(default)]
    weights: WeightsV1,
    #[serde(borrow)]
    catalog: &'a serde_json::value::RawValue,
    #[serde(default)]
    associations: Option<AssociationsJson>,
    #[serde(default)]
    learned: Option<LearnedGraph>,
}

/// Moves the line and column of an error found in `inner`, a slice of
/// `text`, to count from the start of `text`.
fn shift_location(err: Error, text: &str, inner: &str) -> Error {
    let start = (inner.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let before = text.get(..start).unwrap_or("");
    let base_line = before.matches('\n').count();
    let base_col = before.len() - before.rfind('\n').map_or(0, |p| p + 1);
    let shift = |line: usize, column: usize| {
        if line == 0 {
            (0, 0) // unknown position stays unknown
        } else if line == 1 {
            (base_line + 1, base_col + column)
        } else {
            (base_line + line, column)
        }
    };
    match err {
        Error::Json {
            line,
            column,
            message,
        } => {
            let (line, column) = shift(line, column);
            Error::Json {
                line,
                column,
                message,
            }
        }
        Error::Located {
            location,
            line,
            column,
            source,
        } => {
            let (line, column) = shift(line, column);
            Error::Located {
                location: format!("catalog.{location}"),
                line,
                column,
                source,
            }
        }
        other => other,
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("", e)),
        }
    }
    Ok(got)
}

/// Appends a section: tag, body length, body.
fn write_section<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    tag: u32,
    body: &T,
) -> Result<()> {
    out.extend_from_slice(&tag.to_le_bytes());
    let len_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    codec()
        .serialize_into(&mut *out, body)
        .map_err(|e| Error::Snapshot {
            reason: format!("cannot encode section {tag}: {e}"),
        })?;
    let len = (out.len() - len_at - 8) as u64;
    out[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Decodes one section body, which must be used up exactly.
fn decode<'a, T: serde::Deserialize<'a>>(tag: u32, body: &'a [u8]) -> Result<T> {
    codec().deserialize(body).map_err(|e| Error::Snapshot {
        reason: format!("section {tag} does not decode: {e}"),
    })
}

/// Splits the payload of a file of format `version` into sections, decodes
/// and validates them.
fn decode_payload(version: u32, payload: &[u8]) -> Result<EngineState> {
    let last_tag = if version == 1 { LAST_TAG_V1 } else { LAST_TAG };
    let mut bodies: [Option<&[u8]>; LAST_TAG as usize] = [None; LAST_TAG as usize];
    let mut rest = payload;
    let mut last = 0u32;
    while !rest.is_empty() {
        if rest.len() < SECTION_HEAD_LEN {
            return snapshot_err(format!(
                "{} stray bytes at the end of the payload",
                rest.len()
            ));
        }
        let tag = read_u32(rest);
        let len = read_u64(&rest[4..]);
        rest = &rest[SECTION_HEAD_LEN..];
        if tag == 0 || tag > last_tag {
            return snapshot_err(format!(
                "unknown section tag {tag} in format version {version}"
            ));
        }
        if tag <= last {
            return snapshot_err(format!(
                "section {tag} after section {last}: sections must be in ascending tag order, each once"
            ));
        }
        let len = match usize::try_from(len) {
            Ok(l) if l <= rest.len() => l,
            _ => {
                return snapshot_err(format!(
                    "section {tag} announces {len} bytes, {} are left",
                    rest.len()
                ))
            }
        };
        bodies[tag as usize - 1] = Some(&rest[..len]);
        rest = &rest[len..];
        last = tag;
    }
    let body = |tag: u32| {
        bodies[tag as usize - 1].ok_or_else(|| Error::Snapshot {
            reason: format!("required section {tag} is missing"),
        })
    };
    let config: ConfigV1 = decode(TAG_CONFIG, body(TAG_CONFIG)?)?;
    let raw: RawCatalog<'_> = decode(TAG_CATALOG, body(TAG_CATALOG)?)?;
    let catalog = raw.into_catalog()?;
    let graph: ComplementGraph = decode(TAG_GRAPH, body(TAG_GRAPH)?)?;
    let category_rules: CategoryRules = decode(TAG_CATEGORY_RULES, body(TAG_CATEGORY_RULES)?)?;
    let bundle_list: Vec<BundleV1> = decode(TAG_BUNDLES, body(TAG_BUNDLES)?)?;
    let mut state = EngineState::new(catalog, graph, category_rules)?;
    state.version = config.version;
    state.rules = config.rules.into();
    state.upsell = config.upsell.into();
    state.cross_sell = config.cross_sell.into_config()?;
    state.weights = config.weights.into();
    // Bundles go back through the validating constructor, by SKU.
    let mut specs = Vec::with_capacity(bundle_list.len());
    for b in bundle_list {
        let mut skus = Vec::with_capacity(b.members.len());
        for m in b.members {
            match state.catalog.product(m) {
                Some(p) => skus.push(p.sku.to_owned()),
                None => {
                    return snapshot_err(format!("bundle {:?}: member id {m} out of range", b.name))
                }
            }
        }
        specs.push(BundleSpec {
            name: b.name,
            skus,
            price: Some(b.price),
            discount_percent: None,
        });
    }
    state.bundles = Bundles::from_specs(&state.catalog, &specs)?;
    if let Some(body) = bodies[TAG_LEARNED as usize - 1] {
        let learned: LearnedGraph = decode(TAG_LEARNED, body)?;
        state.learned = Some(Arc::new(learned));
    }
    if let Some(body) = bodies[TAG_ASSOCIATIONS as usize - 1] {
        let (graph, itemsets): (ComplementGraph, ItemsetRules) = decode(TAG_ASSOCIATIONS, body)?;
        state.associations = Some(Associations::new(Arc::new(graph), Arc::new(itemsets)));
    }
    // Checks the optional sections against the catalog too.
    state.validate()?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from the xxHash reference implementation (XXH64,
    /// seed 0), covering every tail path: empty, 1 byte, < 4, 8, 31
    /// (words, a 4-byte step and single bytes), 32 (one stripe), 771.
    #[test]
    fn checksum_matches_xxh64_reference_vectors() {
        let long: Vec<u8> = (0..=255u8).cycle().take(768).chain(*b"xyz").collect();
        let cases: [(&[u8], u64); 7] = [
            (b"", 0xef46_db37_51d8_e999),
            (b"a", 0xd24e_c4f1_a98c_6e5b),
            (b"abc", 0x44bc_2cf5_ad77_0999),
            (b"cartwise", 0x02a9_48e0_a0a0_9831),
            (b"0123456789abcdef0123456789abcde", 0x1fdf_c63f_ebac_fde7),
            (b"0123456789abcdef0123456789abcdef", 0x642a_9495_8e71_e6c5),
            (&long, 0xe921_a1b4_5bd7_79f8),
        ];
        for (input, want) in cases {
            assert_eq!(checksum(input), want, "input of {} bytes", input.len());
        }
    }

    #[test]
    fn header_round_trip_and_layout() {
        let h = SnapshotHeader {
            format_version: FORMAT_VERSION,
            payload_len: 0x0102_0304_0506_0708,
            checksum: 0x1122_3344_5566_7788,
        };
        let b = h.to_bytes();
        assert_eq!(&b[..8], &MAGIC);
        assert_eq!(&b[8..12], &FORMAT_VERSION.to_le_bytes());
        assert_eq!(b[12], 0x08);
        assert_eq!(b[27], 0x11);
        assert_eq!(SnapshotHeader::parse(&b).unwrap(), h);
    }
}
