//! Requests, the engine, and what it returns.
//!
//! [`Engine`] holds a catalog, the strategies that propose candidates, the
//! scorer that ranks them, and the merchant's [`Rules`]. It is immutable
//! while serving: every method takes `&self`, so one engine behind an `Arc`
//! serves every thread. Per-call state lives in a [`Scratch`].
//!
//! Two entry points:
//! * [`Recommender::recommend`]: convenient; returns owned
//!   [`Recommendations`] and reuses a per-thread scratch.
//! * [`Engine::recommend_with`]: takes your `&mut Scratch` and returns a
//!   slice into it. After the first calls have grown its buffers it does not
//!   touch the heap at all, which is what a request path on every core
//!   wants (no allocator contention, no latency spikes).
//!
//! One call does, in order: validate the request and the cart (merging
//! repeated products), run the strategies for the requested kinds, drop
//! candidates that are in the cart, unavailable, over the budget or
//! excluded, score the rest, apply boosts and pins, and select the best
//! `limit` under the per-category cap. Ties in score are broken by product
//! id, that is by SKU, so the same input always gives the same output.

use std::cell::RefCell;
use std::sync::Arc;

use crate::bundle::{BundleOffer, Bundles};
use crate::cart::{Cart, CartLine};
use crate::catalog::{Catalog, InMemoryCatalog};
use crate::date::Day;
use crate::error::{Error, Result, SkuContext};
use crate::explain::{sorted_difference_counts, Reason, ReasonDisplay};
use crate::id::{CategoryId, ProductId, VariantGroupId};
use crate::product::Money;
use crate::score::{DefaultScorer, Scorer};
use crate::strategy::{Candidate, Candidates, Context, Evidence, Kind, Strategy};
use crate::topk;

/// Which kinds of suggestion a request wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Kinds {
    /// Cross-sells and upsells (default).
    #[default]
    Both,
    /// Only cross-sells.
    CrossSell,
    /// Only upsells.
    Upsell,
}

impl Kinds {
    /// Whether `kind` is wanted.
    #[inline]
    pub fn includes(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Kinds::Both, _) | (Kinds::CrossSell, Kind::CrossSell) | (Kinds::Upsell, Kind::Upsell)
        )
    }
}

/// The default number of suggestions.
pub const DEFAULT_LIMIT: usize = 5;

/// What one call asks for.
///
/// ```
/// use cartwise::{Kinds, Money, Request};
/// let req = Request::new().limit(4).kinds(Kinds::CrossSell).budget(Money(50_00)).exclude_sku("GIFT-CARD");
/// assert_eq!(req.limit_value(), 4);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// How many suggestions, 1 to [`MAX_LIMIT`](crate::MAX_LIMIT). Default 5.
    pub limit: usize,
    /// Which kinds. Default both.
    pub kinds: Kinds,
    /// No suggestion may cost more than this (its full price).
    pub budget: Option<Money>,
    /// SKUs never to suggest in this call. Unknown SKUs are ignored (a
    /// product may have left the catalog since the page was built).
    pub exclude_skus: Vec<String>,
    /// Categories never to suggest from in this call; unknown names are ignored.
    pub exclude_categories: Vec<String>,
    /// At most this many suggestions per category in this call; overrides
    /// the engine's [`Rules::max_per_category`].
    pub max_per_category: Option<u32>,
    /// Product ids never to suggest in this call (used by placements to
    /// keep one page free of repeats).
    pub exclude: Vec<ProductId>,
    /// The day of the request, for links and rules limited to a date range.
    /// Without it, dated links do not fire (cartwise never reads the clock).
    pub date: Option<Day>,
    /// The customer's segments (string tags such as `"b2b"` or `"vip"`),
    /// for links and rules limited to segments.
    pub segments: Vec<String>,
    /// SKUs the customer bought before. Products from repurchasable
    /// categories, or reached by a repurchasable relation (consumables),
    /// may be suggested again; other products already bought are not.
    /// Unknown SKUs are ignored.
    pub purchased: Vec<String>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            limit: DEFAULT_LIMIT,
            kinds: Kinds::Both,
            budget: None,
            exclude_skus: Vec::new(),
            exclude_categories: Vec::new(),
            max_per_category: None,
            exclude: Vec::new(),
            date: None,
            segments: Vec::new(),
            purchased: Vec::new(),
        }
    }
}

impl Request {
    /// The default request: 5 suggestions of both kinds.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the number of suggestions (checked at call time).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    /// The number of suggestions asked for.
    pub fn limit_value(&self) -> usize {
        self.limit
    }
    /// Sets the kinds.
    pub fn kinds(mut self, kinds: Kinds) -> Self {
        self.kinds = kinds;
        self
    }
    /// Sets the budget.
    pub fn budget(mut self, budget: Money) -> Self {
        self.budget = Some(budget);
        self
    }
    /// Excludes a SKU.
    pub fn exclude_sku(mut self, sku: impl Into<String>) -> Self {
        self.exclude_skus.push(sku.into());
        self
    }
    /// Excludes a category.
    pub fn exclude_category(mut self, category: impl Into<String>) -> Self {
        self.exclude_categories.push(category.into());
        self
    }
    /// Caps suggestions per category.
    pub fn max_per_category(mut self, max: u32) -> Self {
        self.max_per_category = Some(max);
        self
    }
    /// Excludes a product by id.
    pub fn exclude_product(mut self, product: ProductId) -> Self {
        self.exclude.push(product);
        self
    }
    /// Sets the day of the request.
    pub fn on(mut self, day: Day) -> Self {
        self.date = Some(day);
        self
    }
    /// Adds a customer segment.
    pub fn segment(mut self, segment: impl Into<String>) -> Self {
        self.segments.push(segment.into());
        self
    }
    /// Adds a SKU the customer bought before.
    pub fn purchased(mut self, sku: impl Into<String>) -> Self {
        self.purchased.push(sku.into());
        self
    }
}

/// One suggestion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Suggestion {
    /// The suggested product.
    pub product: ProductId,
    /// Cross-sell or upsell.
    pub kind: Kind,
    /// Its score (higher is better; finite).
    pub score: f32,
    /// Units to suggest: 1, or what a quantity-aware link calls for minus
    /// what the cart holds.
    pub quantity: u32,
    /// Why, with the evidence.
    pub reason: Reason,
}

/// The suggestions of one call, best first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recommendations {
    /// The engine version that answered ([`EngineBuilder::version`]).
    pub version: u64,
    /// The suggestions, best first, at most `limit`.
    pub suggestions: Vec<Suggestion>,
}

impl Recommendations {
    /// Number of suggestions.
    pub fn len(&self) -> usize {
        self.suggestions.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.suggestions.is_empty()
    }
    /// Iterates over the suggestions.
    pub fn iter(&self) -> std::slice::Iter<'_, Suggestion> {
        self.suggestions.iter()
    }
}

impl<'a> IntoIterator for &'a Recommendations {
    type Item = &'a Suggestion;
    type IntoIter = std::slice::Iter<'a, Suggestion>;
    fn into_iter(self) -> Self::IntoIter {
        self.suggestions.iter()
    }
}

/// A suggestion rendered with names, ready for a template or JSON.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SuggestionView {
    /// SKU.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// `cross_sell` or `upsell`.
    pub kind: Kind,
    /// Price in minor units.
    pub price: Money,
    /// Score.
    pub score: f32,
    /// The reason as text.
    pub reason: String,
    /// For an upsell, the SKU of the cart product it replaces.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub replaces: Option<String>,
    /// For an upsell, the price difference in minor units.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub price_delta: Option<i64>,
    /// Units suggested.
    pub quantity: u32,
}

/// Something that answers carts with suggestions. Object-safe.
pub trait Recommender {
    /// Suggestions for `cart`.
    ///
    /// # Errors
    /// [`Error::InvalidLimit`] for a limit of 0 or above
    /// [`MAX_LIMIT`](crate::MAX_LIMIT); [`Error::UnknownSku`] or
    /// [`Error::ZeroQuantity`] for a bad cart line.
    fn recommend(&self, cart: &dyn Cart, request: &Request) -> Result<Recommendations>;
}

/// Merchant-wide business rules, by SKU and category name; resolved and
/// checked when the engine is built.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Rules {
    /// SKUs never suggested (gift cards, discontinued lines).
    #[cfg_attr(feature = "serde", serde(default))]
    pub exclude_skus: Vec<String>,
    /// Categories never suggested from.
    #[cfg_attr(feature = "serde", serde(default))]
    pub exclude_categories: Vec<String>,
    /// At most this many suggestions per category, unless a request says otherwise.
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_per_category: Option<u32>,
    /// Score multipliers per SKU (finite, `>= 0`; 2.0 doubles, 0.5 halves).
    #[cfg_attr(feature = "serde", serde(default))]
    pub boosts: Vec<(String, f32)>,
    /// SKUs that, whenever they are candidates for a cart, rank above all
    /// others, in this order. A pin does not make a product a candidate: an
    /// unrelated product is still not shown.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pins: Vec<String>,
}

impl Rules {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }
    /// Never suggest a SKU.
    pub fn exclude_sku(mut self, sku: impl Into<String>) -> Self {
        self.exclude_skus.push(sku.into());
        self
    }
    /// Never suggest from a category.
    pub fn exclude_category(mut self, category: impl Into<String>) -> Self {
        self.exclude_categories.push(category.into());
        self
    }
    /// At most `max` suggestions per category.
    pub fn max_per_category(mut self, max: u32) -> Self {
        self.max_per_category = Some(max);
        self
    }
    /// Multiply a SKU's score by `factor`.
    pub fn boost(mut self, sku: impl Into<String>, factor: f32) -> Self {
        self.boosts.push((sku.into(), factor));
        self
    }
    /// Rank a SKU first whenever it is a candidate.
    pub fn pin(mut self, sku: impl Into<String>) -> Self {
        self.pins.push(sku.into());
        self
    }
}

/// Checks merchant rules against a catalog (for the JSON catalog loader).
#[cfg(feature = "serde")]
pub(crate) fn check_rules<C: Catalog + ?Sized>(catalog: &C, rules: &Rules) -> Result<()> {
    ResolvedRules::resolve(catalog, rules).map(|_| ())
}

/// [`Rules`] resolved to ids.
#[derive(Clone, Debug, Default)]
struct ResolvedRules {
    excluded: Vec<ProductId>,
    excluded_categories: Vec<CategoryId>,
    max_per_category: Option<u32>,
    boosts: Vec<(ProductId, f32)>,
    /// `pin_rank[i]` for pinned product `pins[i]`; sorted by product.
    pins: Vec<(ProductId, u32)>,
}

impl ResolvedRules {
    fn resolve<C: Catalog + ?Sized>(catalog: &C, rules: &Rules) -> Result<Self> {
        let id = |sku: &str| {
            catalog.id(sku).ok_or_else(|| Error::UnknownSku {
                sku: sku.to_owned(),
                context: SkuContext::Rule,
            })
        };
        let mut excluded = rules
            .exclude_skus
            .iter()
            .map(|s| id(s))
            .collect::<Result<Vec<_>>>()?;
        excluded.sort_unstable();
        excluded.dedup();
        let mut excluded_categories = rules
            .exclude_categories
            .iter()
            .map(|c| {
                catalog
                    .category_id(c)
                    .ok_or_else(|| Error::UnknownCategory {
                        category: c.clone(),
                        context: "rules",
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        excluded_categories.sort_unstable();
        excluded_categories.dedup();
        if rules.max_per_category == Some(0) {
            return Err(Error::InvalidConfig {
                field: "max_per_category",
                value: "0".into(),
                hint: "at least 1; exclude the category instead",
            });
        }
        let mut boosts = Vec::new();
        for (sku, factor) in &rules.boosts {
            if !(factor.is_finite() && *factor >= 0.0) {
                return Err(Error::InvalidWeight {
                    from: "boost".into(),
                    to: sku.clone(),
                    weight: f64::from(*factor),
                });
            }
            boosts.push((id(sku)?, *factor));
        }
        boosts.sort_by_key(|b| b.0);
        boosts.dedup_by_key(|b| b.0);
        let mut pins = Vec::new();
        for (rank, sku) in rules.pins.iter().enumerate() {
            pins.push((id(sku)?, rank as u32));
        }
        pins.sort_by_key(|p| p.0);
        pins.dedup_by_key(|p| p.0);
        Ok(ResolvedRules {
            excluded,
            excluded_categories,
            max_per_category: rules.max_per_category,
            boosts,
            pins,
        })
    }
}

/// A 1024-bit Bloom-style filter over product ids: "certainly not in the
/// set" in one shift and mask, so the per-candidate "is it in the cart?"
/// check skips the binary search for nearly every candidate (it was a
/// quarter of the filter's time on 20-line carts).
#[derive(Clone, Debug, Default)]
struct IdFilter([u64; 16]);

impl IdFilter {
    #[inline]
    fn bit(p: ProductId) -> (usize, u64) {
        let h = (u64::from(p.0).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize;
        (h >> 6, 1 << (h & 63))
    }

    fn set(&mut self, ids: &[ProductId]) {
        self.0 = [0; 16];
        for &p in ids {
            let (w, b) = Self::bit(p);
            self.0[w] |= b;
        }
    }

    /// False only when `p` is certainly not in the set.
    #[inline]
    fn may_contain(&self, p: ProductId) -> bool {
        let (w, b) = Self::bit(p);
        self.0[w] & b != 0
    }
}

/// Reusable per-call buffers; see [`Engine::recommend_with`].
///
/// One scratch serves any engine (it resizes to the catalog on first use),
/// but not two calls at once: keep one per thread.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    cart: Vec<CartLine>,
    cart_sorted: Vec<ProductId>,
    cart_filter: IdFilter,
    cart_by_product: Vec<CartLine>,
    merge: Vec<(ProductId, u32, u32)>,
    cart_categories: Vec<CategoryId>,
    cart_groups: Vec<VariantGroupId>,
    excluded: Vec<ProductId>,
    excluded_categories: Vec<CategoryId>,
    purchased: Vec<ProductId>,
    candidates: Candidates,
    batch: Vec<Candidate>,
    keys: Vec<u128>,
    plain_keys: Vec<u64>,
    winners: Vec<u128>,
    picked: Vec<usize>,
    category_counts: Vec<(CategoryId, u32)>,
    out: Vec<Suggestion>,
}

impl Scratch {
    /// Empty buffers; they grow on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The rank order of a candidate as one integer, smallest first: pin
/// order ascending, then score descending (in `f32::total_cmp` order), then
/// product id ascending; the low 32 bits carry the candidate's index (in
/// the scored batch, or in the pool when scored inline), to find it again.
/// The key holds the score and the product exactly, so an inline-scored
/// winner is rebuilt from its key ([`key_score`], [`key_product`]).
///
/// Selecting over 16-byte integers instead of whole candidates with a
/// three-field comparator made top-k selection about three times cheaper
/// (BENCHMARKS.md, finding 2); the order is exactly the same.
#[inline]
fn rank_key(pin: u32, score: f32, product: ProductId, index: usize) -> u128 {
    rank_key_of(pin, score_key(score, product), index)
}

/// The middle 64 bits of a [`rank_key`]: score descending (in
/// `f32::total_cmp` order), then product id ascending. Enough to rank a
/// call without pins, whose candidates are distinct products (see
/// `Ranked::Plain`).
#[inline]
fn score_key(score: f32, product: ProductId) -> u64 {
    let bits = score.to_bits();
    // total_cmp order as unsigned order: negatives (sign set) reversed
    // below the positives; then inverted, so higher scores sort first.
    let ordered = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    (u64::from(!ordered) << 32) | u64::from(product.0)
}

/// The [`rank_key`] of a pin rank, a [`score_key`] and an index.
#[inline]
fn rank_key_of(pin: u32, score_key: u64, index: usize) -> u128 {
    (u128::from(pin) << 96) | (u128::from(score_key) << 32) | index as u128
}

/// The index a [`rank_key`] carries.
#[inline]
fn key_index(key: u128) -> usize {
    (key & 0xFFFF_FFFF) as usize
}

/// The product a [`rank_key`] carries.
#[inline]
fn key_product(key: u128) -> ProductId {
    ProductId((key >> 32) as u32)
}

/// The score a [`rank_key`] carries, bit for bit.
#[inline]
fn key_score(key: u128) -> f32 {
    let ordered = !((key >> 64) as u32);
    f32::from_bits(if ordered >> 31 == 1 {
        ordered & !(1 << 31)
    } else {
        !ordered
    })
}

/// What the engine's filter reads besides the candidate: the request and
/// the cart's lookups, built once per call.
struct Admission<'a> {
    request: &'a Request,
    cart_lines: &'a [CartLine],
    cart_sorted: &'a [ProductId],
    cart_filter: &'a IdFilter,
    cart_groups: &'a [VariantGroupId],
    excluded: &'a [ProductId],
    excluded_categories: &'a [CategoryId],
    purchased: &'a [ProductId],
    /// Whether any exclusion or purchase history applies at all.
    restricted: bool,
}

/// What [`Engine::filter_pool`] found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filtered {
    /// Every candidate went through the filter; `merge`: variant
    /// substitution may have left two candidates for one product or one
    /// variant group, to be merged before ranking.
    All { merge: bool },
    /// The plain filter met a candidate it leaves to the full one (a
    /// variant, or the target of a pinned link) and stopped: what it
    /// emitted is to be dropped.
    NotPlain,
}

/// How a call's candidates were ranked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ranked {
    /// Scored inline by the built-in scorer, into `plain_keys`: a call
    /// without pins, boosts, budget, exclusions or purchase history, whose
    /// candidates include no variant and no pinned link's target. Each key
    /// is a [`score_key`]: the candidates are distinct products, so score
    /// and product order them fully, and a winner's index is looked up in
    /// the pool.
    Plain,
    /// Scored inline by the built-in scorer, into `keys`; an index is a
    /// position in the pool.
    Inline,
    /// Scored through the scorer's trait object, into `batch` and `keys`;
    /// an index is a position in the batch.
    Batch,
}

/// How the filter lets a candidate through.
#[derive(Clone, Copy)]
struct Admitted {
    /// The product to suggest: the candidate's, or the variant standing
    /// for it.
    product: ProductId,
    /// Units, capped by the stock.
    quantity: u32,
    /// The product is already in the cart: it comes back as a top-up, a
    /// cross-sell, without its upgrade evidence.
    top_up_only: bool,
}

impl Admitted {
    /// The candidate as the filter lets it through.
    #[inline]
    fn apply(&self, c: &Candidate) -> Candidate {
        let mut c = *c;
        c.product = self.product;
        c.quantity = self.quantity;
        if self.top_up_only {
            c.upgrade = None;
            c.upgrade_fit = 0.0;
        }
        c
    }
}

/// The recommender: catalog, strategies, scorer and rules.
///
/// ```
/// use cartwise::{Catalog, CatalogBuilder, ComplementGraph, CategoryRules, Engine, InlineCart,
///                Money, Product, Recommender, Request};
/// let mut b = CatalogBuilder::new();
/// b.add(Product::new("PH", "Phone", Money(50_000), "phones"))?;
/// b.add(Product::new("CASE", "Case", Money(2_000), "cases"))?;
/// let catalog = b.build()?;
/// let mut g = ComplementGraph::builder(&catalog);
/// g.add("PH", "CASE", 0.9)?;
/// let graph = g.build()?;
/// let engine = Engine::standard(catalog, graph, CategoryRules::default())?;
/// let cart = InlineCart::from_skus(engine.catalog(), [("PH", 1)])?;
/// let recs = engine.recommend(&cart, &Request::new())?;
/// assert_eq!(engine.catalog().sku(recs.suggestions[0].product), "CASE");
/// # Ok::<(), cartwise::Error>(())
/// ```
///
/// Cloning is cheap: the catalog, strategies and scorer are shared.
#[derive(Debug)]
pub struct Engine<C: Catalog + ?Sized = InMemoryCatalog> {
    catalog: Arc<C>,
    strategies: Vec<Arc<dyn Strategy<C>>>,
    scorer: Arc<dyn Scorer<C>>,
    /// `scorer` itself (the same instance) when it is the built-in
    /// [`DefaultScorer`]: the ranking loop then scores each candidate as
    /// it filters it, inline, instead of copying the candidates into a
    /// batch for one dynamic call. The same formula either way (see
    /// [`Engine::recommend_with`]).
    fused: Option<Arc<DefaultScorer>>,
    rules: ResolvedRules,
    source_rules: Rules,
    bundles: Arc<Bundles>,
    version: u64,
}

impl<C: Catalog + ?Sized> Clone for Engine<C> {
    fn clone(&self) -> Self {
        Engine {
            catalog: Arc::clone(&self.catalog),
            strategies: self.strategies.clone(),
            scorer: Arc::clone(&self.scorer),
            fused: self.fused.clone(),
            rules: self.rules.clone(),
            source_rules: self.source_rules.clone(),
            bundles: Arc::clone(&self.bundles),
            version: self.version,
        }
    }
}

/// Builder for an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder<C: Catalog + ?Sized = InMemoryCatalog> {
    catalog: Arc<C>,
    strategies: Vec<Arc<dyn Strategy<C>>>,
    scorer: Option<Arc<dyn Scorer<C>>>,
    fused: Option<Arc<DefaultScorer>>,
    rules: Rules,
    bundles: Bundles,
    version: u64,
}

impl<C: Catalog + ?Sized + 'static> EngineBuilder<C> {
    /// Adds a strategy; strategies run in the order added, which is also
    /// the order in which equal evidence is credited.
    pub fn strategy<S: Strategy<C> + 'static>(mut self, strategy: S) -> Self {
        self.strategies.push(Arc::new(strategy));
        self
    }

    /// Adds a shared strategy (one instance may serve several engines).
    pub fn shared_strategy(mut self, strategy: Arc<dyn Strategy<C>>) -> Self {
        self.strategies.push(strategy);
        self
    }

    /// Sets the scorer (default [`DefaultScorer`]).
    pub fn scorer<S: Scorer<C> + 'static>(mut self, scorer: S) -> Self {
        let scorer = Arc::new(scorer);
        // The same instance, seen as the built-in scorer when it is one.
        let any: Arc<dyn std::any::Any + Send + Sync> = scorer.clone();
        self.fused = any.downcast::<DefaultScorer>().ok();
        self.scorer = Some(scorer);
        self
    }

    /// Sets a shared scorer.
    pub fn shared_scorer(mut self, scorer: Arc<dyn Scorer<C>>) -> Self {
        self.fused = None;
        self.scorer = Some(scorer);
        self
    }

    /// Sets the merchant's rules.
    pub fn rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Sets the merchant's bundles (validated against the catalog with
    /// [`Bundles::from_specs`]).
    pub fn bundles(mut self, bundles: Bundles) -> Self {
        self.bundles = bundles;
        self
    }

    /// Sets the version stamp carried by every answer (default 0).
    pub fn version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Builds the engine.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] or [`Error::UnknownCategory`] for a rule naming
    /// something the catalog lacks; [`Error::InvalidWeight`] for a bad
    /// boost; [`Error::InvalidConfig`] for a zero per-category cap or no
    /// strategy at all.
    pub fn build(self) -> Result<Engine<C>> {
        if self.strategies.is_empty() {
            return Err(Error::InvalidConfig {
                field: "strategies",
                value: "[]".into(),
                hint: "add at least one strategy",
            });
        }
        let rules = ResolvedRules::resolve(&*self.catalog, &self.rules)?;
        let (scorer, fused) = match self.scorer {
            Some(scorer) => (scorer, self.fused),
            None => {
                let scorer = Arc::new(DefaultScorer::default());
                (Arc::clone(&scorer) as Arc<dyn Scorer<C>>, Some(scorer))
            }
        };
        Ok(Engine {
            catalog: self.catalog,
            strategies: self.strategies,
            scorer,
            fused,
            rules,
            source_rules: self.rules,
            bundles: Arc::new(self.bundles),
            version: self.version,
        })
    }
}

impl Engine<InMemoryCatalog> {
    /// The usual engine: [`CrossSell`](crate::CrossSell) over `graph` and
    /// `rules`, then [`Upsell`](crate::Upsell) with its defaults, ranked by
    /// [`DefaultScorer`].
    ///
    /// # Errors
    /// [`Error::Snapshot`] when the graph was built for a catalog of another size.
    pub fn standard(
        catalog: InMemoryCatalog,
        graph: crate::ComplementGraph,
        rules: crate::CategoryRules,
    ) -> Result<Self> {
        graph.validate(catalog.len())?;
        graph.validate_relations(&catalog)?;
        rules.validate(catalog.category_count())?;
        Engine::builder(catalog)
            .strategy(crate::CrossSell::new(Arc::new(graph), Arc::new(rules)))
            .strategy(crate::Upsell::default())
            .build()
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

impl<C: Catalog + ?Sized + 'static> Engine<C> {
    /// A builder over a catalog.
    pub fn builder(catalog: impl Into<Arc<C>>) -> EngineBuilder<C> {
        EngineBuilder {
            catalog: catalog.into(),
            strategies: Vec::new(),
            scorer: None,
            fused: None,
            rules: Rules::default(),
            bundles: Bundles::default(),
            version: 0,
        }
    }

    /// The same engine over another version of its catalog (after a stock
    /// or price change, say), with a new version stamp. Strategies and the
    /// scorer are shared, not copied; the rules are resolved again.
    ///
    /// The new catalog must have the same products with the same ids
    /// (what [`InMemoryCatalog::with_stock`] and
    /// [`InMemoryCatalog::with_price`] produce): the strategies' graphs are
    /// indexed by id.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the product count differs; as
    /// [`EngineBuilder::build`] for the rules. `self` is untouched.
    pub fn with_catalog(&self, catalog: impl Into<Arc<C>>, version: u64) -> Result<Self> {
        let catalog = catalog.into();
        if catalog.len() != self.catalog.len() {
            return Err(Error::InvalidConfig {
                field: "catalog",
                value: format!("{} products", catalog.len()),
                hint: "with_catalog keeps ids; rebuild the engine for a catalog of another size",
            });
        }
        let rules = ResolvedRules::resolve(&*catalog, &self.source_rules)?;
        Ok(Engine {
            catalog,
            strategies: self.strategies.clone(),
            scorer: Arc::clone(&self.scorer),
            fused: self.fused.clone(),
            rules,
            source_rules: self.source_rules.clone(),
            bundles: Arc::clone(&self.bundles),
            version,
        })
    }

    /// A copy of this engine with `strategy` in place of the strategy of
    /// the same [`name`](Strategy::name) (or added last when there is
    /// none), stamped `version`; the catalog, the other strategies, the
    /// scorer, rules and bundles are shared. The strategy must be over this
    /// engine's catalog. Used by
    /// [`LiveEngine::learn_orders`](crate::LiveEngine::learn_orders) to
    /// swap freshly mined rules in.
    ///
    /// Runs in O(strategies).
    pub fn with_strategy<S: Strategy<C> + 'static>(&self, strategy: S, version: u64) -> Self {
        let mut strategies = self.strategies.clone();
        let name = strategy.name().to_owned();
        let strategy: Arc<dyn Strategy<C>> = Arc::new(strategy);
        match strategies.iter().position(|s| s.name() == name) {
            Some(k) => strategies[k] = strategy,
            None => strategies.push(strategy),
        }
        Engine {
            catalog: Arc::clone(&self.catalog),
            strategies,
            scorer: Arc::clone(&self.scorer),
            fused: self.fused.clone(),
            rules: self.rules.clone(),
            source_rules: self.source_rules.clone(),
            bundles: Arc::clone(&self.bundles),
            version,
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &C {
        &self.catalog
    }

    /// The catalog's shared handle.
    pub fn catalog_arc(&self) -> &Arc<C> {
        &self.catalog
    }

    /// The version stamp.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The merchant rules as given.
    pub fn rules(&self) -> &Rules {
        &self.source_rules
    }

    /// The strategies, in order.
    pub fn strategies(&self) -> &[Arc<dyn Strategy<C>>] {
        &self.strategies
    }

    /// The scorer.
    pub fn scorer(&self) -> &Arc<dyn Scorer<C>> {
        &self.scorer
    }

    /// The strategies' names, in order.
    pub fn strategy_names(&self) -> impl Iterator<Item = &str> {
        self.strategies.iter().map(|s| s.name())
    }

    /// Renders a suggestion's reason, naming custom strategies.
    pub fn explain<'a>(&'a self, suggestion: &'a Suggestion) -> ReasonDisplay<'a, C> {
        let d = suggestion
            .reason
            .display(&*self.catalog, suggestion.product);
        match suggestion.reason {
            Reason::Complements { strategy, .. } => {
                match self.strategies.get(usize::from(strategy)) {
                    Some(s) => d.with_strategy_name(s.name()),
                    None => d,
                }
            }
            Reason::Upgrade { .. } => d,
        }
    }

    /// A suggestion with names, price and reason text.
    pub fn view(&self, suggestion: &Suggestion) -> SuggestionView {
        let cat = &*self.catalog;
        let (replaces, price_delta) = match suggestion.reason {
            Reason::Upgrade {
                replaces,
                price_delta,
                ..
            } => (Some(cat.sku(replaces).to_owned()), Some(price_delta)),
            Reason::Complements { .. } => (None, None),
        };
        SuggestionView {
            sku: cat.sku(suggestion.product).to_owned(),
            name: cat.name(suggestion.product).to_owned(),
            kind: suggestion.kind,
            price: cat.price(suggestion.product),
            score: suggestion.score,
            reason: self.explain(suggestion).to_string(),
            replaces,
            price_delta,
            quantity: suggestion.quantity,
        }
    }

    /// Suggestions for `cart`, using caller-owned buffers.
    ///
    /// This exists beside [`Recommender::recommend`] for hot request paths:
    /// keep one [`Scratch`] per thread, and after a few calls have grown it
    /// this method makes no heap allocation. The returned slice borrows the
    /// scratch until the next call.
    ///
    /// Runs in O(cart lines × average degree + candidates + limit × log limit).
    ///
    /// # Errors
    /// As [`Recommender::recommend`]; on error the scratch holds no answer.
    pub fn recommend_with<'s>(
        &self,
        scratch: &'s mut Scratch,
        cart: &dyn Cart,
        request: &Request,
    ) -> Result<&'s [Suggestion]> {
        scratch.out.clear();
        let catalog = &*self.catalog;
        let n = catalog.len();
        if request.limit == 0 || request.limit > crate::MAX_LIMIT {
            return Err(Error::InvalidLimit {
                limit: request.limit,
                max: crate::MAX_LIMIT,
            });
        }
        if request.max_per_category == Some(0) {
            return Err(Error::InvalidConfig {
                field: "max_per_category",
                value: "0".into(),
                hint: "at least 1; exclude the category instead",
            });
        }
        self.load_cart(scratch, cart)?;

        // Per-request exclusions; unknown names are ignored (documented on Request).
        scratch.excluded.clear();
        scratch
            .excluded
            .extend(request.exclude_skus.iter().filter_map(|s| catalog.id(s)));
        scratch
            .excluded
            .extend(request.exclude.iter().copied().filter(|p| p.index() < n));
        scratch.excluded.sort_unstable();
        scratch.excluded_categories.clear();
        scratch.excluded_categories.extend(
            request
                .exclude_categories
                .iter()
                .filter_map(|c| catalog.category_id(c)),
        );
        scratch.excluded_categories.sort_unstable();
        scratch.purchased.clear();
        scratch
            .purchased
            .extend(request.purchased.iter().filter_map(|s| catalog.id(s)));
        scratch.purchased.sort_unstable();

        let Scratch {
            cart: cart_lines,
            cart_sorted,
            cart_filter,
            cart_by_product,
            cart_categories,
            cart_groups,
            excluded,
            excluded_categories,
            purchased,
            candidates,
            batch,
            keys,
            plain_keys,
            winners,
            picked,
            category_counts,
            out,
            ..
        } = scratch;
        let ctx = Context {
            catalog,
            cart: cart_lines,
            request,
            cart_categories,
            cart_by_product,
        };

        candidates.reset(n);
        // Every strategy's first cache misses start now, so the later
        // strategies' overlap the earlier strategies' work.
        for s in &self.strategies {
            if s.serves(request.kinds) {
                s.prefetch(&ctx);
            }
        }
        for (i, s) in self.strategies.iter().enumerate() {
            if s.serves(request.kinds) {
                candidates.set_strategy(i);
                s.candidates(&ctx, candidates);
            }
        }

        cart_groups.clear();
        cart_groups.extend(
            cart_lines
                .iter()
                .filter_map(|l| catalog.variant_group(l.product)),
        );
        cart_groups.sort_unstable();
        cart_groups.dedup();

        let rules = &self.rules;
        // Most calls exclude nothing: then the five searches per candidate
        // below are skipped with one predictable branch.
        let restricted = !(rules.excluded.is_empty()
            && excluded.is_empty()
            && rules.excluded_categories.is_empty()
            && excluded_categories.is_empty()
            && purchased.is_empty());
        let admission = Admission {
            request,
            cart_lines,
            cart_sorted,
            cart_filter,
            cart_groups,
            excluded,
            excluded_categories,
            purchased,
            restricted,
        };
        let list = candidates.as_slice();
        keys.clear();
        plain_keys.clear();
        // With the built-in scorer each candidate is scored as it passes
        // the filter, and only its key is kept: no copy of the 56-byte
        // candidate into a batch, no second pass over it, no dynamic call
        // (5- and 20-line calls 6-11% faster; BENCHMARKS.md, "Applied in
        // the sixth round"). The winners are rebuilt from their keys.
        // Substituted variants may need merging first, which the batch
        // does: such a call is ranked again through it.
        //
        // A call that uses no per-call merchant feature (no pin, boost,
        // budget, exclusion or purchase history) takes the plain filter
        // first: the same filter with those checks compiled out, keys of 8
        // bytes instead of 16. It gives up on the first variant or pinned
        // link's target, and the call is ranked as any other (seventh
        // round: 13% fewer instructions per 5-line call, ×0.87-0.88 cold at
        // 1M with the round's other changes; BENCHMARKS.md).
        let mut ranked = Ranked::Batch;
        if let Some(scorer) = self.fused.as_deref() {
            let plain = !restricted
                && request.budget.is_none()
                && rules.pins.is_empty()
                && rules.boosts.is_empty();
            if plain && self.score_plain(scorer, &admission, list, plain_keys) {
                ranked = Ranked::Plain;
            } else if self.score_inline(scorer, &admission, list, keys) {
                ranked = Ranked::Inline;
            }
        }
        if ranked == Ranked::Batch {
            batch.clear();
            let filtered = self.filter_pool::<false>(&admission, list, |_, c, a| {
                batch.push(a.apply(c));
            });
            // Two candidates may name one product (variants resolved to
            // it) or two variants of one group (when no matching attribute
            // decides): either way the page should show one.
            if filtered == (Filtered::All { merge: true }) {
                merge_duplicates(catalog, batch);
            }
            if batch.is_empty() {
                return Ok(&out[..]);
            }
            // One dynamic call scores the whole batch.
            self.scorer.score(&ctx, batch);
            for (i, c) in batch.iter_mut().enumerate() {
                c.score = self.finish_score(c.score, c.product);
                keys.push(rank_key(
                    self.pin_rank(c.product, c.pinned),
                    c.score,
                    c.product,
                    i,
                ));
            }
        }

        let cap = request.max_per_category.or(rules.max_per_category);
        winners.clear();
        if ranked == Ranked::Plain {
            select_keys(
                catalog,
                plain_keys,
                request.limit,
                cap,
                |k| ProductId(k as u32),
                category_counts,
                picked,
                |k| {
                    // Every key's product is a candidate's: the plain
                    // filter emits the candidates' own products.
                    if let Some(i) = candidates.index_of(ProductId(k as u32)) {
                        winners.push(rank_key_of(u32::MAX, k, i));
                    }
                },
            );
        } else {
            select_keys(
                catalog,
                keys,
                request.limit,
                cap,
                key_product,
                category_counts,
                picked,
                |k| winners.push(k),
            );
        }

        for &key in winners.iter() {
            let i = key_index(key);
            let c = match ranked {
                // A winner of the inline loop, rebuilt as the filter let it
                // through (see `Admitted::apply`), with its key's score.
                Ranked::Plain | Ranked::Inline => {
                    let c = &list[i];
                    let product = key_product(key);
                    let a = Admitted {
                        product,
                        quantity: c.quantity.clamp(1, catalog.stock_level(product)),
                        top_up_only: c.upgrade.is_some()
                            && cart_filter.may_contain(product)
                            && cart_sorted.binary_search(&product).is_ok(),
                    };
                    let mut c = a.apply(c);
                    c.score = key_score(key);
                    c
                }
                Ranked::Batch => batch[i],
            };
            out.push(Suggestion {
                product: c.product,
                kind: c.kind(),
                score: c.score,
                quantity: c.quantity,
                reason: self.reason(cart_lines, &c),
            });
        }
        Ok(&out[..])
    }

    /// The engine's one filter, for every way of ranking: calls
    /// `emit(index, candidate, how)` for every candidate of the pool that
    /// may be suggested, with the variant that stands for it, its units,
    /// and whether it comes back only as a top-up of a cart line; says
    /// whether variant substitution may have left two candidates for one
    /// product or group, to be merged.
    ///
    /// `PLAIN` compiles out the budget and exclusion checks, for a call
    /// that has neither (the caller's to know), and stops at the first
    /// variant or pinned link's target ([`Filtered::NotPlain`]), so that
    /// every candidate it emits is its own product and unpinned.
    ///
    /// The tests are written out in the loop rather than in a function
    /// returning an `Option` per candidate: the same logic that way
    /// compiled to 1.3k more instructions per 5-line call and measured
    /// 4-9% slower at 1k products. The catalog rows read here are mostly in cache
    /// already: cross-sell prefetches every edge target's row, upsell
    /// reads its tiers' rows.
    #[inline(always)]
    fn filter_pool<const PLAIN: bool>(
        &self,
        f: &Admission<'_>,
        list: &[Candidate],
        mut emit: impl FnMut(usize, &Candidate, Admitted),
    ) -> Filtered {
        let catalog = &*self.catalog;
        let (mut substituted, mut variants) = (false, 0usize);
        // Most calls want both kinds: then one predictable test per
        // candidate instead of its kind's (about 8 instructions fewer).
        let every_kind = f.request.kinds == Kinds::Both;
        for (i, c) in list.iter().enumerate() {
            let group = catalog.variant_group(c.product);
            if PLAIN && (group.is_some() || c.pinned) {
                return Filtered::NotPlain;
            }
            if !every_kind && !f.request.kinds.includes(c.kind()) {
                continue;
            }
            let mut product = c.product;
            if let Some(group) = group {
                // Never a sibling of a cart line; otherwise the best
                // concrete variant for this cart.
                if f.cart_groups.binary_search(&group).is_ok() {
                    continue;
                }
                match pick_variant(catalog, f.cart_lines, f.cart_sorted, f.excluded, c, group) {
                    Some(v) => {
                        substituted |= v != c.product;
                        variants += 1;
                        product = v;
                    }
                    None => continue,
                }
            }
            let mut top_up_only = false;
            if f.cart_filter.may_contain(product) && f.cart_sorted.binary_search(&product).is_ok() {
                // A cart product comes back only as a top-up of its
                // quantity, a cross-sell: an upgrade *to* it replaces
                // nothing the customer lacks.
                if !c.top_up {
                    continue;
                }
                if c.upgrade.is_some() {
                    top_up_only = true;
                    if !f.request.kinds.includes(Kind::CrossSell) {
                        continue;
                    }
                }
            }
            // Untracked stock caps nothing. Read through `stock_level`:
            // tracked or not is close to random per candidate, and a
            // mispredicted branch costs more than the select.
            let available = catalog.stock_level(product);
            if available == 0 {
                continue;
            }
            let quantity = c.quantity.clamp(1, available);
            if let (false, Some(budget)) = (PLAIN, f.request.budget) {
                match catalog.price(product).checked_mul(quantity) {
                    Some(cost) if cost <= budget => {}
                    _ => continue,
                }
            }
            let a = Admitted {
                product,
                quantity,
                top_up_only,
            };
            if !PLAIN
                && f.restricted
                && self.restricted(&a.apply(c), f.excluded, f.excluded_categories, f.purchased)
            {
                continue;
            }
            emit(i, c, a);
        }
        Filtered::All {
            merge: substituted || variants > 1,
        }
    }

    /// The plain filter with inline scoring (see [`Ranked::Plain`]): the
    /// keys of the candidates that pass into `keys`. False, and `keys`
    /// empty, when the plain filter does not apply to the pool.
    ///
    /// Each way of ranking is a function of its own: written out in one
    /// function, the compiler stopped inlining the filters' closures, a
    /// call per candidate.
    fn score_plain(
        &self,
        scorer: &DefaultScorer,
        admission: &Admission<'_>,
        list: &[Candidate],
        keys: &mut Vec<u64>,
    ) -> bool {
        let filtered = self.filter_pool::<true>(admission, list, |_, c, a| {
            keys.push(score_key(self.inline_score(scorer, c, a), a.product));
        });
        if filtered == Filtered::NotPlain {
            keys.clear();
            return false;
        }
        true
    }

    /// The full filter with inline scoring (see [`Ranked::Inline`]): the
    /// keys of the candidates that pass into `keys`. False, and `keys`
    /// empty, when candidates must be merged first (through the batch).
    fn score_inline(
        &self,
        scorer: &DefaultScorer,
        admission: &Admission<'_>,
        list: &[Candidate],
        keys: &mut Vec<u128>,
    ) -> bool {
        let filtered = self.filter_pool::<false>(admission, list, |i, c, a| {
            keys.push(rank_key(
                self.pin_rank(a.product, c.pinned),
                self.inline_score(scorer, c, a),
                a.product,
                i,
            ));
        });
        if filtered != (Filtered::All { merge: false }) {
            keys.clear();
            return false;
        }
        true
    }

    /// The built-in scorer's score of candidate `c` as the filter admits
    /// it (`a`), made fit to rank: what the batch path computes for it.
    #[inline(always)]
    fn inline_score(&self, scorer: &DefaultScorer, c: &Candidate, a: Admitted) -> f32 {
        let evidence = if a.top_up_only {
            c.best_complement
        } else {
            c.evidence()
        };
        let score = scorer.score_of(&*self.catalog, a.product, evidence, c.cross_weight);
        self.finish_score(score, a.product)
    }

    /// A scorer's score made fit to rank: a non-finite one ranks last, and
    /// the merchant's boost multiplies it, saturating rather than
    /// overflowing to a non-finite score.
    #[inline(always)]
    fn finish_score(&self, score: f32, product: ProductId) -> f32 {
        let mut score = if score.is_finite() { score } else { f32::MIN };
        let boosts = &self.rules.boosts;
        if !boosts.is_empty() {
            if let Ok(j) = boosts.binary_search_by_key(&product, |b| b.0) {
                score = (score * boosts[j].1).clamp(f32::MIN, f32::MAX);
            }
        }
        score
    }

    /// A candidate's pin rank: merchant-wide pins first (in their order),
    /// then pinned links, then the rest.
    #[inline(always)]
    fn pin_rank(&self, product: ProductId, pinned: bool) -> u32 {
        match self.rules.pins.binary_search_by_key(&product, |b| b.0) {
            Ok(j) => self.rules.pins[j].1,
            Err(_) if pinned => u32::MAX - 1,
            Err(_) => u32::MAX,
        }
    }

    /// Suggestions for several placements of one page (a product page's
    /// "goes with", the cart drawer, checkout), each with its own limit and
    /// kinds, never repeating a product across them. Placements are filled
    /// in the order given, so put the most valuable first.
    ///
    /// # Errors
    /// As [`Recommender::recommend`], for the first placement that fails.
    pub fn recommend_placements(
        &self,
        cart: &dyn Cart,
        request: &Request,
        placements: &[Placement],
    ) -> Result<Vec<Recommendations>> {
        let mut scratch = Scratch::new();
        let mut req = request.clone();
        let mut out = Vec::with_capacity(placements.len());
        for placement in placements {
            req.limit = placement.limit;
            req.kinds = placement.kinds;
            let suggestions = self.recommend_with(&mut scratch, cart, &req)?.to_vec();
            req.exclude.extend(suggestions.iter().map(|s| s.product));
            out.push(Recommendations {
                version: self.version,
                suggestions,
            });
        }
        Ok(out)
    }

    /// Offers to complete the merchant's bundles that the cart holds part
    /// of; see [`Bundles::offers`].
    ///
    /// # Errors
    /// [`Error::UnknownSku`] or [`Error::ZeroQuantity`] for a bad cart line.
    pub fn bundle_offers(&self, cart: &dyn Cart) -> Result<Vec<BundleOffer>> {
        let mut scratch = Scratch::new();
        self.load_cart(&mut scratch, cart)?;
        Ok(self.bundles.offers(&*self.catalog, &scratch.cart))
    }

    /// The merchant's bundles.
    pub fn bundles(&self) -> &Bundles {
        &self.bundles
    }

    /// Whether the merchant's rules or the request exclude candidate `c`:
    /// its product or its category is excluded, or the customer bought it
    /// before and neither its category nor its strongest link's relation
    /// type is repurchasable. The exclusion lists are sorted.
    fn restricted(
        &self,
        c: &Candidate,
        excluded: &[ProductId],
        excluded_categories: &[CategoryId],
        purchased: &[ProductId],
    ) -> bool {
        let (catalog, rules, p) = (&*self.catalog, &self.rules, c.product);
        if rules.excluded.binary_search(&p).is_ok() || excluded.binary_search(&p).is_ok() {
            return true;
        }
        let category = catalog.category(p);
        if rules.excluded_categories.binary_search(&category).is_ok()
            || excluded_categories.binary_search(&category).is_ok()
        {
            return true;
        }
        purchased.binary_search(&p).is_ok()
            && !catalog.repurchasable(category)
            && !repurchasable_relation(catalog, c)
    }

    /// Validates the cart and merges repeated products into `scratch.cart`,
    /// keeping first-appearance order.
    fn load_cart(&self, scratch: &mut Scratch, cart: &dyn Cart) -> Result<()> {
        let catalog = &*self.catalog;
        let n = catalog.len();
        scratch.merge.clear();
        for (pos, line) in cart.lines().iter().enumerate() {
            if line.product.index() >= n {
                return Err(Error::UnknownSku {
                    sku: format!("#{}", line.product),
                    context: SkuContext::Cart,
                });
            }
            if line.quantity == 0 {
                return Err(Error::ZeroQuantity {
                    sku: catalog.sku(line.product).to_owned(),
                });
            }
            scratch
                .merge
                .push((line.product, pos as u32, line.quantity));
        }
        // Merge duplicates in O(n log n): sort by product, fold runs into
        // their first position, then restore cart order.
        scratch.merge.sort_unstable_by_key(|m| (m.0, m.1));
        scratch.merge.dedup_by(|later, first| {
            if later.0 == first.0 {
                first.2 = first.2.saturating_add(later.2);
                true
            } else {
                false
            }
        });
        scratch.cart_sorted.clear();
        scratch
            .cart_sorted
            .extend(scratch.merge.iter().map(|m| m.0));
        scratch.cart_filter.set(&scratch.cart_sorted);
        scratch.cart_by_product.clear();
        scratch
            .cart_by_product
            .extend(scratch.merge.iter().map(|m| CartLine {
                product: m.0,
                quantity: m.2,
            }));
        scratch.cart.clear();
        if scratch.merge.len() == cart.lines().len() {
            // No product repeats (most carts): the lines in cart order are
            // the cart as given, without sorting back.
            scratch.cart.extend_from_slice(cart.lines());
        } else {
            scratch.merge.sort_unstable_by_key(|m| m.1);
            scratch.cart.extend(scratch.merge.iter().map(|m| CartLine {
                product: m.0,
                quantity: m.2,
            }));
        }
        scratch.cart_categories.clear();
        scratch
            .cart_categories
            .extend(scratch.cart.iter().map(|l| catalog.category(l.product)));
        scratch.cart_categories.sort_unstable();
        scratch.cart_categories.dedup();
        Ok(())
    }

    /// Builds the reason for a winner.
    fn reason(&self, cart: &[CartLine], c: &Candidate) -> Reason {
        let catalog = &*self.catalog;
        match c.evidence() {
            Some(Evidence::Upgrade { line, replaces, .. }) => {
                let old = catalog.price(replaces);
                let new = catalog.price(c.product);
                let price_delta = new.signed_diff(old);
                let percent = (old.minor() > 0).then(|| {
                    let p = i128::from(price_delta) * 100 / i128::from(old.minor());
                    p.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
                });
                let (lost, added) = sorted_difference_counts(
                    catalog.features(replaces),
                    catalog.features(c.product),
                );
                debug_assert!(usize::from(line) < cart.len());
                Reason::Upgrade {
                    replaces,
                    line,
                    price_delta,
                    percent,
                    features_added: u16::try_from(added).unwrap_or(u16::MAX),
                    features_lost: u16::try_from(lost).unwrap_or(u16::MAX),
                }
            }
            Some(Evidence::Complement {
                source,
                weight,
                via,
                relation,
                strategy,
            }) => Reason::Complements {
                source,
                weight,
                total: c.cross_weight,
                signals: c.support,
                via,
                relation,
                strategy,
            },
            None => Reason::Complements {
                source: cart.first().map_or(c.product, |l| l.product),
                weight: 0.0,
                total: 0.0,
                signals: 0,
                via: crate::Via::Custom,
                relation: crate::RelationId::COMPLEMENT,
                strategy: 0,
            },
        }
    }
}

/// Selects the best `limit` of `keys` (smallest first), at most `cap` per
/// category when a cap applies, and calls `win` for each, best first.
/// `product` gives the product a key ranks. Reorders `keys`.
#[allow(clippy::too_many_arguments)]
fn select_keys<K: Copy + Ord, C: Catalog + ?Sized>(
    catalog: &C,
    keys: &mut [K],
    limit: usize,
    cap: Option<u32>,
    product: impl Fn(K) -> ProductId,
    category_counts: &mut Vec<(CategoryId, u32)>,
    picked: &mut Vec<usize>,
    mut win: impl FnMut(K),
) {
    let Some(cap) = cap else {
        for &k in topk::top_k_by(keys, limit, K::cmp).iter() {
            win(k);
        }
        return;
    };
    let counts = RefCell::new(std::mem::take(category_counts));
    topk::top_k_filtered(
        keys,
        limit,
        K::cmp,
        |&k| {
            let category = catalog.category(product(k));
            let mut counts = counts.borrow_mut();
            match counts.iter_mut().find(|c| c.0 == category) {
                Some(c) if c.1 >= cap => false,
                Some(c) => {
                    c.1 += 1;
                    true
                }
                None => {
                    counts.push((category, 1));
                    true
                }
            }
        },
        || counts.borrow_mut().clear(),
        picked,
    );
    *category_counts = counts.into_inner();
    // `picked` holds positions in `keys`.
    for &at in picked.iter() {
        win(keys[at]);
    }
}

/// Whether the candidate's strongest link is of a repurchasable relation
/// type (a consumable), so a past buyer may be offered it again.
fn repurchasable_relation<C: Catalog + ?Sized>(catalog: &C, c: &Candidate) -> bool {
    match c.best_complement {
        Some(Evidence::Complement { relation, .. }) => {
            catalog.relation(relation).is_some_and(|r| r.repurchasable)
        }
        _ => false,
    }
}

/// The concrete variant of `group` to suggest for candidate `c`: available,
/// not in the cart, not excluded; matching the cart's values of the
/// catalog's matching attributes (taken from the candidate's anchor first,
/// then from any cart line); then `c.product` itself; then the most popular;
/// then the lowest id. `None` when no variant can be bought.
fn pick_variant<C: Catalog + ?Sized>(
    catalog: &C,
    cart: &[CartLine],
    cart_sorted: &[ProductId],
    excluded: &[ProductId],
    c: &Candidate,
    group: VariantGroupId,
) -> Option<ProductId> {
    let keys = catalog.matching_attributes();
    let anchor = c.anchor();
    let desired = |key| {
        anchor
            .and_then(|a| catalog.attribute(a, key))
            .or_else(|| cart.iter().find_map(|l| catalog.attribute(l.product, key)))
    };
    let eligible = |m: ProductId| {
        catalog.available(m, 1)
            && cart_sorted.binary_search(&m).is_err()
            && excluded.binary_search(&m).is_err()
    };
    if keys.is_empty() && eligible(c.product) {
        return Some(c.product);
    }
    let mut best: Option<(usize, bool, u32, ProductId)> = None;
    for &m in catalog.variant_members(group) {
        if !eligible(m) {
            continue;
        }
        let matches = keys
            .iter()
            .filter(|&&k| desired(k).is_some_and(|v| catalog.attribute(m, k) == Some(v)))
            .count();
        let key = (matches, m == c.product, catalog.popularity(m), m);
        let better = match best {
            None => true,
            Some(b) => (key.0, key.1, key.2)
                .cmp(&(b.0, b.1, b.2))
                .then(b.3.cmp(&key.3))
                .is_gt(),
        };
        if better {
            best = Some(key);
        }
    }
    best.map(|b| b.3)
}

/// Merges candidates that name the same product, or variants of one
/// group, pooling their evidence: one suggestion per product and per
/// variant group. Of two variants, the merged candidate names the one with
/// the stronger evidence of its own (an upgrade over a complement, then
/// the larger fit or weight; the lower id on a tie), with its quantity.
/// Leaves the batch sorted by (group or product, id).
fn merge_duplicates<C: Catalog + ?Sized>(catalog: &C, batch: &mut Vec<Candidate>) {
    let key = |c: &Candidate| match catalog.variant_group(c.product) {
        Some(g) => (0u8, g.0),
        None => (1u8, c.product.0),
    };
    // Stable, so evidence is pooled in a fixed order.
    batch.sort_by_key(|c| (key(c), c.product));
    batch.dedup_by(|later, first| {
        if key(later) != key(first) {
            return false;
        }
        if later.product == first.product {
            first.quantity = first.quantity.max(later.quantity);
            first.top_up &= later.top_up;
        } else if outranks(later, first) {
            first.product = later.product;
            first.quantity = later.quantity;
            first.top_up = later.top_up;
        }
        first.cross_weight = (first.cross_weight + later.cross_weight).min(f32::MAX);
        first.support = first.support.saturating_add(later.support);
        first.pinned |= later.pinned;
        let stronger = match (first.best_complement, later.best_complement) {
            (
                Some(Evidence::Complement { weight: a, .. }),
                Some(Evidence::Complement { weight: b, .. }),
            ) => b > a,
            (None, Some(_)) => true,
            _ => false,
        };
        if stronger {
            first.best_complement = later.best_complement;
        }
        if later.upgrade_fit > first.upgrade_fit
            || first.upgrade.is_none() && later.upgrade.is_some()
        {
            first.upgrade = later.upgrade;
            first.upgrade_fit = later.upgrade_fit;
        }
        true
    });
}

/// Whether `a`'s own evidence beats `b`'s when two variants of one group
/// are merged: upgrade evidence over complement evidence, then the larger
/// upgrade fit or summed complement weight.
fn outranks(a: &Candidate, b: &Candidate) -> bool {
    match (a.upgrade.is_some(), b.upgrade.is_some()) {
        (true, false) => true,
        (false, true) => false,
        (true, true) => a.upgrade_fit > b.upgrade_fit,
        (false, false) => a.cross_weight > b.cross_weight,
    }
}

/// A slot on a page that shows suggestions: its name, how many, which kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Placement {
    /// A name for logs and templates, e.g. `"product_page"`.
    pub name: String,
    /// How many suggestions.
    pub limit: usize,
    /// Which kinds.
    pub kinds: Kinds,
}

impl Placement {
    /// A placement.
    pub fn new(name: impl Into<String>, limit: usize, kinds: Kinds) -> Self {
        Placement {
            name: name.into(),
            limit,
            kinds,
        }
    }
    /// A product page: 6 suggestions of both kinds.
    pub fn product_page() -> Self {
        Self::new("product_page", 6, Kinds::Both)
    }
    /// The cart: 4 cross-sells.
    pub fn cart() -> Self {
        Self::new("cart", 4, Kinds::CrossSell)
    }
    /// Checkout: 2 cross-sells (a last small add-on).
    pub fn checkout() -> Self {
        Self::new("checkout", 2, Kinds::CrossSell)
    }
    /// An e-mail: 8 of both kinds.
    pub fn email() -> Self {
        Self::new("email", 8, Kinds::Both)
    }
}

impl<C: Catalog + ?Sized + 'static> Recommender for Engine<C> {
    fn recommend(&self, cart: &dyn Cart, request: &Request) -> Result<Recommendations> {
        let run = |scratch: &mut Scratch| {
            self.recommend_with(scratch, cart, request)
                .map(|s| Recommendations {
                    version: self.version,
                    suggestions: s.to_vec(),
                })
        };
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => run(&mut scratch),
            // Re-entered from inside a strategy: use a fresh scratch.
            Err(_) => run(&mut Scratch::new()),
        })
    }
}

impl<R: Recommender + ?Sized> Recommender for Arc<R> {
    fn recommend(&self, cart: &dyn Cart, request: &Request) -> Result<Recommendations> {
        (**self).recommend(cart, request)
    }
}

#[cfg(test)]
mod tests {
    use super::{key_index, key_product, key_score, rank_key, rank_key_of, score_key, IdFilter};
    use crate::id::ProductId;
    use proptest::prelude::*;

    fn any_score() -> impl proptest::strategy::Strategy<Value = f32> {
        prop_oneof![
            any::<f32>().prop_filter("finite", |s| s.is_finite()),
            Just(0.0f32),
            Just(-0.0f32),
            Just(f32::MIN),
            Just(f32::MAX),
            (0u32..4).prop_map(|s| s as f32 * 0.25),
        ]
    }

    proptest! {
        /// The integer key orders exactly as the comparator it replaced:
        /// pin ascending, score descending by `total_cmp`, product ascending.
        #[test]
        fn rank_keys_order_as_pin_then_score_then_product(
            a in (0u32..4, any_score(), 0u32..8),
            b in (0u32..4, any_score(), 0u32..8),
        ) {
            let reference = a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2));
            let ka = rank_key(a.0, a.1, ProductId(a.2), 7);
            let kb = rank_key(b.0, b.1, ProductId(b.2), 7);
            prop_assert_eq!(ka.cmp(&kb), reference);
            prop_assert_eq!(key_index(ka), 7);
        }

        /// A key gives back its score (every bit: signed zeros, extremes,
        /// any finite or non-finite value), its product and its index.
        #[test]
        fn rank_keys_give_back_score_product_and_index(
            pin in any::<u32>(),
            bits in any::<u32>(),
            product in any::<u32>(),
            index in 0usize..=u32::MAX as usize,
        ) {
            let score = f32::from_bits(bits);
            let key = rank_key(pin, score, ProductId(product), index);
            prop_assert_eq!(key_score(key).to_bits(), bits);
            prop_assert_eq!(key_product(key), ProductId(product));
            prop_assert_eq!(key_index(key), index);
        }

        /// The plain path's 8-byte key orders as the full key does among
        /// unpinned candidates (score descending, then product), and
        /// widened with the pin rank and an index it is that full key.
        #[test]
        fn score_keys_order_as_rank_keys_without_pins(
            a in (any_score(), 0u32..8),
            b in (any_score(), 0u32..8),
            index in 0usize..=u32::MAX as usize,
        ) {
            let reference = b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            let (ka, kb) = (score_key(a.0, ProductId(a.1)), score_key(b.0, ProductId(b.1)));
            prop_assert_eq!(ka.cmp(&kb), reference);
            let full = rank_key(u32::MAX, a.0, ProductId(a.1), index);
            prop_assert_eq!(rank_key_of(u32::MAX, ka, index), full);
        }

        /// The cart filter never says "not in the set" of a member.
        #[test]
        fn id_filter_has_no_false_negatives(
            ids in proptest::collection::vec(0u32..2_000_000, 0..64),
            probe in 0u32..2_000_000,
        ) {
            let ids: Vec<ProductId> = ids.into_iter().map(ProductId).collect();
            let mut f = IdFilter::default();
            f.set(&ids);
            for &p in &ids {
                prop_assert!(f.may_contain(p));
            }
            if !f.may_contain(ProductId(probe)) {
                prop_assert!(!ids.contains(&ProductId(probe)));
            }
        }
    }
}
