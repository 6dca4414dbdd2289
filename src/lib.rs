#![doc = "cartwise: cross-sell and upsell recommendations."]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cooc;
pub mod error;
pub mod eval;
pub mod id;
pub mod learn;
pub mod orders;
pub mod product;

pub use cooc::CoCounts;
pub use eval::{Evaluation, MethodReport, Ranker};
pub use error::{Error, Result, SkuContext};
pub use id::{CategoryId, FamilyId, FeatureId, ProductId};
pub use orders::{
    LoadReport, OnMalformed, OrderLog, OrderLogBuilder, Orders, OrdersView, ReadOptions,
    MAX_ITEMS_PER_ORDER,
};
pub use learn::{LearnConfig, LearnedModel, LearnedRanker};
pub use product::{Money, Product};

/// The most products one catalog may hold (ids are `u32`; the cap leaves
/// room for sentinels).
pub const MAX_PRODUCTS: usize = (u32::MAX - 1) as usize;

/// The largest `limit` a request may ask for. Larger requests are rejected
/// with [`Error::InvalidLimit`]: a page shows a handful of suggestions, and
/// the cap keeps a typo from turning a call into a full catalog scan.
pub const MAX_LIMIT: usize = 100;
