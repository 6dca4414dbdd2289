//! Order history: the raw material for learned complements and for offline
//! evaluation.
//!
//! An [`OrderLog`] is a list of orders, each a set of items bought together.
//! It is built once, from `(order_id, sku)` rows ([`OrderLog::from_rows`],
//! [`OrderLogBuilder`]) or from a CSV file ([`OrderLog::from_csv_path`],
//! [`OrderLog::from_csv_reader`], behind the `csv` feature), and is then
//! read-only.
//!
//! # What the log keeps
//!
//! * **Items.** Every distinct SKU string is interned once into a dense
//!   `u32` item id, in first-appearance order: the first SKU met is item 0.
//!   [`OrderLog::sku`] and [`OrderLog::item`] convert both ways. Item ids are
//!   *not* in SKU order (a catalog's product ids are); a model keyed by item
//!   ids carries this SKU table so that it can be remapped onto catalog ids
//!   in one pass.
//! * **Orders.** An order is the set of its distinct items in
//!   first-appearance order; a second line of the same SKU in the same order
//!   is dropped (and counted in the [`LoadReport`]). Orders are listed in the
//!   first-appearance order of their `order_id`; the lines of one order need
//!   not be contiguous. This is exactly the model of the shared evaluation
//!   protocol, so a split "first 80% of orders" means the same thing here and
//!   in the peers' scripts.
//! * **Timestamps** (optional). When the CSV has a `timestamp` column, each
//!   order keeps the first non-empty timestamp string met among its lines,
//!   verbatim (no parsing), for time-decay work.
//! * **Events** (optional). When the CSV has an `event` column, each line
//!   keeps its [`Event`]: a purchase, an add-to-cart or a view. A line
//!   without one is a purchase. When a SKU repeats in an order with
//!   different events, the order keeps the SKU once, at its first position,
//!   with the strongest event (purchase over cart over view): an item that
//!   was viewed and then bought was bought. The miner
//!   ([`Miner::events`](crate::mine::Miner::events)) turns events into weights.
//!
//! Strings are taken verbatim: no trimming, no case folding.
//!
//! # Storage and memory
//!
//! Orders are stored CSR-style: `offsets` (one `u32` per order, plus one)
//! into a flat `items` array (one `u32` per distinct order line). After
//! [`OrderLogBuilder::build`] the log costs about 4 bytes per distinct line,
//! 4 bytes per order, the order-id and SKU strings once each, and a hash
//! index over the SKUs (about 16 bytes plus the string per SKU). While
//! building, the builder also holds 8 bytes per line and a hash index over
//! the order ids. The caps [`MAX_LINES`] and [`MAX_ITEMS`] follow from the
//! `u32` offsets and ids; going past them is an [`Error::CapExceeded`].
//! With an `event` column, each line costs one byte more.
//!
//! Distinct SKUs are what an unknown log can blow up: each costs about 80
//! bytes plus twice its length (the SKU table and the hash index each hold
//! a copy), so a log of 50 million distinct 10-byte SKUs needs about 5 GB
//! before a single pair is counted. The builder therefore stops at a
//! configurable cap, [`DEFAULT_MAX_ITEMS`] unless set otherwise
//! ([`ReadOptions::max_items`], [`OrderLogBuilder::max_items`]), with
//! [`Error::CapExceeded`] naming the cap, instead of growing until the
//! machine runs out of memory.
//!
//! # Huge orders
//!
//! An order of m items holds m(m-1)/2 pairs, so one pathological order (a
//! wholesale account buying half the catalog, a test order) can dominate
//! pair counting in both time and weight. The log keeps every order whole
//! (evaluation needs it), but [`OrderLog::pair_items`] truncates an order to
//! its first [`MAX_ITEMS_PER_ORDER`] distinct items, and the miners and
//! learned models count pairs only through it. The report counts the
//! orders that were truncated.

use std::ops::Range;

use ahash::AHashMap;

use crate::error::{Error, Result};

/// The most distinct items of one order that take part in pair counting.
///
/// Larger orders are truncated to their first `MAX_ITEMS_PER_ORDER` distinct
/// items (in first-appearance order) by [`OrderLog::pair_items`], which
/// bounds the pairs one order contributes at 512 * 511 / 2 = 130,816. The
/// order itself is kept whole. [`LoadReport::truncated_orders`] counts how
/// many orders were affected. None of the shared datasets comes near it (the
/// largest basket there has 259 items).
pub const MAX_ITEMS_PER_ORDER: usize = 512;

/// The most distinct order lines (distinct `(order, item)` pairs) a log may
/// hold: order offsets are `u32`. About 16 GiB of items at 4 bytes each, far
/// beyond what one machine should mine in memory.
pub const MAX_LINES: usize = u32::MAX as usize;

/// The most distinct SKUs a log may hold: item ids are `u32`, and
/// `u32::MAX` is kept free as a sentinel.
pub const MAX_ITEMS: usize = (u32::MAX - 1) as usize;

/// The most orders a log may hold (order indexes are `u32` while building).
pub const MAX_ORDERS: usize = (u32::MAX - 1) as usize;

/// The default cap on distinct SKUs per log: 50 million, about 5 GB of SKU
/// table and index at 10-byte SKUs (see the [module docs](self)). Large
/// enough for any single shop's catalog; a log past it is more likely a
/// broken export (a line number in the SKU column, say) than a catalog.
/// Change it with [`ReadOptions::max_items`] or
/// [`OrderLogBuilder::max_items`], up to [`MAX_ITEMS`].
pub const DEFAULT_MAX_ITEMS: usize = 50_000_000;

/// What a customer did with an item: the `event` column of an order log.
///
/// Ordered from strongest to weakest: a line's event is compared by
/// strength when a SKU repeats in an order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum Event {
    /// The item was bought. The default for a line without an event.
    #[default]
    Purchase = 0,
    /// The item was put in the cart (and perhaps not bought).
    Cart = 1,
    /// The item's page was viewed.
    View = 2,
}

impl Event {
    /// Parses an `event` value, ASCII case-insensitively: `purchase`, `buy`,
    /// `order`, `transaction` (a purchase); `cart`, `add_to_cart`,
    /// `addtocart`, `add-to-cart`; `view`, `detail`, `pageview`, `click`.
    /// The empty string is a purchase. `None` for anything else.
    ///
    /// ```
    /// use cartwise::Event;
    /// assert_eq!(Event::parse("addtocart"), Some(Event::Cart));
    /// assert_eq!(Event::parse("VIEW"), Some(Event::View));
    /// assert_eq!(Event::parse(""), Some(Event::Purchase));
    /// assert_eq!(Event::parse("refund"), None);
    /// ```
    pub fn parse(value: &str) -> Option<Event> {
        const NAMES: [(&str, Event); 13] = [
            ("", Event::Purchase),
            ("purchase", Event::Purchase),
            ("buy", Event::Purchase),
            ("order", Event::Purchase),
            ("transaction", Event::Purchase),
            ("cart", Event::Cart),
            ("add_to_cart", Event::Cart),
            ("addtocart", Event::Cart),
            ("add-to-cart", Event::Cart),
            ("view", Event::View),
            ("detail", Event::View),
            ("pageview", Event::View),
            ("click", Event::View),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(value))
            .map(|&(_, e)| e)
    }

    /// The canonical name: `purchase`, `cart` or `view`.
    pub fn name(self) -> &'static str {
        match self {
            Event::Purchase => "purchase",
            Event::Cart => "cart",
            Event::View => "view",
        }
    }
}

/// What to do with a malformed row (wrong number of fields, invalid UTF-8,
/// an empty `order_id` or `sku`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnMalformed {
    /// Stop at the first malformed row with an error naming its line. The
    /// default: a log that is silently half-read makes a misleading model.
    #[default]
    Error,
    /// Skip malformed rows and count them in the [`LoadReport`].
    Skip,
}

/// Options for reading an order log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// What to do with a malformed row. Default: [`OnMalformed::Error`].
    pub on_malformed: OnMalformed,
    /// The most distinct SKUs to accept; one more is an
    /// [`Error::CapExceeded`]. Default [`DEFAULT_MAX_ITEMS`]; values above
    /// [`MAX_ITEMS`] act as [`MAX_ITEMS`].
    pub max_items: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            on_malformed: OnMalformed::default(),
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

impl ReadOptions {
    /// The defaults: stop at the first malformed row, at most
    /// [`DEFAULT_MAX_ITEMS`] distinct SKUs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what to do with a malformed row.
    pub fn on_malformed(&mut self, policy: OnMalformed) -> &mut Self {
        self.on_malformed = policy;
        self
    }

    /// Sets the cap on distinct SKUs (see [`max_items`](Self::max_items)).
    pub fn max_items(&mut self, cap: usize) -> &mut Self {
        self.max_items = cap;
        self
    }
}

/// Counts gathered while reading an order log: what was read, dropped and
/// truncated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Data rows met (the header not included), skipped ones included.
    pub rows: u64,
    /// Rows skipped because they were malformed (wrong number of fields or
    /// invalid UTF-8), under [`OnMalformed::Skip`].
    pub skipped_malformed: u64,
    /// Rows skipped because their SKU or order id was empty, under
    /// [`OnMalformed::Skip`].
    pub skipped_empty: u64,
    /// The 1-based line of the first skipped row, if any.
    pub first_skipped_line: Option<u64>,
    /// Lines that repeated a SKU already in their order (dropped: an order
    /// is a set).
    pub duplicate_lines: u64,
    /// Orders with more than [`MAX_ITEMS_PER_ORDER`] distinct items, which
    /// [`OrderLog::pair_items`] truncates.
    pub truncated_orders: u64,
}

impl LoadReport {
    /// All skipped rows.
    pub fn skipped(&self) -> u64 {
        self.skipped_malformed + self.skipped_empty
    }
}

/// Orders as sets of dense item ids, with the SKU table. See the [module
/// docs](self).
///
/// ```
/// use cartwise::OrderLog;
/// let log = OrderLog::from_rows([
///     ("o1", "bread"), ("o1", "butter"),
///     ("o2", "bread"), ("o1", "bread"), // duplicate line, dropped
///     ("o2", "jam"),
/// ])?;
/// assert_eq!(log.len(), 2);
/// assert_eq!(log.n_items(), 3);
/// let bread = log.item("bread").unwrap();
/// assert_eq!(log.sku(bread), "bread");
/// assert_eq!(log.order(0), &[0, 1]);
/// assert_eq!(log.order(1), &[0, 2]);
/// assert_eq!(log.report().duplicate_lines, 1);
/// # Ok::<(), cartwise::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OrderLog {
    /// `offsets[o]..offsets[o + 1]` is order `o` in `items`; `len() + 1`
    /// entries, non-decreasing, the last equal to `items.len()`.
    offsets: Vec<u32>,
    /// Item ids, each `< skus.len()`, distinct within one order.
    items: Vec<u32>,
    /// SKU of each item id; non-empty and distinct.
    skus: Vec<Box<str>>,
    /// SKU -> item id; the inverse of `skus`.
    sku_index: AHashMap<Box<str>, u32>,
    /// Order ids, concatenated; order `o` is
    /// `order_id_bytes[order_id_ends[o - 1]..order_id_ends[o]]`.
    order_id_bytes: String,
    /// End of each order id in `order_id_bytes`; `len()` entries.
    order_id_ends: Vec<usize>,
    /// Per-order timestamp, empty when there is none; either empty (no
    /// timestamps at all) or `len()` entries.
    timestamps: Vec<Box<str>>,
    /// Per-line event, parallel to `items`; empty when no line carried an
    /// event other than a purchase.
    events: Vec<Event>,
    /// What was read, dropped and truncated.
    report: LoadReport,
}

impl OrderLog {
    /// Builds a log from `(order_id, sku)` rows.
    ///
    /// # Errors
    /// [`Error::EmptyOrderField`] for a row with an empty SKU or order id
    /// (rows are numbered from 1), [`Error::EmptyOrders`] when there are no
    /// rows, [`Error::CapExceeded`] past [`MAX_LINES`] or [`MAX_ITEMS`].
    pub fn from_rows<I, O, S>(rows: I) -> Result<OrderLog>
    where
        I: IntoIterator<Item = (O, S)>,
        O: AsRef<str>,
        S: AsRef<str>,
    {
        let mut b = OrderLogBuilder::new();
        for (order_id, sku) in rows {
            b.push(order_id.as_ref(), sku.as_ref())?;
        }
        b.build()
    }

    /// The number of orders.
    #[inline]
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no orders (never true for a built log).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of distinct SKUs (item ids are `0..n_items()`).
    #[inline]
    pub fn n_items(&self) -> usize {
        self.skus.len()
    }

    /// The number of distinct order lines (the sum of the order sizes).
    #[inline]
    pub fn n_lines(&self) -> usize {
        self.items.len()
    }

    /// The distinct items of order `o`, in first-appearance order.
    ///
    /// # Panics
    /// Panics if `o >= self.len()`.
    #[inline]
    pub fn order(&self, o: usize) -> &[u32] {
        let (a, b) = (self.offsets[o] as usize, self.offsets[o + 1] as usize);
        &self.items[a..b]
    }

    /// Order `o` truncated to its first [`MAX_ITEMS_PER_ORDER`] items: what
    /// pair counting sees.
    ///
    /// # Panics
    /// Panics if `o >= self.len()`.
    #[inline]
    pub fn pair_items(&self, o: usize) -> &[u32] {
        let order = self.order(o);
        &order[..order.len().min(MAX_ITEMS_PER_ORDER)]
    }

    /// The events of the lines of order `o`, parallel to
    /// [`order`](Self::order); `None` when the log has no events (every
    /// line is then a purchase).
    ///
    /// # Panics
    /// Panics if `o >= self.len()`.
    #[inline]
    pub fn events(&self, o: usize) -> Option<&[Event]> {
        if self.events.is_empty() {
            None
        } else {
            Some(&self.events[self.line_range(o)])
        }
    }

    /// Whether any line carries an event other than a purchase.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Where order `o`'s lines are in the flat line array (`0..n_lines()`).
    ///
    /// # Panics
    /// Panics if `o >= self.len()`.
    #[inline]
    pub(crate) fn line_range(&self, o: usize) -> Range<usize> {
        self.offsets[o] as usize..self.offsets[o + 1] as usize
    }

    /// The id of order `o`, as read.
    ///
    /// # Panics
    /// Panics if `o >= self.len()`.
    pub fn order_id(&self, o: usize) -> &str {
        let start = if o == 0 { 0 } else { self.order_id_ends[o - 1] };
        &self.order_id_bytes[start..self.order_id_ends[o]]
    }

    /// The timestamp of order `o` (the first non-empty one among its
    /// lines), verbatim, if the input had one.
    pub fn timestamp(&self, o: usize) -> Option<&str> {
        self.timestamps
            .get(o)
            .map(|t| &**t)
            .filter(|t| !t.is_empty())
    }

    /// The SKU of an item id.
    ///
    /// # Panics
    /// Panics if `item >= self.n_items()`.
    #[inline]
    pub fn sku(&self, item: u32) -> &str {
        &self.skus[item as usize]
    }

    /// The item id of a SKU, if it appears in the log. Runs in O(|sku|).
    pub fn item(&self, sku: &str) -> Option<u32> {
        self.sku_index.get(sku).copied()
    }

    /// All SKUs, indexed by item id.
    pub fn skus(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.skus.iter().map(|s| &**s)
    }

    /// Item ids sorted by SKU in byte order (the order a catalog assigns
    /// product ids in). Costs O(n log n) string comparisons.
    pub fn items_by_sku(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.skus.len() as u32).collect();
        v.sort_unstable_by(|&a, &b| {
            self.skus[a as usize]
                .as_bytes()
                .cmp(self.skus[b as usize].as_bytes())
        });
        v
    }

    /// For each item id, its rank in SKU byte order (the inverse of
    /// [`items_by_sku`](Self::items_by_sku)): comparing ranks compares SKUs.
    pub fn sku_ranks(&self) -> Vec<u32> {
        let by_sku = self.items_by_sku();
        let mut rank = vec![0u32; by_sku.len()];
        for (r, &item) in by_sku.iter().enumerate() {
            rank[item as usize] = r as u32;
        }
        rank
    }

    /// What was read, dropped and truncated.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// All orders as a view.
    pub fn view(&self) -> OrdersView<'_> {
        OrdersView {
            log: self,
            start: 0,
            end: self.len(),
        }
    }

    /// Orders `range` as a view (for a train/test split).
    ///
    /// # Panics
    /// Panics if the range is out of bounds or decreasing.
    pub fn slice(&self, range: Range<usize>) -> OrdersView<'_> {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "order range out of bounds"
        );
        OrdersView {
            log: self,
            start: range.start,
            end: range.end,
        }
    }

    /// Iterates over the orders, as in [`order`](Self::order).
    pub fn orders(&self) -> Orders<'_> {
        self.view().iter()
    }
}

/// A contiguous range of the orders of an [`OrderLog`], e.g. the training
/// part of a split. Indexes are relative to the view; items and SKUs are the
/// log's.
#[derive(Clone, Copy, Debug)]
pub struct OrdersView<'a> {
    log: &'a OrderLog,
    start: usize,
    end: usize,
}

impl<'a> OrdersView<'a> {
    /// The log this view reads.
    pub fn log(&self) -> &'a OrderLog {
        self.log
    }

    /// The number of orders in the view.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the view holds no order.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The number of items of the whole log (ids are `0..n_items()`; some
    /// may not occur in this view).
    pub fn n_items(&self) -> usize {
        self.log.n_items()
    }

    /// Order `i` of the view.
    ///
    /// # Panics
    /// Panics if `i >= self.len()`.
    pub fn order(&self, i: usize) -> &'a [u32] {
        assert!(i < self.len(), "order index out of view");
        self.log.order(self.start + i)
    }

    /// Order `i` of the view, truncated for pair counting (see
    /// [`OrderLog::pair_items`]).
    ///
    /// # Panics
    /// Panics if `i >= self.len()`.
    pub fn pair_items(&self, i: usize) -> &'a [u32] {
        assert!(i < self.len(), "order index out of view");
        self.log.pair_items(self.start + i)
    }

    /// The index of order `i` of the view in its log.
    pub fn log_index(&self, i: usize) -> usize {
        self.start + i
    }

    /// The number of distinct lines of the view's orders (the sum of their
    /// sizes).
    pub fn n_lines(&self) -> usize {
        self.log.offsets[self.end] as usize - self.log.offsets[self.start] as usize
    }

    /// Where order `i`'s lines are among the view's lines
    /// (`0..n_lines()`), for arrays parallel to them.
    ///
    /// # Panics
    /// Panics if `i >= self.len()`.
    #[inline]
    pub(crate) fn line_range(&self, i: usize) -> Range<usize> {
        let base = self.log.offsets[self.start] as usize;
        let r = self.log.line_range(self.start + i);
        r.start - base..r.end - base
    }

    /// Iterates over the orders of the view.
    pub fn iter(&self) -> Orders<'a> {
        Orders {
            log: self.log,
            next: self.start,
            end: self.end,
        }
    }

    /// Iterates over the orders of the view truncated for pair counting.
    pub fn pair_orders(&self) -> impl ExactSizeIterator<Item = &'a [u32]> + 'a {
        let log = self.log;
        (self.start..self.end).map(move |o| log.pair_items(o))
    }

    /// The number of orders of the view that contain each item (item
    /// popularity), indexed by item id.
    pub fn item_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.n_items()];
        for order in self.iter() {
            for &i in order {
                c[i as usize] += 1;
            }
        }
        c
    }

    /// Splits the view in `(first n orders, the rest)`.
    ///
    /// # Panics
    /// Panics if `n > self.len()`.
    pub fn split_at(&self, n: usize) -> (OrdersView<'a>, OrdersView<'a>) {
        assert!(n <= self.len(), "split point out of view");
        let mid = self.start + n;
        (
            OrdersView {
                log: self.log,
                start: self.start,
                end: mid,
            },
            OrdersView {
                log: self.log,
                start: mid,
                end: self.end,
            },
        )
    }
}

/// Iterator over orders, from [`OrderLog::orders`] or [`OrdersView::iter`].
#[derive(Clone, Debug)]
pub struct Orders<'a> {
    log: &'a OrderLog,
    next: usize,
    end: usize,
}

impl<'a> Iterator for Orders<'a> {
    type Item = &'a [u32];

    fn next(&mut self) -> Option<&'a [u32]> {
        if self.next < self.end {
            let o = self.log.order(self.next);
            self.next += 1;
            Some(o)
        } else {
            None
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Orders<'_> {}

/// Builds an [`OrderLog`] row by row.
///
/// ```
/// use cartwise::OrderLogBuilder;
/// let mut b = OrderLogBuilder::new();
/// b.push("o1", "tent")?.push("o2", "stove")?.push("o1", "stakes")?;
/// let log = b.build()?;
/// assert_eq!(log.len(), 2);
/// assert_eq!(log.order(0).len(), 2); // the lines of o1 need not be contiguous
/// # Ok::<(), cartwise::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct OrderLogBuilder {
    skus: Vec<Box<str>>,
    sku_index: AHashMap<Box<str>, u32>,
    order_index: AHashMap<Box<str>, u32>,
    order_id_bytes: String,
    order_id_ends: Vec<usize>,
    timestamps: Vec<Box<str>>,
    any_timestamp: bool,
    /// `(order index, item)` per accepted row, in row order.
    lines: Vec<(u32, u32)>,
    /// Event per accepted row, parallel to `lines` once `any_event`; empty
    /// until the first row that is not a purchase (earlier rows are
    /// purchases).
    events: Vec<Event>,
    /// Whether a row that is not a purchase was pushed.
    any_event: bool,
    /// Cap on distinct SKUs; `None` = [`DEFAULT_MAX_ITEMS`].
    max_items: Option<usize>,
    report: LoadReport,
}

impl OrderLogBuilder {
    /// An empty builder that accepts up to [`DEFAULT_MAX_ITEMS`] distinct
    /// SKUs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the cap on distinct SKUs: pushing a row with one SKU more is an
    /// [`Error::CapExceeded`]. Values above [`MAX_ITEMS`] act as
    /// [`MAX_ITEMS`]. Default [`DEFAULT_MAX_ITEMS`].
    pub fn max_items(&mut self, cap: usize) -> &mut Self {
        self.max_items = Some(cap);
        self
    }

    /// Adds one order line.
    ///
    /// # Errors
    /// [`Error::EmptyOrderField`] for an empty SKU or order id (the row
    /// number is the count of rows pushed so far, from 1);
    /// [`Error::CapExceeded`] past [`MAX_LINES`], the distinct-SKU cap
    /// ([`max_items`](Self::max_items)) or [`MAX_ORDERS`]. The builder is
    /// unchanged by a failed push.
    pub fn push(&mut self, order_id: &str, sku: &str) -> Result<&mut Self> {
        self.push_event(order_id, sku, None, Event::Purchase)
    }

    /// Adds one order line with an optional timestamp (kept verbatim; the
    /// order keeps the first non-empty one met).
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_line(
        &mut self,
        order_id: &str,
        sku: &str,
        timestamp: Option<&str>,
    ) -> Result<&mut Self> {
        self.push_event(order_id, sku, timestamp, Event::Purchase)
    }

    /// Adds one order line with an optional timestamp and an event.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_event(
        &mut self,
        order_id: &str,
        sku: &str,
        timestamp: Option<&str>,
        event: Event,
    ) -> Result<&mut Self> {
        let row = self.report.rows + 1;
        for (field, value) in [("order_id", order_id), ("sku", sku)] {
            if value.is_empty() {
                return Err(Error::EmptyOrderField {
                    row,
                    field,
                    order_id: order_id.to_owned(),
                });
            }
        }
        if self.lines.len() >= MAX_LINES {
            return Err(cap("order lines", MAX_LINES, self.lines.len() + 1));
        }
        let item = match self.sku_index.get(sku) {
            Some(&i) => i,
            None => {
                let max_items = self.max_items.unwrap_or(DEFAULT_MAX_ITEMS).min(MAX_ITEMS);
                if self.skus.len() >= max_items {
                    return Err(cap("distinct SKUs", max_items, self.skus.len() + 1));
                }
                let i = self.skus.len() as u32;
                self.skus.push(sku.into());
                self.sku_index.insert(sku.into(), i);
                i
            }
        };
        let order = match self.order_index.get(order_id) {
            Some(&o) => o,
            None => {
                if self.order_id_ends.len() >= MAX_ORDERS {
                    return Err(cap("orders", MAX_ORDERS, self.order_id_ends.len() + 1));
                }
                let o = self.order_id_ends.len() as u32;
                self.order_index.insert(order_id.into(), o);
                self.order_id_bytes.push_str(order_id);
                self.order_id_ends.push(self.order_id_bytes.len());
                self.timestamps.push(Box::from(""));
                o
            }
        };
        if let Some(t) = timestamp.filter(|t| !t.is_empty()) {
            let slot = &mut self.timestamps[order as usize];
            if slot.is_empty() {
                *slot = t.into();
                self.any_timestamp = true;
            }
        }
        if event != Event::Purchase && !self.any_event {
            self.any_event = true;
            self.events.reserve(self.lines.capacity());
            self.events.resize(self.lines.len(), Event::Purchase);
        }
        if self.any_event {
            self.events.push(event);
        }
        self.lines.push((order, item));
        self.report.rows = row;
        Ok(self)
    }

    /// The number of rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.report.rows
    }

    /// Builds the log: groups the lines by order (stable, so first
    /// appearance is kept), drops repeated SKUs inside an order, and counts
    /// the orders past [`MAX_ITEMS_PER_ORDER`]. Runs in O(lines + items).
    ///
    /// # Errors
    /// [`Error::EmptyOrders`] when no row was pushed.
    pub fn build(self) -> Result<OrderLog> {
        let n_orders = self.order_id_ends.len();
        if n_orders == 0 {
            return Err(Error::EmptyOrders);
        }
        let mut report = self.report;
        // Counting sort of the lines by order, stable.
        let mut start = vec![0u32; n_orders + 1];
        for &(o, _) in &self.lines {
            start[o as usize + 1] += 1;
        }
        for o in 0..n_orders {
            start[o + 1] += start[o];
        }
        let mut grouped = vec![0u32; self.lines.len()];
        let with_events = self.any_event;
        let mut events = vec![Event::Purchase; if with_events { self.lines.len() } else { 0 }];
        let mut fill = start.clone();
        for (row, &(o, item)) in self.lines.iter().enumerate() {
            let slot = &mut fill[o as usize];
            grouped[*slot as usize] = item;
            if with_events {
                events[*slot as usize] = self.events[row];
            }
            *slot += 1;
        }
        drop(self.lines);
        drop(self.events);
        // Drop repeated items inside each order, compacting in place. `mark`
        // holds the last order each item was seen in; with events, `pos`
        // holds where the item was kept in it, so that a repeat with a
        // stronger event can upgrade the kept line.
        let mut mark = vec![u32::MAX; self.skus.len()];
        let mut pos = vec![0u32; if with_events { self.skus.len() } else { 0 }];
        let mut offsets = Vec::with_capacity(n_orders + 1);
        offsets.push(0u32);
        let mut write = 0usize;
        for o in 0..n_orders {
            let order_start = write;
            for read in start[o] as usize..start[o + 1] as usize {
                let item = grouped[read];
                if mark[item as usize] == o as u32 {
                    report.duplicate_lines += 1;
                    if with_events {
                        let kept = pos[item as usize] as usize;
                        events[kept] = events[kept].min(events[read]);
                    }
                } else {
                    mark[item as usize] = o as u32;
                    grouped[write] = item;
                    if with_events {
                        events[write] = events[read];
                        // `write < lines.len() <= MAX_LINES = u32::MAX`: fits.
                        pos[item as usize] = write as u32;
                    }
                    write += 1;
                }
            }
            if write - order_start > MAX_ITEMS_PER_ORDER {
                report.truncated_orders += 1;
            }
            // `write <= lines.len() <= MAX_LINES = u32::MAX`: fits.
            offsets.push(write as u32);
        }
        grouped.truncate(write);
        grouped.shrink_to_fit();
        events.truncate(write);
        events.shrink_to_fit();
        let timestamps = if self.any_timestamp {
            self.timestamps
        } else {
            Vec::new()
        };
        Ok(OrderLog {
            offsets,
            items: grouped,
            skus: self.skus,
            sku_index: self.sku_index,
            order_id_bytes: self.order_id_bytes,
            order_id_ends: self.order_id_ends,
            timestamps,
            events,
            report,
        })
    }
}

fn cap(what: &'static str, cap: usize, got: usize) -> Error {
    Error::CapExceeded {
        what,
        cap: cap as u64,
        got: got as u64,
    }
}

#[cfg(feature = "csv")]
mod csv_reader {
    use super::*;
    use std::io::Read;
    use std::path::Path;

    impl OrderLog {
        /// Reads an order log from a CSV file with the default options
        /// (stop at the first malformed row). See
        /// [`from_csv_reader`](Self::from_csv_reader) for the format.
        ///
        /// # Errors
        /// [`Error::Io`] with the path when the file cannot be opened or
        /// read, and everything [`from_csv_reader`](Self::from_csv_reader)
        /// returns.
        pub fn from_csv_path(path: impl AsRef<Path>) -> Result<OrderLog> {
            Self::from_csv_path_with(path, &ReadOptions::default())
        }

        /// Reads an order log from a CSV file with options.
        ///
        /// # Errors
        /// As [`from_csv_path`](Self::from_csv_path).
        pub fn from_csv_path_with(
            path: impl AsRef<Path>,
            options: &ReadOptions,
        ) -> Result<OrderLog> {
            let path = path.as_ref();
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            Self::from_csv_reader(std::io::BufReader::with_capacity(1 << 16, file), options)
                .map_err(|e| match e {
                    Error::Io { path: p, source } if p.is_empty() => Error::io(path, source),
                    other => other,
                })
        }

        /// Reads an order log from CSV text.
        ///
        /// The format is that of the shared datasets: UTF-8, comma
        /// separated, `"`-quoted as RFC 4180, a header row, one row per
        /// order line. The columns `order_id` and `sku` are required and
        /// located by name (any position); `timestamp` is optional and kept
        /// per order; `event` is optional and kept per line (see
        /// [`Event::parse`] for the values; empty is a purchase); other
        /// columns (`name`, `quantity`, `unit_price`, `customer_id`, ...)
        /// are ignored and not validated. A UTF-8 byte order mark before the
        /// header is ignored.
        ///
        /// A row is malformed when its number of fields differs from the
        /// header's, a used field is not UTF-8, or its `event` is not one
        /// [`Event::parse`] knows; a row with an empty `order_id` or `sku`
        /// is rejected too. Under
        /// [`OnMalformed::Error`] the first such row stops the read; under
        /// [`OnMalformed::Skip`] these rows are skipped and counted in the
        /// log's [`LoadReport`].
        ///
        /// # Errors
        /// * [`Error::MissingColumn`] when the header has no `order_id` or
        ///   no `sku` column;
        /// * [`Error::Csv`] with the 1-based line (the header is line 1) of
        ///   a malformed or empty-field row, under [`OnMalformed::Error`];
        /// * [`Error::EmptyOrders`] when no row is left;
        /// * [`Error::Io`] (path empty) on a read error;
        /// * [`Error::CapExceeded`] past the documented caps, among them
        ///   [`ReadOptions::max_items`] distinct SKUs.
        ///
        /// ```
        /// use cartwise::{OrderLog, ReadOptions};
        /// let csv = "order_id,sku,quantity\n1,bread,2\n1,jam,1\n2,bread,1\n";
        /// let log = OrderLog::from_csv_reader(csv.as_bytes(), &ReadOptions::new())?;
        /// assert_eq!((log.len(), log.n_items()), (2, 2));
        /// # Ok::<(), cartwise::Error>(())
        /// ```
        pub fn from_csv_reader<R: Read>(reader: R, options: &ReadOptions) -> Result<OrderLog> {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(reader);
            let mut record = csv::ByteRecord::new();
            let header = match rdr.read_byte_record(&mut record) {
                Ok(true) => record.clone(),
                Ok(false) => return Err(Error::EmptyOrders),
                Err(e) => return Err(csv_error(e, 1)),
            };
            let names: Vec<String> = header
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let f = if i == 0 {
                        f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
                    } else {
                        f
                    };
                    String::from_utf8_lossy(f).into_owned()
                })
                .collect();
            let find = |column: &'static str| {
                names
                    .iter()
                    .position(|n| n == column)
                    .ok_or_else(|| Error::MissingColumn {
                        column,
                        found: names.clone(),
                    })
            };
            let col_order = find("order_id")?;
            let col_sku = find("sku")?;
            let col_time = names.iter().position(|n| n == "timestamp");
            let col_event = names.iter().position(|n| n == "event");
            let width = names.len();

            let mut b = OrderLogBuilder::new();
            b.max_items(options.max_items);
            let skip = options.on_malformed == OnMalformed::Skip;
            loop {
                let line_hint = rdr.position().line();
                match rdr.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(csv_error(e, line_hint)),
                }
                let line = record.position().map_or(line_hint, |p| p.line());
                let problem = if record.len() != width {
                    Some((
                        false,
                        format!(
                            "expected {width} fields as in the header, found {}",
                            record.len()
                        ),
                    ))
                } else {
                    match (field_str(&record, col_order), field_str(&record, col_sku)) {
                        (Some(o), Some(s)) if !o.is_empty() && !s.is_empty() => {
                            let t = col_time.and_then(|c| field_str(&record, c));
                            match col_event.map(|c| field_str(&record, c).and_then(Event::parse)) {
                                None => {
                                    b.push_line(o, s, t)?;
                                    None
                                }
                                Some(Some(event)) => {
                                    b.push_event(o, s, t, event)?;
                                    None
                                }
                                Some(None) => Some((
                                    false,
                                    format!(
                                        "unknown event {:?}; expected purchase, cart or view",
                                        String::from_utf8_lossy(
                                            col_event.and_then(|c| record.get(c)).unwrap_or(b"")
                                        )
                                    ),
                                )),
                            }
                        }
                        (Some(o), Some(_)) => {
                            let field = if o.is_empty() { "order_id" } else { "sku" };
                            Some((true, format!("empty {field} (order_id {o:?})")))
                        }
                        _ => Some((false, "order_id or sku is not valid UTF-8".to_owned())),
                    }
                };
                if let Some((empty, message)) = problem {
                    if !skip {
                        return Err(Error::Csv { line, message });
                    }
                    b.report.rows += 1;
                    if empty {
                        b.report.skipped_empty += 1;
                    } else {
                        b.report.skipped_malformed += 1;
                    }
                    b.report.first_skipped_line.get_or_insert(line);
                }
            }
            b.build()
        }
    }

    fn field_str(record: &csv::ByteRecord, i: usize) -> Option<&str> {
        record.get(i).and_then(|f| std::str::from_utf8(f).ok())
    }

    fn csv_error(e: csv::Error, line_hint: u64) -> Error {
        let line = e.position().map_or(line_hint, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                path: String::new(),
                source,
            },
            kind => Error::Csv {
                line,
                message: format!("{kind:?}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_and_first_appearance() {
        let log = OrderLog::from_rows([
            ("b", "x"),
            ("a", "y"),
            ("b", "y"),
            ("a", "y"),
            ("b", "x"),
            ("c", "z"),
        ])
        .unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log.n_items(), 3);
        assert_eq!(log.order_id(0), "b");
        assert_eq!(log.order_id(1), "a");
        assert_eq!(log.order_id(2), "c");
        assert_eq!(log.order(0), &[0, 1]);
        assert_eq!(log.order(1), &[1]);
        assert_eq!(log.order(2), &[2]);
        assert_eq!(log.report().duplicate_lines, 2);
        assert_eq!(log.item("z"), Some(2));
        assert_eq!(log.item("w"), None);
        assert_eq!(log.timestamp(0), None);
        assert_eq!(log.n_lines(), 4);
    }

    #[test]
    fn empty_log_is_an_error() {
        let rows: [(&str, &str); 0] = [];
        assert!(matches!(OrderLog::from_rows(rows), Err(Error::EmptyOrders)));
    }

    #[test]
    fn empty_sku_in_rows_names_the_row() {
        let e = OrderLog::from_rows([("1", "a"), ("1", "")]).unwrap_err();
        match e {
            Error::EmptyOrderField {
                row,
                field,
                order_id,
            } => {
                assert_eq!((row, field, order_id.as_str()), (2, "sku", "1"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn sku_ranks_follow_byte_order() {
        let log = OrderLog::from_rows([("1", "b"), ("1", "a"), ("2", "B"), ("2", "é")]).unwrap();
        // items: b=0, a=1, B=2, é=3; byte order: B < a < b < é
        assert_eq!(log.items_by_sku(), vec![2, 1, 0, 3]);
        assert_eq!(log.sku_ranks(), vec![2, 1, 0, 3]);
    }

    #[test]
    fn huge_order_is_truncated_for_pairs_only() {
        let skus: Vec<String> = (0..MAX_ITEMS_PER_ORDER + 3)
            .map(|i| format!("s{i}"))
            .collect();
        let log = OrderLog::from_rows(
            skus.iter()
                .map(|s| ("big", s.as_str()))
                .chain([("small", "s0")]),
        )
        .unwrap();
        assert_eq!(log.order(0).len(), MAX_ITEMS_PER_ORDER + 3);
        assert_eq!(log.pair_items(0).len(), MAX_ITEMS_PER_ORDER);
        assert_eq!(log.pair_items(1).len(), 1);
        assert_eq!(log.report().truncated_orders, 1);
    }

    #[test]
    fn distinct_sku_cap_is_a_clear_error() {
        let mut b = OrderLogBuilder::new();
        b.max_items(3);
        for sku in ["a", "b", "c", "a"] {
            b.push("1", sku).unwrap();
        }
        match b.push("2", "d").unwrap_err() {
            Error::CapExceeded { what, cap, got } => {
                assert_eq!((what, cap, got), ("distinct SKUs", 3, 4));
            }
            other => panic!("unexpected {other:?}"),
        }
        // Known SKUs still go in, and the failed push changed nothing.
        b.push("2", "b").unwrap();
        let log = b.build().unwrap();
        assert_eq!((log.len(), log.n_items(), log.n_lines()), (2, 3, 4));
    }

    #[test]
    fn repeated_sku_keeps_the_strongest_event() {
        let mut b = OrderLogBuilder::new();
        b.push_event("1", "a", None, Event::View).unwrap();
        b.push_event("1", "b", None, Event::Cart).unwrap();
        b.push_event("1", "a", None, Event::Purchase).unwrap();
        b.push_event("1", "b", None, Event::View).unwrap();
        b.push_event("2", "c", None, Event::Purchase).unwrap();
        let log = b.build().unwrap();
        assert!(log.has_events());
        assert_eq!(log.order(0), &[0, 1]);
        assert_eq!(log.events(0), Some(&[Event::Purchase, Event::Cart][..]));
        assert_eq!(log.events(1), Some(&[Event::Purchase][..]));
        assert_eq!(log.report().duplicate_lines, 2);
    }

    #[test]
    fn purchases_only_store_no_events() {
        let mut b = OrderLogBuilder::new();
        b.push_event("1", "a", None, Event::Purchase).unwrap();
        let log = b.build().unwrap();
        assert!(!log.has_events());
        assert_eq!(log.events(0), None);
    }

    #[test]
    fn event_names() {
        for (text, e) in [
            ("purchase", Event::Purchase),
            ("Transaction", Event::Purchase),
            ("add-to-cart", Event::Cart),
            ("ADDTOCART", Event::Cart),
            ("click", Event::View),
            ("pageview", Event::View),
        ] {
            assert_eq!(Event::parse(text), Some(e), "{text}");
        }
        assert_eq!(Event::parse(" view"), None);
        assert_eq!(Event::View.name(), "view");
    }

    #[test]
    fn views_split_and_count() {
        let log = OrderLog::from_rows([("1", "a"), ("1", "b"), ("2", "a"), ("3", "c")]).unwrap();
        let (train, test) = log.view().split_at(2);
        assert_eq!((train.len(), test.len()), (2, 1));
        assert_eq!(train.item_counts(), vec![2, 1, 0]);
        assert_eq!(test.order(0), &[2]);
        assert_eq!(
            log.slice(1..3).iter().collect::<Vec<_>>(),
            vec![&[0u32][..], &[2u32][..]]
        );
    }

    #[cfg(feature = "csv")]
    mod csv {
        use super::*;

        fn read(text: &str, policy: OnMalformed) -> Result<OrderLog> {
            let mut opts = ReadOptions::new();
            opts.on_malformed(policy);
            OrderLog::from_csv_reader(text.as_bytes(), &opts)
        }

        #[test]
        fn columns_located_by_name_and_timestamps_kept() {
            let text =
                "\u{feff}timestamp,sku,name,order_id\nT1,a,\"x, y\",o1\n,b,n,o2\nT2,c,n,o1\n";
            let log = read(text, OnMalformed::Error).unwrap();
            assert_eq!(log.len(), 2);
            assert_eq!(log.order(0), &[0, 2]);
            assert_eq!(log.timestamp(0), Some("T1"));
            assert_eq!(log.timestamp(1), None);
        }

        #[test]
        fn missing_sku_column() {
            match read("order_id,item\n1,a\n", OnMalformed::Error).unwrap_err() {
                Error::MissingColumn { column, found } => {
                    assert_eq!(column, "sku");
                    assert_eq!(found, vec!["order_id".to_owned(), "item".to_owned()]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        #[test]
        fn too_few_fields_names_the_line() {
            match read("order_id,sku,quantity\n1,a,1\n2,b\n", OnMalformed::Error).unwrap_err() {
                Error::Csv { line, message } => {
                    assert_eq!(line, 3);
                    assert!(message.contains("expected 3 fields"), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        #[test]
        fn empty_sku_names_the_line() {
            match read("order_id,sku\n1,a\n1,\n", OnMalformed::Error).unwrap_err() {
                Error::Csv { line, message } => {
                    assert_eq!(line, 3);
                    assert!(message.contains("empty sku"), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        #[test]
        fn skip_and_count() {
            let log = read(
                "order_id,sku\n1,a\n2\n1,\n\"2\",\"b\"\n3,c,extra\n",
                OnMalformed::Skip,
            )
            .unwrap();
            assert_eq!(log.len(), 2);
            let r = log.report();
            assert_eq!((r.rows, r.skipped_malformed, r.skipped_empty), (5, 2, 1));
            assert_eq!(r.first_skipped_line, Some(3));
        }

        #[test]
        fn event_column_is_read_per_line() {
            let text = "order_id,sku,event\n1,a,view\n1,b,\n2,a,cart\n2,a,purchase\n";
            let log = read(text, OnMalformed::Error).unwrap();
            assert_eq!(log.events(0), Some(&[Event::View, Event::Purchase][..]));
            assert_eq!(log.events(1), Some(&[Event::Purchase][..]));
        }

        #[test]
        fn unknown_event_is_malformed() {
            match read(
                "order_id,sku,event\n1,a,view\n1,b,refund\n",
                OnMalformed::Error,
            )
            .unwrap_err()
            {
                Error::Csv { line, message } => {
                    assert_eq!(line, 3);
                    assert!(message.contains(r#"unknown event "refund""#), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
            let log = read(
                "order_id,sku,event\n1,a,view\n1,b,refund\n",
                OnMalformed::Skip,
            )
            .unwrap();
            assert_eq!(log.report().skipped_malformed, 1);
        }

        #[test]
        fn distinct_sku_cap_from_read_options() {
            let mut opts = ReadOptions::new();
            opts.max_items(2);
            let e =
                OrderLog::from_csv_reader("order_id,sku\n1,a\n1,b\n2,a\n2,c\n".as_bytes(), &opts)
                    .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::CapExceeded {
                        what: "distinct SKUs",
                        cap: 2,
                        got: 3
                    }
                ),
                "{e:?}"
            );
            assert_eq!(ReadOptions::new().max_items, DEFAULT_MAX_ITEMS);
        }

        #[test]
        fn header_only_is_empty() {
            assert!(matches!(
                read("order_id,sku\n", OnMalformed::Error),
                Err(Error::EmptyOrders)
            ));
            assert!(matches!(
                read("", OnMalformed::Error),
                Err(Error::EmptyOrders)
            ));
        }

        #[test]
        fn invalid_utf8_is_malformed() {
            let mut bytes = b"order_id,sku\n1,a\n2,".to_vec();
            bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
            let e = OrderLog::from_csv_reader(&bytes[..], &ReadOptions::new()).unwrap_err();
            assert!(matches!(e, Error::Csv { line: 3, .. }), "{e:?}");
        }

        #[test]
        fn missing_file_names_the_path() {
            match OrderLog::from_csv_path("/nonexistent/cartwise/orders.csv").unwrap_err() {
                Error::Io { path, .. } => assert!(path.ends_with("orders.csv")),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
