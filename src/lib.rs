// The README is the crate's front page and its examples are doc tests; they
// use every default feature, so without them a short page stands in.
#![cfg_attr(
    all(feature = "serde", feature = "csv", feature = "snapshot"),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    not(all(feature = "serde", feature = "csv", feature = "snapshot")),
    doc = "Cross-sell and upsell recommendations. The full front page, with its tested \
           examples, is the README, built with the default features (`serde`, `csv`, \
           `snapshot`)."
)]
// Without the default features some documented items link to gated ones
// (`MinedGraph::to_json`, the `spark` module), which then do not exist.
#![cfg_attr(
    not(all(feature = "serde", feature = "csv", feature = "snapshot")),
    allow(rustdoc::broken_intra_doc_links)
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod cart;
pub mod catalog;
#[cfg(feature = "serde")]
pub mod catalog_json;
pub mod cooc;
pub mod date;
pub mod error;
pub mod eval;
pub mod explain;
pub mod graph;
pub mod id;
pub mod incremental;
pub mod itemset;
pub mod learn;
pub mod live;
pub mod mine;
pub mod orders;
mod prefetch;
pub mod product;
pub mod recommend;
pub mod relation;
pub mod score;
#[cfg(feature = "snapshot")]
pub mod snapshot;
#[cfg(feature = "serde")]
pub mod spark;
pub mod strategy;
pub mod topk;
pub mod variants_learning;

pub use bundle::{
    frequently_bought_together, Bundle, BundleOffer, BundleSpec, Bundles, TogetherSet,
};
pub use cart::{Cart, CartLine, InlineCart, INLINE_LINES};
pub use catalog::{Catalog, CatalogBuilder, InMemoryCatalog, ProductRef};
pub use cooc::CoCounts;
pub use date::Day;
pub use error::{Error, Result, SkuContext};
pub use eval::{Evaluation, MethodReport, Ranker};
pub use explain::{Reason, ReasonDisplay};
pub use graph::{
    CategoryLink, CategoryRules, ComplementGraph, Condition, EdgeMeta, GraphBuilder, Link,
};
pub use id::{AttributeId, CategoryId, FamilyId, FeatureId, ProductId, VariantGroupId};
pub use incremental::{MinerState, DEFAULT_MAX_PAIRS};
pub use itemset::ItemsetRules;
pub use learn::{LearnConfig, LearnedModel, LearnedRanker};
pub use live::LiveEngine;
pub use mine::{
    Decay, EventWeights, Events, ItemsetRule, Itemsets, Measure, Measures, MineReport, MinedGraph,
    Miner, Phase, Progress, Rule,
};
pub use orders::{
    Event, LoadReport, OnMalformed, OrderLog, OrderLogBuilder, Orders, OrdersView, ReadOptions,
    DEFAULT_MAX_ITEMS, MAX_ITEMS_PER_ORDER,
};
pub use product::{Money, Product};
pub use recommend::{
    Engine, EngineBuilder, Kinds, Placement, Recommendations, Recommender, Request, Rules, Scratch,
    Suggestion, SuggestionView, DEFAULT_LIMIT,
};
pub use relation::{RelationId, RelationType, Symmetry};
pub use score::{DefaultScorer, RelevanceScorer, ScoreWeights, Scorer};
#[cfg(feature = "snapshot")]
pub use snapshot::EngineState;
pub use strategy::{
    Associations, Candidate, Candidates, Context, CrossSell, CrossSellConfig, Evidence,
    FeatureRule, Kind, Learned, LearnedGraph, Similar, Strategy, Upsell, UpsellConfig, Via,
};

/// The most products one catalog may hold (ids are `u32`; the cap leaves
/// room for sentinels).
pub const MAX_PRODUCTS: usize = (u32::MAX - 1) as usize;

/// The largest `limit` a request may ask for. Larger requests are rejected
/// with [`Error::InvalidLimit`]: a page shows a handful of suggestions, and
/// the cap keeps a typo from turning a call into a full catalog scan.
pub const MAX_LIMIT: usize = 100;
