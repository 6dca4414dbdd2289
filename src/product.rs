//! Products as a shop describes them, and money.
//!
//! [`Product`] is the owned, string-keyed description a shop hands to a
//! [`CatalogBuilder`](crate::CatalogBuilder). Once the catalog is built, a
//! product is read back through [`ProductRef`](crate::ProductRef), a view
//! over the catalog's flat arrays.

use std::collections::BTreeMap;
use std::fmt;

/// An amount of money in integer minor units (cents for EUR or USD).
///
/// Money is never a float in cartwise. Sums use checked arithmetic where an
/// overflow would change a decision (a cart total against a budget) and
/// saturating arithmetic where it only feeds a score; each use says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Money(pub u64);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// The amount in minor units.
    #[inline]
    pub const fn minor(self) -> u64 {
        self.0
    }

    /// `self - other` as a signed difference, saturating at the `i64` limits.
    #[inline]
    pub fn signed_diff(self, other: Money) -> i64 {
        let d = i128::from(self.0) - i128::from(other.0);
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Checked addition: `None` on overflow.
    #[inline]
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Checked multiplication by a quantity: `None` on overflow.
    #[inline]
    pub fn checked_mul(self, quantity: u32) -> Option<Money> {
        self.0.checked_mul(u64::from(quantity)).map(Money)
    }
}

/// Shown with two decimals, the common case (`1999` shows as `19.99`).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A product as a shop describes it, before it enters a catalog.
///
/// Only `sku`, `name`, `price` and `category` are required; build one with
/// [`Product::new`] and the `with_*` methods.
///
/// ```
/// use cartwise::{Money, Product};
/// let p = Product::new("PH-15-PRO", "Phone 15 Pro", Money(99_900), "phones")
///     .with_family("Phone 15", 2)
///     .with_features(["5g", "oled", "telephoto"])
///     .with_stock(12)
///     .with_cost(Money(61_000));
/// assert_eq!(p.tier, Some(2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Product {
    /// Stock-keeping unit: the shop's unique, non-empty key. Kept verbatim
    /// (no trimming or case folding).
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Price in minor units.
    pub price: Money,
    /// Category name, e.g. `"phones"`.
    pub category: String,
    /// Product line, e.g. `"Phone 15"`; members of a family form a tier ladder.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub family: Option<String>,
    /// Rank inside the family: higher is better (good = 1, better = 2, best = 3).
    /// Requires `family`. A family member without a tier gets tier 0.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub tier: Option<u32>,
    /// Features, e.g. `["5g", "oled"]`; an upgrade may be required to keep them all.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub features: Vec<String>,
    /// Units in stock; `None` means stock is not tracked (always available).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub stock: Option<u32>,
    /// Unit cost in minor units, for margin; `None` when unknown.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub cost: Option<Money>,
    /// A popularity signal (units sold recently, say); higher is more popular.
    /// Used by the default scorer and to order category-rule candidates.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
    pub popularity: u32,
    /// The variant group this product belongs to (a parent key such as
    /// `"TEE-CLASSIC"`); products sharing it are variants of one another
    /// (sizes, colours). Never suggested beside a sibling in the cart.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub variant_of: Option<String>,
    /// Variant attributes, e.g. `{"size": "M", "colour": "red"}`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "BTreeMap::is_empty")
    )]
    pub attributes: BTreeMap<String, String>,
}

#[cfg(feature = "serde")]
fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Product {
    /// A product with the required fields; the rest empty.
    pub fn new(
        sku: impl Into<String>,
        name: impl Into<String>,
        price: Money,
        category: impl Into<String>,
    ) -> Self {
        Product {
            sku: sku.into(),
            name: name.into(),
            price,
            category: category.into(),
            family: None,
            tier: None,
            features: Vec::new(),
            stock: None,
            cost: None,
            popularity: 0,
            variant_of: None,
            attributes: BTreeMap::new(),
        }
    }

    /// Sets the family and the tier inside it.
    pub fn with_family(mut self, family: impl Into<String>, tier: u32) -> Self {
        self.family = Some(family.into());
        self.tier = Some(tier);
        self
    }

    /// Sets the features.
    pub fn with_features<I, S>(mut self, features: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the tracked stock.
    pub fn with_stock(mut self, stock: u32) -> Self {
        self.stock = Some(stock);
        self
    }

    /// Sets the unit cost.
    pub fn with_cost(mut self, cost: Money) -> Self {
        self.cost = Some(cost);
        self
    }

    /// Makes the product a variant in the group `parent`.
    pub fn variant_of(mut self, parent: impl Into<String>) -> Self {
        self.variant_of = Some(parent.into());
        self
    }

    /// Sets a variant attribute such as size or colour.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the popularity signal.
    pub fn with_popularity(mut self, popularity: u32) -> Self {
        self.popularity = popularity;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_display_and_diff() {
        assert_eq!(Money(1999).to_string(), "19.99");
        assert_eq!(Money(5).to_string(), "0.05");
        assert_eq!(Money(0).signed_diff(Money(u64::MAX)), i64::MIN);
        assert_eq!(Money(u64::MAX).signed_diff(Money(0)), i64::MAX);
        assert_eq!(Money(u64::MAX).checked_add(Money(1)), None);
        assert_eq!(Money(u64::MAX).checked_mul(2), None);
    }
}
