//! The crate's one error type.
//!
//! Every variant carries the offending value so that a person reading the
//! message can find and fix it. Values are printed with `{:?}`, so odd
//! Unicode and control characters show escaped rather than mangling a log
//! line. Nothing in cartwise panics on outside data: a builder, loader or
//! request that meets bad input returns one of these and leaves whatever was
//! already loaded untouched.

use std::fmt;

/// A specialised `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an unknown SKU was met, for [`Error::UnknownSku`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkuContext {
    /// The source of a complement edge.
    EdgeFrom,
    /// The target of a complement edge.
    EdgeTo,
    /// A line of a cart.
    Cart,
    /// An exclusion, boost or pin in a request or rule set.
    Rule,
    /// A member of a bundle.
    Bundle,
    /// An order log, when mining against a catalog.
    Orders,
    /// A stock or price update.
    Update,
    /// The parent of a variant.
    Parent,
}

impl fmt::Display for SkuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkuContext::EdgeFrom => "complement edge source",
            SkuContext::EdgeTo => "complement edge target",
            SkuContext::Cart => "cart line",
            SkuContext::Rule => "rule",
            SkuContext::Bundle => "bundle",
            SkuContext::Orders => "order log",
            SkuContext::Update => "update",
            SkuContext::Parent => "variant parent",
        })
    }
}

/// Everything that can go wrong in cartwise.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// fallback arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two products share a SKU.
    #[error("duplicate SKU {sku:?} (products {first} and {second} in input order)")]
    DuplicateSku {
        /// The repeated SKU.
        sku: String,
        /// Input position of the first product with it.
        first: usize,
        /// Input position of the second product with it.
        second: usize,
    },
    /// A product has an empty SKU.
    #[error("empty SKU for product {index} (name {name:?}); every product needs a non-empty SKU")]
    EmptySku {
        /// Input position of the product.
        index: usize,
        /// Its name, to help find it.
        name: String,
    },
    /// A SKU that the catalog does not know.
    #[error("unknown SKU {sku:?} in {context}")]
    UnknownSku {
        /// The SKU.
        sku: String,
        /// Where it was met.
        context: SkuContext,
    },
    /// A category that the catalog does not know.
    #[error("unknown category {category:?} in {context}")]
    UnknownCategory {
        /// The category name.
        category: String,
        /// Where it was met.
        context: &'static str,
    },
    /// An edge or rule from a product or category to itself.
    #[error("self-edge on {node:?}: a product or category cannot complement itself")]
    SelfEdge {
        /// The SKU or category.
        node: String,
    },
    /// A weight that is NaN, infinite, negative, or otherwise out of range.
    #[error("invalid weight {weight} on {from:?} -> {to:?}: weights must be finite and >= 0")]
    InvalidWeight {
        /// Source SKU or category.
        from: String,
        /// Target SKU or category.
        to: String,
        /// The weight as given.
        weight: f64,
    },
    /// A cart line or edge with quantity zero.
    #[error("zero quantity for SKU {sku:?}; remove the line instead")]
    ZeroQuantity {
        /// The SKU of the line.
        sku: String,
    },
    /// A tier was given for a product that has no family.
    #[error(
        "product {sku:?} has tier {tier} but no family; a tier ranks a product inside its family"
    )]
    TierWithoutFamily {
        /// The product.
        sku: String,
        /// The tier given.
        tier: u32,
    },
    /// Two members of one family share a tier.
    #[error("family {family:?} has two products at tier {tier}: {first:?} and {second:?}")]
    DuplicateTier {
        /// The family.
        family: String,
        /// The shared tier.
        tier: u32,
        /// One product.
        first: String,
        /// The other.
        second: String,
    },
    /// A requested limit of zero or above the cap.
    #[error("invalid limit {limit}: must be between 1 and {max}")]
    InvalidLimit {
        /// The limit asked for.
        limit: usize,
        /// The largest allowed ([`crate::MAX_LIMIT`]).
        max: usize,
    },
    /// A configuration value out of its documented range.
    #[error("invalid configuration: {field} = {value} ({hint})")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// The value given, rendered.
        value: String,
        /// What is allowed.
        hint: &'static str,
    },
    /// A collection grew past a documented cap.
    #[error("{what} exceeds the cap of {cap} (got {got})")]
    CapExceeded {
        /// What grew.
        what: &'static str,
        /// The cap.
        cap: u64,
        /// How many were seen.
        got: u64,
    },
    /// A JSON document could not be read.
    #[error("JSON error at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// A CSV order log could not be read.
    #[error("CSV error at line {line}: {message}")]
    Csv {
        /// 1-based line of the offending record (the header is line 1).
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// A required column is missing from a CSV header.
    #[error("CSV header has no {column:?} column (found: {found:?})")]
    MissingColumn {
        /// The column looked for.
        column: &'static str,
        /// The columns that were there.
        found: Vec<String>,
    },
    /// An order log held no orders.
    #[error("the order log holds no orders")]
    EmptyOrders,
    /// An I/O error, with the path when known.
    #[error("I/O error on {path:?}: {source}")]
    Io {
        /// The file, or an empty string.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot is not of this format, is truncated or corrupted.
    #[error("invalid snapshot: {reason}")]
    Snapshot {
        /// What is wrong with it.
        reason: String,
    },
    /// A snapshot written by another format version.
    #[error(
        "snapshot format version {found} is not supported (this build reads version {expected})"
    )]
    SnapshotVersion {
        /// The version this build reads.
        expected: u32,
        /// The version in the file.
        found: u32,
    },
    /// A snapshot whose checksum does not match its contents.
    #[error("snapshot checksum mismatch: header says {expected:#018x}, contents hash to {found:#018x}; the file is corrupted")]
    ChecksumMismatch {
        /// The checksum in the header.
        expected: u64,
        /// The checksum of the bytes read.
        found: u64,
    },
    /// A price or sum overflowed its integer type.
    #[error("money overflow in {context}: the amounts exceed {max} minor units")]
    MoneyOverflow {
        /// What was being computed.
        context: &'static str,
        /// The largest representable amount.
        max: u64,
    },
    /// An error in one element of a JSON file, with where it is.
    #[error("{location} at line {line}, column {column}: {source}")]
    Located {
        /// The element, e.g. `products[17]`.
        location: String,
        /// 1-based line where the element starts.
        line: usize,
        /// 1-based column where the element starts.
        column: usize,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// A date range whose end is before its start.
    #[error("invalid date range {start}..={end}")]
    InvalidDateRange {
        /// Start, as given.
        start: String,
        /// End, as given.
        end: String,
    },
    /// A row of an order log, given as `(order_id, sku)` pairs rather than
    /// CSV (which reports [`Error::Csv`] with its line), has an empty SKU
    /// or order id.
    #[error("empty {field} in order-log row {row} (order_id {order_id:?}); every line needs a non-empty order_id and sku")]
    EmptyOrderField {
        /// 1-based number of the row among those given.
        row: u64,
        /// `"sku"` or `"order_id"`.
        field: &'static str,
        /// The row's order id (empty when that is the empty field).
        order_id: String,
    },
    /// An order whose timestamp is missing or unreadable, when mining with
    /// time decay.
    #[error("invalid timestamp {value:?} on order {order_id:?}: time decay needs a date (2024-05-01), a date-time (2024-05-01T10:00:00Z) or Unix seconds on every order")]
    InvalidTimestamp {
        /// The order's id.
        order_id: String,
        /// The timestamp as read; empty when the order has none.
        value: String,
    },
}

impl Error {
    /// The innermost cartwise error: for [`Error::Located`] the error inside
    /// (recursively), otherwise `self`. (`std::error::Error::source` hands
    /// out the boxed inner error, which downcasts to `Box<Error>`.)
    pub fn root_cause(&self) -> &Error {
        match self {
            Error::Located { source, .. } => source.root_cause(),
            other => other,
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }

    #[test]
    fn messages_escape_control_characters() {
        let e = Error::UnknownSku {
            sku: "a\u{0}b\n".into(),
            context: SkuContext::Cart,
        };
        assert_eq!(e.to_string(), r#"unknown SKU "a\0b\n" in cart line"#);
    }
}
