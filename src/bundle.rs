//! Bundles: sets of products sold together at a bundle price.
//!
//! A merchant declares bundles (a camera, a lens and a bag for 899.00, or
//! "10% off the three"); when a cart holds part of a bundle, cartwise offers
//! the rest with the saving ([`Bundles::offers`]). A bundle whose missing
//! part is out of stock is not offered.
//!
//! [`frequently_bought_together`] mines sets of 2-3 products from a
//! (learned or curated) complement graph: a product, its strongest
//! neighbours, and, for a set of three, an edge between the two neighbours
//! too, so the three really go together rather than each going with the
//! first.

use smallvec::SmallVec;

use crate::cart::CartLine;
use crate::catalog::Catalog;
use crate::error::{Error, Result, SkuContext};
use crate::graph::ComplementGraph;
use crate::id::ProductId;
use crate::product::Money;

/// A bundle as a merchant declares it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct BundleSpec {
    /// Display name.
    pub name: String,
    /// The member SKUs (at least two, distinct).
    pub skus: Vec<String>,
    /// The bundle price in minor units; give this or `discount_percent`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub price: Option<Money>,
    /// Percent off the sum of the members' prices (1 to 100).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub discount_percent: Option<u32>,
}

/// A validated bundle over catalog ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// Display name.
    pub name: String,
    /// Members, sorted by id.
    pub members: Vec<ProductId>,
    /// Sum of the members' prices when the bundle was built.
    pub regular_price: Money,
    /// What the bundle costs.
    pub price: Money,
}

/// An offer to complete a bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleOffer {
    /// Index of the bundle in [`Bundles::list`].
    pub bundle: usize,
    /// Members the cart already holds.
    pub in_cart: SmallVec<[ProductId; 4]>,
    /// Members to add.
    pub missing: SmallVec<[ProductId; 4]>,
    /// The bundle price.
    pub price: Money,
    /// Sum of the members' current prices.
    pub regular_price: Money,
    /// `regular_price - price`, saturating at zero.
    pub saving: Money,
}

/// The merchant's bundles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bundles {
    list: Vec<Bundle>,
}

impl Bundles {
    /// Validates bundle specs against a catalog.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] (context `bundle`); [`Error::InvalidConfig`]
    /// for fewer than two distinct members, neither or both of price and
    /// discount, a discount outside 1..=100, or a bundle price above the
    /// members' sum; [`Error::MoneyOverflow`] when the sum overflows.
    pub fn from_specs<C: Catalog + ?Sized>(catalog: &C, specs: &[BundleSpec]) -> Result<Self> {
        let mut list = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut members = spec
                .skus
                .iter()
                .map(|s| {
                    catalog.id(s).ok_or_else(|| Error::UnknownSku {
                        sku: s.clone(),
                        context: SkuContext::Bundle,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            members.sort_unstable();
            members.dedup();
            if members.len() < 2 {
                return Err(Error::InvalidConfig {
                    field: "bundle.skus",
                    value: format!("{:?}", spec.skus),
                    hint: "a bundle needs at least two distinct SKUs",
                });
            }
            let regular = sum_prices(catalog, &members)?;
            let price = match (spec.price, spec.discount_percent) {
                (Some(p), None) => p,
                (None, Some(d @ 1..=100)) => {
                    Money((u128::from(regular.0) * u128::from(100 - d) / 100) as u64)
                }
                (None, Some(d)) => {
                    return Err(Error::InvalidConfig {
                        field: "bundle.discount_percent",
                        value: d.to_string(),
                        hint: "1 to 100",
                    })
                }
                _ => {
                    return Err(Error::InvalidConfig {
                        field: "bundle.price",
                        value: format!("{:?}", spec.name),
                        hint: "give exactly one of price and discount_percent",
                    })
                }
            };
            if price > regular {
                return Err(Error::InvalidConfig {
                    field: "bundle.price",
                    value: price.to_string(),
                    hint: "a bundle may not cost more than its members bought apart",
                });
            }
            list.push(Bundle {
                name: spec.name.clone(),
                members,
                regular_price: regular,
                price,
            });
        }
        Ok(Bundles { list })
    }

    /// Concatenates bundle sets, in order.
    pub fn merge<I: IntoIterator<Item = Bundles>>(parts: I) -> Self {
        Bundles {
            list: parts.into_iter().flat_map(|b| b.list).collect(),
        }
    }

    /// The bundles.
    pub fn list(&self) -> &[Bundle] {
        &self.list
    }

    /// Number of bundles.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Offers for the bundles a cart holds part of, whose missing members
    /// are all available; fewest missing first, then largest saving, then
    /// bundle order. Prices are the catalog's current ones; the saving is
    /// recomputed with them. O(bundles × members × cart lines).
    pub fn offers<C: Catalog + ?Sized>(&self, catalog: &C, cart: &[CartLine]) -> Vec<BundleOffer> {
        let mut out = Vec::new();
        for (i, b) in self.list.iter().enumerate() {
            let (in_cart, missing): (SmallVec<[ProductId; 4]>, SmallVec<[ProductId; 4]>) = b
                .members
                .iter()
                .copied()
                .partition(|m| cart.iter().any(|l| l.product == *m));
            if in_cart.is_empty()
                || missing.is_empty()
                || !missing.iter().all(|&m| catalog.available(m, 1))
            {
                continue;
            }
            let Ok(regular) = sum_prices(catalog, &b.members) else {
                continue;
            };
            let price = if b.regular_price.0 == 0 {
                b.price
            } else {
                // Keep the declared discount ratio when prices change.
                Money(
                    (u128::from(b.price.0) * u128::from(regular.0) / u128::from(b.regular_price.0))
                        as u64,
                )
            };
            out.push(BundleOffer {
                bundle: i,
                in_cart,
                missing,
                price,
                regular_price: regular,
                saving: Money(regular.0.saturating_sub(price.0)),
            });
        }
        out.sort_by(|a, b| {
            a.missing
                .len()
                .cmp(&b.missing.len())
                .then(b.saving.cmp(&a.saving))
                .then(a.bundle.cmp(&b.bundle))
        });
        out
    }
}

fn sum_prices<C: Catalog + ?Sized>(catalog: &C, members: &[ProductId]) -> Result<Money> {
    members.iter().try_fold(Money::ZERO, |acc, &m| {
        acc.checked_add(catalog.price(m))
            .ok_or(Error::MoneyOverflow {
                context: "bundle price",
                max: u64::MAX,
            })
    })
}

/// A mined "frequently bought together" set.
#[derive(Clone, Debug, PartialEq)]
pub struct TogetherSet {
    /// The products, the anchor first.
    pub products: SmallVec<[ProductId; 3]>,
    /// Sum of the weights of the edges that tie the set together.
    pub weight: f32,
}

/// Sets of 2-3 products that go with `anchor`, strongest first: pairs with
/// each of its `fanout` strongest available neighbours, and triples
/// `{anchor, a, b}` where `a` and `b` are such neighbours and an edge joins
/// them as well. At most `max_sets` sets. Ties by product ids. O(fanout² ×
/// log degree).
pub fn frequently_bought_together<C: Catalog + ?Sized>(
    catalog: &C,
    graph: &ComplementGraph,
    anchor: ProductId,
    fanout: usize,
    max_sets: usize,
) -> Vec<TogetherSet> {
    let (targets, weights) = graph.neighbors(anchor);
    let mut top: Vec<(ProductId, f32)> = targets
        .iter()
        .zip(weights)
        .filter(|(t, _)| catalog.available(**t, 1))
        .map(|(&t, &w)| (t, w))
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(fanout);
    let mut sets = Vec::new();
    for (i, &(a, wa)) in top.iter().enumerate() {
        sets.push(TogetherSet {
            products: SmallVec::from_slice(&[anchor, a]),
            weight: wa,
        });
        for &(b, wb) in &top[i + 1..] {
            let ab = graph
                .weight(a, b)
                .into_iter()
                .chain(graph.weight(b, a))
                .fold(0.0f32, f32::max);
            if ab > 0.0 {
                sets.push(TogetherSet {
                    products: SmallVec::from_slice(&[anchor, a, b]),
                    weight: wa + wb + ab,
                });
            }
        }
    }
    sets.sort_by(|x, y| {
        y.weight
            .total_cmp(&x.weight)
            .then_with(|| x.products.cmp(&y.products))
    });
    sets.truncate(max_sets);
    sets
}
