//! Relation types: what kind of link a complement edge is.
//!
//! A curated edge says more than "goes with": a case is an *accessory* of a
//! phone, ink is a *consumable* of a printer, a protection plan is a
//! *service* for it, two cables are *compatible with* each other, and the
//! new model is a *replacement* for the old one. The type decides
//!
//! * the words of the reason (`accessory for "Phone 15"`),
//! * which kind of suggestion the edge feeds (a replacement is an upsell;
//!   the others cross-sell),
//! * whether the edge is mirrored (compatible-with runs both ways), and with
//!   what weight the mirror edge is added,
//! * whether the target may be suggested again to a customer who bought it
//!   before (consumables may).
//!
//! The built-in types have fixed ids (see the constants); a catalog may
//! register its own with [`CatalogBuilder::relation`](crate::CatalogBuilder::relation).

use crate::strategy::Kind;

/// A relation type inside one catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct RelationId(pub u8);

impl RelationId {
    /// A plain complement, no more specific type (the default).
    pub const COMPLEMENT: RelationId = RelationId(0);
    /// An accessory of the source (a case for a phone).
    pub const ACCESSORY: RelationId = RelationId(1);
    /// A consumable of the source (ink for a printer); re-suggested to past buyers.
    pub const CONSUMABLE: RelationId = RelationId(2);
    /// A service or warranty for the source.
    pub const SERVICE: RelationId = RelationId(3);
    /// Compatible with the source; mirrored with the same weight.
    pub const COMPATIBLE: RelationId = RelationId(4);
    /// A replacement (newer or better model) for the source; feeds upsell.
    pub const REPLACEMENT: RelationId = RelationId(5);

    /// The id as an index into the relation table.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Whether an edge of a type also links the target back to the source.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Symmetry {
    /// Only `from -> to`.
    Directed,
    /// Also `to -> from`, with the weight multiplied by this factor
    /// (finite, in `(0, 1]`). An explicit reverse edge wins over the mirror.
    Mirrored(f32),
}

/// A relation type: its name, the kind it feeds, its symmetry, and whether
/// a past buyer may be offered the target again.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct RelationType {
    /// The name used in files and reasons, e.g. `"accessory"`.
    pub name: String,
    /// Cross-sell or upsell.
    pub kind: Kind,
    /// Directed or mirrored.
    pub symmetry: Symmetry,
    /// Whether a customer who bought the target before may be offered it again.
    #[cfg_attr(feature = "serde", serde(default))]
    pub repurchasable: bool,
}

impl RelationType {
    /// A directed cross-sell relation that is not repurchasable.
    pub fn new(name: impl Into<String>) -> Self {
        RelationType {
            name: name.into(),
            kind: Kind::CrossSell,
            symmetry: Symmetry::Directed,
            repurchasable: false,
        }
    }

    /// Sets the kind it feeds.
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the symmetry.
    pub fn with_symmetry(mut self, symmetry: Symmetry) -> Self {
        self.symmetry = symmetry;
        self
    }

    /// Marks the target as repurchasable.
    pub fn repurchasable(mut self, yes: bool) -> Self {
        self.repurchasable = yes;
        self
    }
}

/// The built-in relation types, in id order.
pub fn builtin_relations() -> Vec<RelationType> {
    vec![
        RelationType::new("complement"),
        RelationType::new("accessory"),
        RelationType::new("consumable").repurchasable(true),
        RelationType::new("service"),
        RelationType::new("compatible").with_symmetry(Symmetry::Mirrored(1.0)),
        RelationType::new("replacement").with_kind(Kind::Upsell),
    ]
}

/// The most relation types a catalog may have (ids are `u8`).
pub const MAX_RELATIONS: usize = 255;
