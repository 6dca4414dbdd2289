//! The product catalog: the [`Catalog`] trait and its in-memory implementation.
//!
//! A catalog answers the questions the strategies and scorers ask on every
//! call: what does product 17 cost, is it in stock, which category and family
//! is it in, which tiers does its family have. [`InMemoryCatalog`] answers each
//! from a flat array indexed by [`ProductId`]; strings (SKUs, names, category,
//! family and feature names) are stored once in arenas and only read to
//! resolve a cart's SKUs or to render a reason.
//!
//! Build one with [`CatalogBuilder`], which validates every product as it is
//! added and the whole catalog at [`build`](CatalogBuilder::build):
//!
//! ```
//! use cartwise::{Catalog, CatalogBuilder, Money, Product};
//! let mut b = CatalogBuilder::new();
//! b.add(Product::new("PH-15", "Phone 15", Money(79_900), "phones").with_family("Phone 15", 1))?;
//! b.add(Product::new("PH-15P", "Phone 15 Pro", Money(99_900), "phones").with_family("Phone 15", 2))?;
//! b.add(Product::new("CASE-15", "Case for Phone 15", Money(2_900), "cases"))?;
//! let catalog = b.build()?;
//! let phone = catalog.id("PH-15").unwrap();
//! assert_eq!(catalog.price(phone), Money(79_900));
//! let family = catalog.family(phone).unwrap();
//! assert_eq!(catalog.family_members(family).len(), 2);
//! # Ok::<(), cartwise::Error>(())
//! ```
//!
//! Product ids are assigned in SKU byte order, so [`Catalog::id`] is a binary
//! search over the SKU arena (no hash map, no second copy of the SKUs) and a
//! tie broken by id is a tie broken by SKU.
//!
//! Price and stock live in their own shared arrays so that the live-update
//! handle can change them without copying the rest of the catalog
//! ([`InMemoryCatalog::with_stock`], [`InMemoryCatalog::with_price`]).

use std::fmt;
use std::sync::Arc;

use ahash::AHashMap;

use crate::error::{Error, Result, SkuContext};
use crate::id::{AttributeId, CategoryId, FamilyId, FeatureId, ProductId, VariantGroupId};
use crate::product::{Money, Product};
use crate::relation::{builtin_relations, RelationId, RelationType, Symmetry, MAX_RELATIONS};

// Serde form of the catalog's internal arrays for snapshots, and its
// validation; a child module so it can read the private layout.
#[cfg(feature = "snapshot")]
pub(crate) mod raw;

/// Read access to a product catalog.
///
/// The trait is object-safe. Implement it to serve from your own store; the
/// built-in strategies are generic over it, so a concrete catalog type is
/// monomorphised into the hot path and `dyn Catalog` works too.
///
/// # Contract
/// * Ids run densely from `0` to `len() - 1`; every method taking a
///   [`ProductId`], [`CategoryId`] or [`FamilyId`] may panic on an id this
///   catalog did not issue (ids are handles, not outside data).
/// * Answers do not change while a call is in progress (serve from an
///   immutable snapshot; swap snapshots between calls).
/// * `family_members` is in ascending tier order and `category_products`
///   in descending popularity order, ties by ascending id.
pub trait Catalog: Send + Sync + fmt::Debug {
    /// Number of products.
    fn len(&self) -> usize;
    /// Whether the catalog holds no product.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The id of a SKU, if the catalog has it. Exact byte comparison.
    fn id(&self, sku: &str) -> Option<ProductId>;
    /// A view of the product, or `None` if `id` is out of range.
    fn product(&self, id: ProductId) -> Option<ProductRef<'_>>;
    /// The product's SKU.
    fn sku(&self, id: ProductId) -> &str;
    /// The product's display name.
    fn name(&self, id: ProductId) -> &str;
    /// The product's price.
    fn price(&self, id: ProductId) -> Money;
    /// The product's unit cost, when known.
    fn cost(&self, id: ProductId) -> Option<Money>;
    /// Units in stock; `None` when stock is not tracked.
    fn stock(&self, id: ProductId) -> Option<u32>;
    /// The popularity signal (0 when unknown).
    fn popularity(&self, id: ProductId) -> u32;
    /// The highest popularity in the catalog (for normalising).
    fn max_popularity(&self) -> u32;
    /// The product's margin as a fraction of its price, `(price - cost) /
    /// price`, or 0 when the cost is unknown or the price is 0: the
    /// [`DefaultScorer`](crate::DefaultScorer)'s margin term.
    ///
    /// The default computes it on every call; a catalog that stores it
    /// (as [`InMemoryCatalog`] does) saves the serving path a division per
    /// candidate. An override must return the same value.
    fn margin(&self, id: ProductId) -> f32 {
        margin_of(self.price(id).minor(), self.cost(id))
    }
    /// `ln(1 + popularity) / ln(1 + max popularity)`, in `[0, 1]`: the
    /// [`DefaultScorer`](crate::DefaultScorer)'s popularity term.
    ///
    /// The default computes it on every call; [`InMemoryCatalog`] stores
    /// it. An override must return the same value.
    fn popularity_term(&self, id: ProductId) -> f32 {
        popularity_term_of(self.popularity(id), self.max_popularity())
    }
    /// The product's category.
    fn category(&self, id: ProductId) -> CategoryId;
    /// Number of categories.
    fn category_count(&self) -> usize;
    /// A category's name.
    fn category_name(&self, category: CategoryId) -> &str;
    /// The id of a category name.
    fn category_id(&self, name: &str) -> Option<CategoryId>;
    /// The products of a category, most popular first (ties by id).
    fn category_products(&self, category: CategoryId) -> &[ProductId];
    /// The product's family, if it has one.
    fn family(&self, id: ProductId) -> Option<FamilyId>;
    /// The product's tier inside its family (0 without a family).
    fn tier(&self, id: ProductId) -> u32;
    /// A family's name.
    fn family_name(&self, family: FamilyId) -> &str;
    /// The members of a family in ascending tier order.
    fn family_members(&self, family: FamilyId) -> &[ProductId];
    /// The product's features, sorted by id, without duplicates.
    fn features(&self, id: ProductId) -> &[FeatureId];
    /// A feature's name.
    fn feature_name(&self, feature: FeatureId) -> &str;

    /// The product's variant group, if it is a variant.
    fn variant_group(&self, _id: ProductId) -> Option<VariantGroupId> {
        None
    }
    /// The members of a variant group, by id.
    fn variant_members(&self, _group: VariantGroupId) -> &[ProductId] {
        &[]
    }
    /// The product's variant attributes as `(key, value)` ids, sorted by key.
    fn attributes(&self, _id: ProductId) -> &[(AttributeId, AttributeId)] {
        &[]
    }
    /// The name of an attribute key or value id.
    fn attribute_name(&self, _id: AttributeId) -> &str {
        ""
    }
    /// The attribute keys a suggestion should match with the cart's
    /// variant (e.g. `size`), sorted.
    fn matching_attributes(&self) -> &[AttributeId] {
        &[]
    }
    /// Whether a customer who bought a product of this category before may
    /// be offered one again (consumables); durable goods are not.
    fn repurchasable(&self, _category: CategoryId) -> bool {
        false
    }
    /// A relation type by id ([`RelationId`] constants for the built-ins).
    fn relation(&self, id: RelationId) -> Option<&RelationType>;
    /// The id of a relation type name.
    fn relation_id(&self, name: &str) -> Option<RelationId>;

    /// The value of attribute `key` of a product, if it has one.
    fn attribute(&self, id: ProductId, key: AttributeId) -> Option<AttributeId> {
        let attrs = self.attributes(id);
        attrs
            .binary_search_by_key(&key, |a| a.0)
            .ok()
            .map(|i| attrs[i].1)
    }

    /// Whether a customer can buy `quantity` units now (untracked stock
    /// always can).
    #[inline]
    fn available(&self, id: ProductId, quantity: u32) -> bool {
        self.stock_level(id) >= quantity.max(1)
    }

    /// Units a customer can buy now: the stock, or `u32::MAX` when stock
    /// is not tracked. The serving path's form of [`stock`](Self::stock):
    /// whether a product's stock is tracked is close to random per
    /// candidate, so an implementation should answer without branching on
    /// it (a mispredicted branch costs more than the read).
    #[inline]
    fn stock_level(&self, id: ProductId) -> u32 {
        self.stock(id).unwrap_or(u32::MAX)
    }

    /// Hints that the serving path will soon read product `id` (its price,
    /// stock, category and score terms). Optional: the default does
    /// nothing, and no answer may depend on it.
    ///
    /// Cross-sell calls it for every edge target before pooling them: on a
    /// large catalog most targets' data is a cache miss, and a hint that
    /// starts the misses without waiting for them lets them overlap the
    /// work in between. [`InMemoryCatalog`] issues a prefetch instruction
    /// for the product's serving row; an implementation over its own
    /// arrays can do the same, or keep the default.
    #[inline]
    fn prefetch(&self, _id: ProductId) {}
}

/// A borrowed view of one product in a catalog.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProductRef<'a> {
    /// The product's id.
    pub id: ProductId,
    /// SKU.
    pub sku: &'a str,
    /// Name.
    pub name: &'a str,
    /// Price.
    pub price: Money,
    /// Category name.
    pub category: &'a str,
    /// Family name, if any.
    pub family: Option<&'a str>,
    /// Tier inside the family (0 without a family).
    pub tier: u32,
    /// Feature ids, sorted.
    pub features: &'a [FeatureId],
    /// Stock, when tracked.
    pub stock: Option<u32>,
    /// Unit cost, when known.
    pub cost: Option<Money>,
    /// Popularity signal.
    pub popularity: u32,
}

/// Strings stored back to back, addressed by `u32` end offsets.
///
/// Invariant: `ends` is non-decreasing and its last value is `text.len()`;
/// string `i` is `text[ends[i-1]..ends[i]]` (with `ends[-1] = 0`).
#[derive(Clone, Debug, Default, PartialEq)]
struct Arena {
    text: String,
    ends: Vec<u32>,
}

impl Arena {
    fn push(&mut self, s: &str) -> Result<()> {
        self.text.push_str(s);
        let end = u32::try_from(self.text.len()).map_err(|_| Error::CapExceeded {
            what: "catalog text (SKUs or names) in bytes",
            cap: u64::from(u32::MAX),
            got: self.text.len() as u64,
        })?;
        self.ends.push(end);
        Ok(())
    }

    #[inline]
    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

/// A compressed list of lists: `items[offsets[i]..offsets[i+1]]` is list `i`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Lists<T> {
    offsets: Vec<u32>,
    items: Vec<T>,
}

impl<T: Copy> Lists<T> {
    fn from_groups(groups: Vec<Vec<T>>) -> Self {
        let mut offsets = Vec::with_capacity(groups.len() + 1);
        let total: usize = groups.iter().map(Vec::len).sum();
        let mut items = Vec::with_capacity(total);
        offsets.push(0);
        for g in groups {
            items.extend_from_slice(&g);
            offsets.push(items.len() as u32);
        }
        Lists { offsets, items }
    }

    #[inline]
    fn get(&self, i: usize) -> &[T] {
        &self.items[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.items.capacity() * std::mem::size_of::<T>()
    }
}

/// Sentinel for "no family" in the dense family array.
const NO_FAMILY: u32 = u32::MAX;

/// `(price - cost) / price`, 0 when the cost is unknown or the price 0.
#[inline]
fn margin_of(price: u64, cost: Option<Money>) -> f32 {
    match cost {
        Some(cost) if price > 0 => {
            (price.saturating_sub(cost.minor()) as f64 / price as f64) as f32
        }
        _ => 0.0,
    }
}

/// `ln(1 + popularity) / ln(1 + max)`; the norm never divides by 0.
#[inline]
fn popularity_term_of(popularity: u32, max: u32) -> f32 {
    let norm = (1.0 + max as f32).ln().max(f32::MIN_POSITIVE);
    (1.0 + popularity as f32).ln() / norm
}

/// What the serving path reads for every candidate, packed into one
/// 32-byte row (aligned, so a row never straddles a cache line).
///
/// With one array per field a candidate cost up to six cache misses at a
/// million products (price, stock, category, variant group, cost,
/// popularity); with the row it costs one (BENCHMARKS.md, finding 1). The
/// two score terms are precomputed because they depend only on the product
/// and cost a logarithm and a division per candidate otherwise (finding 3).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(32))]
struct Hot {
    price: u64,
    /// [`margin_of`] the price and cost.
    margin: f32,
    /// [`popularity_term_of`] the popularity.
    popularity_term: f32,
    /// Units in stock, `u32::MAX` when untracked, so the serving path
    /// reads the level without branching on [`TRACKED`] (which tells an
    /// untracked product from one with `u32::MAX` units).
    stock: u32,
    category: CategoryId,
    /// [`NO_FAMILY`] when the product has no variant group.
    variant_group: u32,
    /// [`TRACKED`], and the family id above [`FAMILY_SHIFT`].
    flags: u32,
}

/// `Hot::flags` bit: the product's stock is tracked.
const TRACKED: u32 = 1;

/// `Hot::flags` bits above [`TRACKED`]: the product's family id plus one,
/// 0 for none, [`FAMILY_ELSEWHERE`] for an id too large to fit (read from
/// the family array then). Upsell asks every cart line for its family;
/// from the row, which loading the cart already read, that costs no miss.
const FAMILY_SHIFT: u32 = 1;
/// The family field's value for an id kept only in the family array.
const FAMILY_ELSEWHERE: u32 = u32::MAX >> FAMILY_SHIFT;

/// The flags bits of family `f` (or [`NO_FAMILY`]).
fn family_bits(f: u32) -> u32 {
    let v = if f == NO_FAMILY {
        0
    } else {
        f.saturating_add(1).min(FAMILY_ELSEWHERE)
    };
    v << FAMILY_SHIFT
}

impl Hot {
    #[inline]
    fn stock(&self) -> Option<u32> {
        (self.flags & TRACKED != 0).then_some(self.stock)
    }

    /// The stock, or `u32::MAX` when untracked: stored that way, because
    /// the compiler turns any computation from the flag
    /// (`stock().unwrap_or(u32::MAX)`, masks) into a branch on it,
    /// mispredicted about once per five candidates on the bench catalog.
    #[inline]
    fn stock_level(&self) -> u32 {
        self.stock
    }

    #[inline]
    fn set_stock(&mut self, stock: Option<u32>) {
        self.stock = stock.unwrap_or(u32::MAX);
        self.flags = (self.flags & !TRACKED) | u32::from(stock.is_some());
    }
}

/// The per-product arrays (all of one length, in id order) and the name
/// tables a catalog's lookup lists are derived from.
struct IndexInputs<'a> {
    skus: &'a Arena,
    family_names: &'a Arena,
    categories: usize,
    variants: usize,
    popularity: &'a [u32],
    category: &'a [CategoryId],
    family: &'a [u32],
    tier: &'a [u32],
    variant_group: &'a [u32],
}

/// The lookup lists a catalog derives from its arrays. Builder and snapshot
/// loader both build them here, so a loaded catalog cannot disagree with a
/// built one.
struct Indexes {
    /// Per category, most popular first, ties by id.
    category_products: Lists<ProductId>,
    /// Per family, in tier order (ties by id).
    family_members: Lists<ProductId>,
    /// Per variant group, by id.
    variant_members: Lists<ProductId>,
}

impl Indexes {
    /// # Errors
    /// [`Error::DuplicateTier`] when two products of a family share a tier
    /// without being variants of one group (the sizes of one model may).
    fn derive(input: &IndexInputs<'_>) -> Result<Indexes> {
        let IndexInputs {
            popularity,
            category,
            family,
            tier,
            variant_group,
            ..
        } = *input;
        let mut by_category: Vec<Vec<ProductId>> = vec![Vec::new(); input.categories];
        for (i, c) in category.iter().enumerate() {
            by_category[c.index()].push(ProductId::from_index(i));
        }
        for list in &mut by_category {
            list.sort_by(|a, b| {
                popularity[b.index()]
                    .cmp(&popularity[a.index()])
                    .then(a.cmp(b))
            });
        }
        let mut by_variant: Vec<Vec<ProductId>> = vec![Vec::new(); input.variants];
        for (i, &g) in variant_group.iter().enumerate() {
            if g != NO_FAMILY {
                by_variant[g as usize].push(ProductId::from_index(i));
            }
        }
        let mut by_family: Vec<Vec<ProductId>> = vec![Vec::new(); input.family_names.len()];
        for (i, &f) in family.iter().enumerate() {
            if f != NO_FAMILY {
                by_family[f as usize].push(ProductId::from_index(i));
            }
        }
        for (f, list) in by_family.iter_mut().enumerate() {
            list.sort_by_key(|id| (tier[id.index()], *id));
            for w in list.windows(2) {
                let same_group = variant_group[w[0].index()] != NO_FAMILY
                    && variant_group[w[0].index()] == variant_group[w[1].index()];
                if tier[w[0].index()] == tier[w[1].index()] && !same_group {
                    return Err(Error::DuplicateTier {
                        family: input.family_names.get(f).to_owned(),
                        tier: tier[w[0].index()],
                        first: input.skus.get(w[0].index()).to_owned(),
                        second: input.skus.get(w[1].index()).to_owned(),
                    });
                }
            }
        }
        Ok(Indexes {
            category_products: Lists::from_groups(by_category),
            family_members: Lists::from_groups(by_family),
            variant_members: Lists::from_groups(by_variant),
        })
    }
}

/// The rows of a catalog, from its per-field arrays (all of length `n`):
/// popularity, category, variant group and family from `inputs`.
fn hot_rows(
    inputs: &IndexInputs<'_>,
    price: &[Money],
    stock: &[Option<u32>],
    cost: &[Option<Money>],
    max_popularity: u32,
) -> Vec<Hot> {
    let IndexInputs {
        popularity,
        category,
        family,
        variant_group,
        ..
    } = *inputs;
    (0..price.len())
        .map(|i| {
            let mut h = Hot {
                price: price[i].minor(),
                margin: margin_of(price[i].minor(), cost[i]),
                popularity_term: popularity_term_of(popularity[i], max_popularity),
                stock: 0,
                category: category[i],
                variant_group: variant_group[i],
                flags: family_bits(family[i]),
            };
            h.set_stock(stock[i]);
            h
        })
        .collect()
}

/// The immutable part of an [`InMemoryCatalog`], shared between versions
/// that differ only in price or stock.
#[derive(Debug, PartialEq)]
struct Static {
    skus: Arena,
    names: Arena,
    cost: Vec<Option<Money>>,
    popularity: Vec<u32>,
    max_popularity: u32,
    family: Vec<u32>,
    tier: Vec<u32>,
    features: Lists<FeatureId>,
    category_names: Arena,
    category_index: AHashMap<Box<str>, CategoryId>,
    category_products: Lists<ProductId>,
    family_names: Arena,
    family_members: Lists<ProductId>,
    feature_names: Arena,
    variant_names: Arena,
    variant_members: Lists<ProductId>,
    attributes: Lists<(AttributeId, AttributeId)>,
    attribute_names: Arena,
    matching_attributes: Vec<AttributeId>,
    repurchasable: Vec<bool>,
    relations: Vec<RelationType>,
}

/// A catalog held in memory as flat arrays; build it with [`CatalogBuilder`].
///
/// Cloning is cheap (reference counts); [`with_stock`](Self::with_stock) and
/// [`with_price`](Self::with_price) copy only the per-product rows the
/// serving path reads (32 bytes a product), sharing names, features and
/// indexes with the original.
#[derive(Clone, Debug, PartialEq)]
pub struct InMemoryCatalog {
    fixed: Arc<Static>,
    hot: Arc<Vec<Hot>>,
}

impl InMemoryCatalog {
    /// A builder.
    pub fn builder() -> CatalogBuilder {
        CatalogBuilder::new()
    }

    /// Builds a catalog from products in one call.
    ///
    /// # Errors
    /// As [`CatalogBuilder::add`] and [`CatalogBuilder::build`].
    pub fn from_products<I: IntoIterator<Item = Product>>(products: I) -> Result<Self> {
        let mut b = CatalogBuilder::new();
        for p in products {
            b.add(p)?;
        }
        b.build()
    }

    /// A copy of this catalog with the stock of some products changed.
    /// Shares everything but the per-product serving rows with `self`.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] (context `update`) if an id is out of range;
    /// nothing is changed then.
    pub fn with_stock<I>(&self, changes: I) -> Result<Self>
    where
        I: IntoIterator<Item = (ProductId, Option<u32>)>,
    {
        let mut next = self.clone();
        let n = self.len();
        let changes: Vec<_> = changes.into_iter().collect();
        check_ids(n, changes.iter().map(|c| c.0))?;
        let hot = Arc::make_mut(&mut next.hot);
        for (id, s) in changes {
            hot[id.index()].set_stock(s);
        }
        Ok(next)
    }

    /// A copy of this catalog with the price of some products changed.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] (context `update`) if an id is out of range.
    pub fn with_price<I>(&self, changes: I) -> Result<Self>
    where
        I: IntoIterator<Item = (ProductId, Money)>,
    {
        let mut next = self.clone();
        let changes: Vec<_> = changes.into_iter().collect();
        check_ids(self.len(), changes.iter().map(|c| c.0))?;
        let hot = Arc::make_mut(&mut next.hot);
        for (id, p) in changes {
            let row = &mut hot[id.index()];
            row.price = p.minor();
            row.margin = margin_of(p.minor(), self.fixed.cost[id.index()]);
        }
        Ok(next)
    }

    /// Heap bytes held by this catalog (strings, arrays and indexes), for
    /// capacity planning. Hash-map overhead is estimated.
    pub fn heap_bytes(&self) -> usize {
        let s = &self.fixed;
        s.skus.heap_bytes()
            + s.names.heap_bytes()
            + s.cost.capacity() * std::mem::size_of::<Option<Money>>()
            + s.popularity.capacity() * 4
            + s.family.capacity() * 4
            + s.tier.capacity() * 4
            + s.features.heap_bytes()
            + s.category_names.heap_bytes()
            + s.category_index.capacity() * (16 + 4 + 8)
            + s.category_products.heap_bytes()
            + s.family_names.heap_bytes()
            + s.family_members.heap_bytes()
            + s.feature_names.heap_bytes()
            + s.variant_names.heap_bytes()
            + s.variant_members.heap_bytes()
            + s.attributes.heap_bytes()
            + s.attribute_names.heap_bytes()
            + self.hot.capacity() * std::mem::size_of::<Hot>()
    }

    /// The products back as owned [`Product`]s, in id (SKU) order. Feeding
    /// them to a new builder rebuilds an equal catalog.
    pub fn to_products(&self) -> Vec<Product> {
        (0..self.len())
            .map(|i| {
                let id = ProductId::from_index(i);
                let r = self.view(id);
                Product {
                    sku: r.sku.to_owned(),
                    name: r.name.to_owned(),
                    price: r.price,
                    category: r.category.to_owned(),
                    family: r.family.map(str::to_owned),
                    tier: r.family.map(|_| r.tier),
                    features: r
                        .features
                        .iter()
                        .map(|&f| self.feature_name(f).to_owned())
                        .collect(),
                    stock: r.stock,
                    cost: r.cost,
                    popularity: r.popularity,
                    variant_of: self
                        .variant_group(id)
                        .map(|g| self.fixed.variant_names.get(g.index()).to_owned()),
                    attributes: self
                        .attributes(id)
                        .iter()
                        .map(|&(k, v)| {
                            (
                                self.attribute_name(k).to_owned(),
                                self.attribute_name(v).to_owned(),
                            )
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Builder settings that [`to_products`](Self::to_products) does not
    /// carry: user relation types, matching attributes and repurchasable
    /// categories, as a builder holding no products yet.
    pub fn settings_builder(&self) -> CatalogBuilder {
        let s = &self.fixed;
        let mut b = CatalogBuilder::new();
        b.relations = s.relations.clone();
        b.matching = s
            .matching_attributes
            .iter()
            .map(|&k| s.attribute_names.get(k.index()).to_owned())
            .collect();
        b.repurchasable = (0..s.category_names.len())
            .filter(|&c| s.repurchasable[c])
            .map(|c| s.category_names.get(c).to_owned())
            .collect();
        b
    }

    fn view(&self, id: ProductId) -> ProductRef<'_> {
        let s = &self.fixed;
        let i = id.index();
        ProductRef {
            id,
            sku: s.skus.get(i),
            name: s.names.get(i),
            price: Money(self.hot[i].price),
            category: s.category_names.get(self.hot[i].category.index()),
            family: (s.family[i] != NO_FAMILY).then(|| s.family_names.get(s.family[i] as usize)),
            tier: s.tier[i],
            features: s.features.get(i),
            stock: self.hot[i].stock(),
            cost: s.cost[i],
            popularity: s.popularity[i],
        }
    }
}

fn check_ids(n: usize, ids: impl Iterator<Item = ProductId>) -> Result<()> {
    for id in ids {
        if id.index() >= n {
            return Err(Error::UnknownSku {
                sku: format!("#{id}"),
                context: SkuContext::Update,
            });
        }
    }
    Ok(())
}

impl Catalog for InMemoryCatalog {
    #[inline]
    fn len(&self) -> usize {
        self.fixed.skus.len()
    }

    fn id(&self, sku: &str) -> Option<ProductId> {
        let skus = &self.fixed.skus;
        let mut lo = 0usize;
        let mut hi = skus.len();
        // Ids are in SKU byte order, so the arena is sorted: binary search.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match skus.get(mid).as_bytes().cmp(sku.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(ProductId::from_index(mid)),
            }
        }
        None
    }

    fn product(&self, id: ProductId) -> Option<ProductRef<'_>> {
        (id.index() < self.len()).then(|| self.view(id))
    }

    #[inline]
    fn sku(&self, id: ProductId) -> &str {
        self.fixed.skus.get(id.index())
    }
    #[inline]
    fn name(&self, id: ProductId) -> &str {
        self.fixed.names.get(id.index())
    }
    #[inline]
    fn price(&self, id: ProductId) -> Money {
        Money(self.hot[id.index()].price)
    }
    #[inline]
    fn cost(&self, id: ProductId) -> Option<Money> {
        self.fixed.cost[id.index()]
    }
    #[inline]
    fn stock(&self, id: ProductId) -> Option<u32> {
        self.hot[id.index()].stock()
    }
    #[inline]
    fn stock_level(&self, id: ProductId) -> u32 {
        self.hot[id.index()].stock_level()
    }
    #[inline]
    fn prefetch(&self, id: ProductId) {
        if let Some(row) = self.hot.get(id.index()) {
            crate::prefetch::prefetch(row);
        }
    }
    #[inline]
    fn popularity(&self, id: ProductId) -> u32 {
        self.fixed.popularity[id.index()]
    }
    #[inline]
    fn max_popularity(&self) -> u32 {
        self.fixed.max_popularity
    }
    #[inline]
    fn margin(&self, id: ProductId) -> f32 {
        self.hot[id.index()].margin
    }
    #[inline]
    fn popularity_term(&self, id: ProductId) -> f32 {
        self.hot[id.index()].popularity_term
    }
    #[inline]
    fn category(&self, id: ProductId) -> CategoryId {
        self.hot[id.index()].category
    }
    fn category_count(&self) -> usize {
        self.fixed.category_names.len()
    }
    fn category_name(&self, category: CategoryId) -> &str {
        self.fixed.category_names.get(category.index())
    }
    fn category_id(&self, name: &str) -> Option<CategoryId> {
        self.fixed.category_index.get(name).copied()
    }
    #[inline]
    fn category_products(&self, category: CategoryId) -> &[ProductId] {
        self.fixed.category_products.get(category.index())
    }
    #[inline]
    fn family(&self, id: ProductId) -> Option<FamilyId> {
        match self.hot[id.index()].flags >> FAMILY_SHIFT {
            0 => None,
            FAMILY_ELSEWHERE => {
                let f = self.fixed.family[id.index()];
                (f != NO_FAMILY).then_some(FamilyId(f))
            }
            f => Some(FamilyId(f - 1)),
        }
    }
    #[inline]
    fn tier(&self, id: ProductId) -> u32 {
        self.fixed.tier[id.index()]
    }
    fn family_name(&self, family: FamilyId) -> &str {
        self.fixed.family_names.get(family.index())
    }
    #[inline]
    fn family_members(&self, family: FamilyId) -> &[ProductId] {
        self.fixed.family_members.get(family.index())
    }
    #[inline]
    fn features(&self, id: ProductId) -> &[FeatureId] {
        self.fixed.features.get(id.index())
    }
    fn feature_name(&self, feature: FeatureId) -> &str {
        self.fixed.feature_names.get(feature.index())
    }
    #[inline]
    fn variant_group(&self, id: ProductId) -> Option<VariantGroupId> {
        let g = self.hot[id.index()].variant_group;
        (g != NO_FAMILY).then_some(VariantGroupId(g))
    }
    #[inline]
    fn variant_members(&self, group: VariantGroupId) -> &[ProductId] {
        self.fixed.variant_members.get(group.index())
    }
    #[inline]
    fn attributes(&self, id: ProductId) -> &[(AttributeId, AttributeId)] {
        self.fixed.attributes.get(id.index())
    }
    fn attribute_name(&self, id: AttributeId) -> &str {
        let names = &self.fixed.attribute_names;
        if id.index() < names.len() {
            names.get(id.index())
        } else {
            ""
        }
    }
    #[inline]
    fn matching_attributes(&self) -> &[AttributeId] {
        &self.fixed.matching_attributes
    }
    #[inline]
    fn repurchasable(&self, category: CategoryId) -> bool {
        self.fixed
            .repurchasable
            .get(category.index())
            .copied()
            .unwrap_or(false)
    }
    #[inline]
    fn relation(&self, id: RelationId) -> Option<&RelationType> {
        self.fixed.relations.get(id.index())
    }
    fn relation_id(&self, name: &str) -> Option<RelationId> {
        self.fixed
            .relations
            .iter()
            .position(|r| r.name == name)
            .map(|i| RelationId(i as u8))
    }
}

/// Validating builder for an [`InMemoryCatalog`].
///
/// [`add`](Self::add) rejects a bad product at once (empty SKU, duplicate
/// SKU, tier without family) and leaves the builder as it was;
/// [`build`](Self::build) checks what needs the whole catalog (two members
/// of a family at one tier) and lays out the flat arrays.
#[derive(Clone, Debug)]
pub struct CatalogBuilder {
    products: Vec<Product>,
    index: AHashMap<String, usize>,
    relations: Vec<RelationType>,
    matching: Vec<String>,
    repurchasable: Vec<String>,
}

impl Default for CatalogBuilder {
    fn default() -> Self {
        CatalogBuilder {
            products: Vec::new(),
            index: AHashMap::new(),
            relations: builtin_relations(),
            matching: Vec::new(),
            repurchasable: Vec::new(),
        }
    }
}

impl CatalogBuilder {
    /// An empty builder with the built-in relation types.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a relation type, or replaces a built-in of the same name
    /// (to change its symmetry, say), and returns its id.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty name, a mirror factor outside
    /// `(0, 1]`, or more than [`MAX_RELATIONS`] types.
    pub fn relation(&mut self, relation: RelationType) -> Result<RelationId> {
        if relation.name.is_empty() {
            return Err(Error::InvalidConfig {
                field: "relation.name",
                value: String::new(),
                hint: "a relation type needs a name",
            });
        }
        if let Symmetry::Mirrored(f) = relation.symmetry {
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return Err(Error::InvalidConfig {
                    field: "relation.symmetry",
                    value: f.to_string(),
                    hint: "a mirror factor is in (0, 1]",
                });
            }
        }
        if let Some(i) = self.relations.iter().position(|r| r.name == relation.name) {
            self.relations[i] = relation;
            return Ok(RelationId(i as u8));
        }
        if self.relations.len() >= MAX_RELATIONS {
            return Err(Error::CapExceeded {
                what: "relation types",
                cap: MAX_RELATIONS as u64,
                got: self.relations.len() as u64 + 1,
            });
        }
        self.relations.push(relation);
        Ok(RelationId((self.relations.len() - 1) as u8))
    }

    /// The matching attribute names declared so far.
    pub fn matching_names(&self) -> &[String] {
        &self.matching
    }

    /// The repurchasable category names declared so far.
    pub fn repurchasable_names(&self) -> &[String] {
        &self.repurchasable
    }

    /// Declares that suggestions should match the cart's variant on this
    /// attribute (e.g. `"size"`): a suggested product with variants is
    /// shown in the variant whose value equals the cart's.
    pub fn match_attribute(&mut self, key: impl Into<String>) -> &mut Self {
        let key = key.into();
        if !self.matching.contains(&key) {
            self.matching.push(key);
        }
        self
    }

    /// Marks a category as repurchasable (consumables): a customer who
    /// bought from it before may be offered it again. Categories are
    /// durable (not repurchasable) by default. Unknown names are checked at
    /// [`build`](Self::build).
    pub fn repurchasable_category(&mut self, category: impl Into<String>) -> &mut Self {
        let c = category.into();
        if !self.repurchasable.contains(&c) {
            self.repurchasable.push(c);
        }
        self
    }

    /// Number of products added so far.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Adds a product.
    ///
    /// # Errors
    /// [`Error::EmptySku`], [`Error::DuplicateSku`],
    /// [`Error::TierWithoutFamily`], or [`Error::CapExceeded`] past
    /// [`MAX_PRODUCTS`](crate::MAX_PRODUCTS). On error the builder is unchanged.
    pub fn add(&mut self, product: Product) -> Result<&mut Self> {
        let position = self.products.len();
        if product.sku.is_empty() {
            return Err(Error::EmptySku {
                index: position,
                name: product.name,
            });
        }
        if let (None, Some(tier)) = (&product.family, product.tier) {
            return Err(Error::TierWithoutFamily {
                sku: product.sku,
                tier,
            });
        }
        if position >= crate::MAX_PRODUCTS {
            return Err(Error::CapExceeded {
                what: "products in a catalog",
                cap: crate::MAX_PRODUCTS as u64,
                got: position as u64 + 1,
            });
        }
        if let Some(&first) = self.index.get(&product.sku) {
            return Err(Error::DuplicateSku {
                sku: product.sku,
                first,
                second: position,
            });
        }
        self.index.insert(product.sku.clone(), position);
        self.products.push(product);
        Ok(self)
    }

    /// Builds the catalog, assigning ids in SKU byte order.
    ///
    /// # Errors
    /// [`Error::DuplicateTier`] when two members of a family share a tier;
    /// [`Error::CapExceeded`] when the strings pass 4 GiB.
    pub fn build(&self) -> Result<InMemoryCatalog> {
        let n = self.products.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| {
            self.products[a]
                .sku
                .as_bytes()
                .cmp(self.products[b].sku.as_bytes())
        });

        let mut skus = Arena::default();
        let mut names = Arena::default();
        let mut price = Vec::with_capacity(n);
        let mut stock = Vec::with_capacity(n);
        let mut cost = Vec::with_capacity(n);
        let mut popularity = Vec::with_capacity(n);
        let mut category = Vec::with_capacity(n);
        let mut family = Vec::with_capacity(n);
        let mut tier = Vec::with_capacity(n);
        let mut feature_groups: Vec<Vec<FeatureId>> = Vec::with_capacity(n);

        let mut interner = Interner::default();
        let mut family_interner = Interner::default();
        let mut feature_interner = Interner::default();
        let mut variant_interner = Interner::default();
        let mut attribute_interner = Interner::default();
        let mut variant_group = Vec::with_capacity(n);
        let mut attribute_groups: Vec<Vec<(AttributeId, AttributeId)>> = Vec::with_capacity(n);
        // Matching keys first, so their ids are small and known.
        let mut matching_attributes = Vec::with_capacity(self.matching.len());
        for key in &self.matching {
            matching_attributes.push(AttributeId(attribute_interner.intern(key)?));
        }
        matching_attributes.sort_unstable();

        for &i in &order {
            let p = &self.products[i];
            skus.push(&p.sku)?;
            names.push(&p.name)?;
            price.push(p.price);
            stock.push(p.stock);
            cost.push(p.cost);
            popularity.push(p.popularity);
            category.push(CategoryId(interner.intern(&p.category)?));
            match &p.family {
                Some(f) => {
                    family.push(family_interner.intern(f)?);
                    tier.push(p.tier.unwrap_or(0));
                }
                None => {
                    family.push(NO_FAMILY);
                    tier.push(0);
                }
            }
            let mut fs = p
                .features
                .iter()
                .map(|f| feature_interner.intern(f).map(FeatureId))
                .collect::<Result<Vec<_>>>()?;
            fs.sort_unstable();
            fs.dedup();
            feature_groups.push(fs);
            variant_group.push(match &p.variant_of {
                Some(v) => variant_interner.intern(v)?,
                None => NO_FAMILY,
            });
            let mut attrs = Vec::with_capacity(p.attributes.len());
            for (k, v) in &p.attributes {
                attrs.push((
                    AttributeId(attribute_interner.intern(k)?),
                    AttributeId(attribute_interner.intern(v)?),
                ));
            }
            attrs.sort_unstable();
            attribute_groups.push(attrs);
        }
        let mut repurchasable = vec![false; interner.names.len()];
        for c in &self.repurchasable {
            let id = interner
                .index
                .get(c.as_str())
                .ok_or_else(|| Error::UnknownCategory {
                    category: c.clone(),
                    context: "repurchasable categories",
                })?;
            repurchasable[*id as usize] = true;
        }

        let inputs = IndexInputs {
            skus: &skus,
            family_names: &family_interner.names,
            categories: interner.names.len(),
            variants: variant_interner.names.len(),
            popularity: &popularity,
            category: &category,
            family: &family,
            tier: &tier,
            variant_group: &variant_group,
        };
        let indexes = Indexes::derive(&inputs)?;
        let max_popularity = popularity.iter().copied().max().unwrap_or(0);
        let hot = hot_rows(&inputs, &price, &stock, &cost, max_popularity);
        let category_index = interner
            .index
            .into_iter()
            .map(|(k, v)| (k, CategoryId(v)))
            .collect();
        Ok(InMemoryCatalog {
            fixed: Arc::new(Static {
                skus,
                names,
                cost,
                popularity,
                max_popularity,
                family,
                tier,
                features: Lists::from_groups(feature_groups),
                category_names: interner.names,
                category_index,
                category_products: indexes.category_products,
                family_names: family_interner.names,
                family_members: indexes.family_members,
                feature_names: feature_interner.names,
                variant_names: variant_interner.names,
                variant_members: indexes.variant_members,
                attributes: Lists::from_groups(attribute_groups),
                attribute_names: attribute_interner.names,
                matching_attributes,
                repurchasable,
                relations: self.relations.clone(),
            }),
            hot: Arc::new(hot),
        })
    }
}

/// Assigns dense ids to names in first-seen order.
#[derive(Default)]
struct Interner {
    names: Arena,
    index: AHashMap<Box<str>, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.index.get(name) {
            return Ok(id);
        }
        let id = self.names.len() as u32;
        self.names.push(name)?;
        self.index.insert(name.into(), id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The family id kept in the serving row: none, a small id, and an id
    /// too large for the row, which `family` then reads from the array.
    #[test]
    fn family_in_the_row_and_its_fallback() {
        assert_eq!(family_bits(NO_FAMILY), 0);
        assert_eq!(family_bits(0), 1 << FAMILY_SHIFT);
        assert_eq!(
            family_bits(FAMILY_ELSEWHERE - 2) >> FAMILY_SHIFT,
            FAMILY_ELSEWHERE - 1
        );
        for f in [FAMILY_ELSEWHERE - 1, FAMILY_ELSEWHERE, NO_FAMILY - 1] {
            assert_eq!(
                family_bits(f) >> FAMILY_SHIFT,
                FAMILY_ELSEWHERE,
                "family {f}"
            );
        }
        let mut cat = sample();
        let (c, d, a) = (
            cat.id("c").unwrap(),
            cat.id("d").unwrap(),
            cat.id("a").unwrap(),
        );
        let family = cat.family(c).unwrap();
        assert_eq!(cat.family(d), Some(family));
        assert_eq!(cat.family(a), None);
        let with_stock = cat.with_stock([(c, Some(3)), (a, None)]).unwrap();
        assert_eq!(with_stock.family(c), Some(family));
        assert_eq!(with_stock.family(a), None);
        // An id stored as "elsewhere" is read from the family array.
        let row = &mut Arc::make_mut(&mut cat.hot)[c.index()];
        row.flags = (row.flags & TRACKED) | (FAMILY_ELSEWHERE << FAMILY_SHIFT);
        assert_eq!(cat.family(c), Some(family));
    }

    fn sample() -> InMemoryCatalog {
        InMemoryCatalog::from_products([
            Product::new("b", "B", Money(200), "x").with_popularity(5),
            Product::new("a", "A", Money(100), "x").with_popularity(5),
            Product::new("c", "C", Money(300), "y")
                .with_family("F", 2)
                .with_features(["z", "y", "z"]),
            Product::new("d", "D", Money(100), "y").with_family("F", 1),
        ])
        .unwrap()
    }

    #[test]
    fn ids_follow_sku_order_and_lookup_works() {
        let c = sample();
        assert_eq!(c.len(), 4);
        for (i, sku) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(c.id(sku), Some(ProductId::from_index(i)));
            assert_eq!(c.sku(ProductId::from_index(i)), *sku);
        }
        assert_eq!(c.id("e"), None);
        assert_eq!(c.id(""), None);
    }

    #[test]
    fn families_in_tier_order_and_features_deduplicated() {
        let c = sample();
        let f = c.family(c.id("c").unwrap()).unwrap();
        let members: Vec<_> = c.family_members(f).iter().map(|&p| c.sku(p)).collect();
        assert_eq!(members, ["d", "c"]);
        assert_eq!(c.features(c.id("c").unwrap()).len(), 2);
    }

    #[test]
    fn category_products_by_popularity_then_id() {
        let c = sample();
        let x = c.category_id("x").unwrap();
        let list: Vec<_> = c.category_products(x).iter().map(|&p| c.sku(p)).collect();
        assert_eq!(list, ["a", "b"]);
    }

    #[test]
    fn to_products_round_trips() {
        let c = sample();
        let again = InMemoryCatalog::from_products(c.to_products()).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn with_stock_copies_only_stock() {
        let c = sample();
        let a = c.id("a").unwrap();
        let d = c.with_stock([(a, Some(0))]).unwrap();
        assert_eq!(c.stock(a), None);
        assert_eq!(d.stock(a), Some(0));
        assert!(!d.available(a, 1));
        assert!(Arc::ptr_eq(&c.fixed, &d.fixed));
        assert!(matches!(
            c.with_stock([(ProductId(99), None)]),
            Err(Error::UnknownSku { .. })
        ));
    }

    /// The stored score terms equal the trait's default formulas, written
    /// out here, and the stored stock level the trait's default, before and
    /// after price and stock updates; stock round-trips exactly, `u32::MAX`
    /// included.
    #[test]
    fn hot_rows_match_the_formulas_through_updates() {
        let products = [
            Product::new("p0", "free", Money(0), "x").with_cost(Money(10)),
            Product::new("p1", "cheap", Money(100), "x")
                .with_cost(Money(60))
                .with_popularity(0),
            Product::new("p2", "loss", Money(100), "x")
                .with_cost(Money(150))
                .with_popularity(7),
            Product::new("p3", "no cost", Money(u64::MAX), "y").with_popularity(u32::MAX),
            Product::new("p4", "stocked", Money(5), "y").with_stock(u32::MAX),
        ];
        let mut c = InMemoryCatalog::from_products(products).unwrap();
        let check = |c: &InMemoryCatalog| {
            let norm = (1.0 + c.max_popularity() as f32)
                .ln()
                .max(f32::MIN_POSITIVE);
            for i in 0..c.len() {
                let id = ProductId::from_index(i);
                let price = c.price(id).minor();
                let margin = match c.cost(id) {
                    Some(cost) if price > 0 => {
                        (price.saturating_sub(cost.minor()) as f64 / price as f64) as f32
                    }
                    _ => 0.0,
                };
                assert_eq!(c.margin(id).to_bits(), margin.to_bits(), "margin of {i}");
                let pop = (1.0 + c.popularity(id) as f32).ln() / norm;
                assert_eq!(
                    c.popularity_term(id).to_bits(),
                    pop.to_bits(),
                    "popularity of {i}"
                );
                // The stored level equals the trait's default.
                assert_eq!(
                    c.stock_level(id),
                    c.stock(id).unwrap_or(u32::MAX),
                    "level of {i}"
                );
                assert_eq!(c.available(id, 1), c.stock(id).is_none_or(|s| s >= 1));
            }
        };
        check(&c);
        assert_eq!(c.stock(ProductId(4)), Some(u32::MAX));
        assert_eq!(c.stock(ProductId(3)), None);
        c = c
            .with_price([(ProductId(1), Money(200)), (ProductId(0), Money(50))])
            .unwrap();
        check(&c);
        assert_eq!(c.margin(ProductId(1)), 0.7);
        c = c
            .with_stock([(ProductId(3), Some(0)), (ProductId(4), None)])
            .unwrap();
        assert_eq!(c.stock(ProductId(3)), Some(0));
        assert_eq!(c.stock(ProductId(4)), None);
        check(&c);
        let again = InMemoryCatalog::from_products(c.to_products()).unwrap();
        assert_eq!(again, c);
    }
}
