//! Reasons: why a suggestion was made, with its evidence.
//!
//! A [`Reason`] is structured data (ids and numbers, no strings), built only
//! for the suggestions that make the cut. It renders to text with the
//! catalog's names through [`Reason::display`]:
//!
//! * `complements "Phone 15" (weight 0.82)`
//! * `complements "Phone 15" (weight 0.82; 1.37 from 2 signals)`
//! * `goes with "Studio Laptop 15" (category rule laptops -> laptop-bags, weight 0.55)`
//! * `often bought with "Phone 15" (weight 0.31)`
//! * `accessory for "Phone 15" (weight 0.90)`, `service for …`, `compatible with …`,
//!   or `<type> for …` for a user-defined relation type
//! * `upgrade of "Phone 15": +13% price (+100.00), adds 2 features`

use std::fmt;

use crate::catalog::Catalog;
use crate::id::ProductId;
use crate::relation::RelationId;
use crate::strategy::Via;

/// Why a product is suggested.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// A cross-sell: it complements a product in the cart.
    Complements {
        /// The cart product with the strongest evidence.
        source: ProductId,
        /// That evidence's weight.
        weight: f32,
        /// The summed weight of all evidence.
        total: f32,
        /// Pieces of evidence pooled (1 when only `source` spoke).
        signals: u16,
        /// How the strongest evidence was found.
        via: Via,
        /// The relation type of the strongest evidence's edge.
        relation: RelationId,
        /// Index of the strategy that found it.
        strategy: u16,
    },
    /// An upsell: a better tier of a product in the cart.
    Upgrade {
        /// The cart product it would replace.
        replaces: ProductId,
        /// Index of that line in the merged cart.
        line: u16,
        /// Price difference in minor units (upgrade minus replaced),
        /// saturating at the `i64` limits.
        price_delta: i64,
        /// The difference in whole percent of the replaced price, or `None`
        /// when the replaced product is free.
        percent: Option<i64>,
        /// Features the upgrade has that the replaced product lacks.
        features_added: u16,
        /// Features of the replaced product the upgrade lacks.
        features_lost: u16,
    },
}

impl Reason {
    /// Renders the reason with the catalog's names. `product` is the
    /// suggested product (category rules name its category).
    pub fn display<'a, C: Catalog + ?Sized>(
        &'a self,
        catalog: &'a C,
        product: ProductId,
    ) -> ReasonDisplay<'a, C> {
        ReasonDisplay {
            reason: self,
            catalog,
            product,
            strategy_name: None,
        }
    }
}

/// [`Reason`] rendered with names; see [`Reason::display`].
#[derive(Debug)]
pub struct ReasonDisplay<'a, C: ?Sized> {
    reason: &'a Reason,
    catalog: &'a C,
    product: ProductId,
    strategy_name: Option<&'a str>,
}

impl<'a, C: ?Sized> ReasonDisplay<'a, C> {
    /// Names the strategy in reasons of custom strategies.
    pub fn with_strategy_name(mut self, name: &'a str) -> Self {
        self.strategy_name = Some(name);
        self
    }
}

impl<C: Catalog + ?Sized> fmt::Display for ReasonDisplay<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cat = self.catalog;
        match *self.reason {
            Reason::Complements {
                source,
                weight,
                total,
                signals,
                via,
                relation,
                ..
            } => {
                let name = cat.name(source);
                match via {
                    Via::CategoryRule => write!(
                        f,
                        "goes with {name:?} (category rule {} -> {}, weight {weight:.2}",
                        cat.category_name(cat.category(source)),
                        cat.category_name(cat.category(self.product)),
                    )?,
                    Via::Learned => write!(f, "often bought with {name:?} (weight {weight:.2}")?,
                    Via::Popular => {
                        write!(f, "popular with shoppers of {name:?} (weight {weight:.2}")?
                    }
                    Via::Custom => write!(
                        f,
                        "suggested by {:?} for {name:?} (weight {weight:.2}",
                        self.strategy_name.unwrap_or("a custom strategy")
                    )?,
                    Via::Similar => write!(f, "similar to {name:?} (similarity {weight:.2}")?,
                    Via::Edge => match relation {
                        RelationId::COMPLEMENT => {
                            write!(f, "complements {name:?} (weight {weight:.2}")?
                        }
                        RelationId::ACCESSORY => {
                            write!(f, "accessory for {name:?} (weight {weight:.2}")?
                        }
                        RelationId::CONSUMABLE => {
                            write!(f, "consumable for {name:?} (weight {weight:.2}")?
                        }
                        RelationId::SERVICE => {
                            write!(f, "service for {name:?} (weight {weight:.2}")?
                        }
                        RelationId::COMPATIBLE => {
                            write!(f, "compatible with {name:?} (weight {weight:.2}")?
                        }
                        other => write!(
                            f,
                            "{} for {name:?} (weight {weight:.2}",
                            cat.relation(other)
                                .map_or("complement", |r| r.name.as_str())
                        )?,
                    },
                }
                if signals > 1 {
                    write!(f, "; {total:.2} from {signals} signals")?;
                }
                f.write_str(")")
            }
            Reason::Upgrade {
                replaces,
                price_delta,
                percent,
                features_added,
                features_lost,
                ..
            } => {
                write!(f, "upgrade of {:?}: ", cat.name(replaces))?;
                let sign = if price_delta < 0 { "-" } else { "+" };
                let abs = price_delta.unsigned_abs();
                match percent {
                    Some(p) => write!(f, "{p:+}% price ({sign}{}.{:02})", abs / 100, abs % 100)?,
                    None => write!(f, "price {sign}{}.{:02}", abs / 100, abs % 100)?,
                }
                match (features_added, features_lost) {
                    (0, 0) => f.write_str(", same features"),
                    (a, 0) => write!(f, ", adds {a} feature{}", plural(a)),
                    (0, l) => write!(f, ", drops {l} feature{}", plural(l)),
                    (a, l) => write!(f, ", adds {a} and drops {l} feature{}", plural(l)),
                }
            }
        }
    }
}

fn plural(n: u16) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Counts `(in a not in b, in b not in a)` over two sorted slices.
pub(crate) fn sorted_difference_counts<T: Ord>(a: &[T], b: &[T]) -> (usize, usize) {
    let (mut i, mut j, mut only_a, mut only_b) = (0, 0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                only_a += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_b += 1;
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    (only_a + a.len() - i, only_b + b.len() - j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_counts() {
        assert_eq!(sorted_difference_counts(&[1, 2, 5], &[2, 3]), (2, 1));
        assert_eq!(sorted_difference_counts::<u8>(&[], &[1]), (0, 1));
    }
}
