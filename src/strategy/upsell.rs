//! Upsell along a family's tier ladder.

use super::{Candidates, Context, Kind, Strategy};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::id::ProductId;

/// The default cap on an upgrade's price step, in percent of the replaced
/// product's price: an upgrade may cost at most 50% more. Above that the
/// suggestion stops being "the better version" and becomes a different
/// purchase; a shop with wide ladders can raise it.
pub const DEFAULT_MAX_PRICE_STEP_PERCENT: u32 = 50;

/// Whether an upgrade must keep the replaced product's features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FeatureRule {
    /// Any higher tier qualifies (default).
    #[default]
    Any,
    /// The upgrade must have every feature of the replaced product.
    MustKeepAll,
}

/// Configuration of [`Upsell`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct UpsellConfig {
    /// Largest price step, in percent of the replaced product's price
    /// (default [`DEFAULT_MAX_PRICE_STEP_PERCENT`] = 50: at most +50%).
    /// Computed in integers: `upgrade <= price + price * percent / 100`.
    pub max_price_step_percent: u32,
    /// Whether the upgrade must keep every feature (default [`FeatureRule::Any`]).
    pub features: FeatureRule,
    /// How many tiers up to look (default 2).
    pub max_tiers_up: u32,
}

impl Default for UpsellConfig {
    fn default() -> Self {
        UpsellConfig {
            max_price_step_percent: DEFAULT_MAX_PRICE_STEP_PERCENT,
            features: FeatureRule::Any,
            max_tiers_up: 2,
        }
    }
}

impl UpsellConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `max_tiers_up` is 0 or the step exceeds
    /// 10,000%.
    pub fn validate(&self) -> Result<()> {
        if self.max_tiers_up == 0 {
            return Err(Error::InvalidConfig {
                field: "max_tiers_up",
                value: "0".into(),
                hint: "at least 1",
            });
        }
        if self.max_price_step_percent > 10_000 {
            return Err(Error::InvalidConfig {
                field: "max_price_step_percent",
                value: self.max_price_step_percent.to_string(),
                hint: "at most 10000 (a 100x step)",
            });
        }
        Ok(())
    }
}

/// Upsell: for a cart line whose product has a family, the higher tiers of
/// that family within the price step cap. A higher tier that costs less
/// than the cart's product is skipped: an upsell raises the order value.
///
/// Fit (the upsell's relevance) is highest for the nearest tier and the
/// smallest step: `fit = 1 - 0.5 * step / cap - 0.1 * (tiers_up - 1)`,
/// clamped to `[0.1, 1]`.
///
/// Runs in O(family size × features) per cart line.
#[derive(Clone, Debug, Default)]
pub struct Upsell {
    config: UpsellConfig,
}

impl Upsell {
    /// An upsell strategy.
    ///
    /// # Errors
    /// As [`UpsellConfig::validate`].
    pub fn new(config: UpsellConfig) -> Result<Self> {
        config.validate()?;
        Ok(Upsell { config })
    }

    /// The configuration.
    pub fn config(&self) -> &UpsellConfig {
        &self.config
    }

    /// The largest price an upgrade of a product at `price` may have.
    /// Saturates at `u64::MAX`.
    pub fn price_cap(&self, price: u64) -> u64 {
        let cap = u128::from(price)
            + u128::from(price) * u128::from(self.config.max_price_step_percent) / 100;
        u64::try_from(cap).unwrap_or(u64::MAX)
    }
}

/// Family members whose rows [`Upsell`]'s prefetch starts, per cart line.
const PREFETCH_MEMBERS: usize = 16;

/// Whether sorted `have` contains every element of sorted `need`.
fn is_subset<T: Ord>(need: &[T], have: &[T]) -> bool {
    let mut it = have.iter();
    need.iter().all(|n| it.by_ref().any(|h| h == n))
}

impl<C: Catalog + ?Sized> Strategy<C> for Upsell {
    fn name(&self) -> &str {
        "upsell"
    }

    fn kind(&self) -> Kind {
        Kind::Upsell
    }

    /// Starts loading, for each line with a family, its tier and its
    /// family's member list (the family itself the in-memory catalog keeps
    /// in the row that loading the cart read). At a million products the
    /// member list is two dependent misses; started here they overlap
    /// cross-sell's work (1 / 5 / 20-line calls 3-7% faster). The members'
    /// rows (price, stock) are then started with prefetch instructions,
    /// which nothing waits for: reading them here instead, a third
    /// dependent miss, gained only 2%, as the waiting load held back the
    /// work behind it; prefetching them made cold 5-line calls at a million
    /// products ×0.975-0.98 (ninth round, paired rounds). The members'
    /// tiers, in another array, are left to `candidates`.
    fn prefetch(&self, ctx: &Context<'_, C>) {
        let catalog = ctx.catalog;
        let mut touched = 0u32;
        for line in ctx.cart {
            if let Some(f) = catalog.family(line.product) {
                touched ^= catalog.tier(line.product);
                // A handful of tiers is the usual family; a huge one is
                // not worth a prefetch per member on every call.
                for &m in catalog.family_members(f).iter().take(PREFETCH_MEMBERS) {
                    catalog.prefetch(m);
                }
            }
        }
        // Only keeps the reads from being optimised away.
        std::hint::black_box(touched);
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        let catalog = ctx.catalog;
        for (line_index, line) in ctx.cart.iter().enumerate() {
            let product: ProductId = line.product;
            let Some(family) = catalog.family(product) else {
                continue;
            };
            let tier = catalog.tier(product);
            let price = catalog.price(product).minor();
            let cap = self.price_cap(price);
            let members = catalog.family_members(family);
            let mut tiers_up = 0u32;
            let mut last_tier = tier;
            for &m in members {
                let t = catalog.tier(m);
                if t <= tier {
                    continue;
                }
                if t != last_tier {
                    tiers_up += 1;
                    last_tier = t;
                }
                if tiers_up > self.config.max_tiers_up {
                    break;
                }
                let up = catalog.price(m).minor();
                if up > cap || up < price {
                    continue;
                }
                if self.config.features == FeatureRule::MustKeepAll
                    && !is_subset(catalog.features(product), catalog.features(m))
                {
                    continue;
                }
                let step = (up - price) as f64;
                let room = (cap - price) as f64;
                let ratio = if room > 0.0 { step / room } else { 0.0 };
                let fit = (1.0 - 0.5 * ratio - 0.1 * f64::from(tiers_up - 1)).clamp(0.1, 1.0);
                sink.add_upsell(m, line_index, product, fit as f32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset() {
        assert!(is_subset(&[1, 3], &[1, 2, 3]));
        assert!(!is_subset(&[1, 4], &[1, 2, 3]));
        assert!(is_subset::<u32>(&[], &[]));
    }

    #[test]
    fn cap_is_integer_and_saturating() {
        let u = Upsell::default();
        assert_eq!(u.price_cap(1000), 1500);
        assert_eq!(u.price_cap(999), 1498);
        assert_eq!(u.price_cap(u64::MAX), u64::MAX);
    }

    #[test]
    fn config_validation() {
        let c = UpsellConfig {
            max_tiers_up: 0,
            ..UpsellConfig::default()
        };
        assert!(matches!(
            Upsell::new(c),
            Err(Error::InvalidConfig {
                field: "max_tiers_up",
                ..
            })
        ));
    }
}
