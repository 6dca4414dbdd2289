//! Mining association rules from order history into a complement graph.
//!
//! A [`Miner`] counts, over a set of orders, how often each item and each
//! pair of items is bought, and turns the counts into directed rules
//! `A -> B` ("whoever buys A may want B"), each with the classic interest
//! measures. It keeps the rules that pass the thresholds, at most the
//! [`top`](Miner::top) strongest per item, and returns a [`MinedGraph`]
//! keyed by SKU: it needs no catalog, can be saved as JSON
//! ([`MinedGraph::to_json`]) and loaded at a shop's start-up
//! ([`MinedGraph::from_json_str`], [`MinedGraph::to_graph`]). Optionally it
//! also mines itemset rules with two-item antecedents, `{A, B} -> C`.
//!
//! ```
//! use cartwise::{Measure, Miner, OrderLog};
//! let log = OrderLog::from_rows([
//!     ("1", "pasta"), ("1", "parmesan"),
//!     ("2", "pasta"), ("2", "parmesan"), ("2", "wine"),
//!     ("3", "pasta"), ("3", "tomatoes"),
//!     ("4", "wine"),
//! ])?;
//! let mined = Miner::new().measure(Measure::Lift).mine(log.view())?;
//! let m = mined.measures("pasta", "parmesan").unwrap();
//! assert_eq!(m.confidence, 2.0 / 3.0);      // 2 of the 3 pasta orders
//! assert_eq!(m.lift, (2.0 / 3.0) / (2.0 / 4.0));
//! # Ok::<(), cartwise::Error>(())
//! ```
//!
//! # The measures
//!
//! With `n` orders, `c(A)` the orders holding A and `c(A, B)` those holding
//! both, the rule `A -> B` has ([`Measures`]):
//!
//! | measure | formula | range | source |
//! |---|---|---|---|
//! | support | `c(A,B) / n` | `[0, 1]` | Agrawal, Imieliński, Swami 1993 |
//! | confidence | `c(A,B) / c(A)` | `[0, 1]` | Agrawal, Imieliński, Swami 1993 |
//! | lift | `confidence / (c(B) / n)` | `[0, ∞)`, 1 = independent | Brin, Motwani, Ullman, Tsur 1997 ("interest") |
//! | leverage | `support − (c(A)/n)·(c(B)/n)` | `[−0.25, 0.25]`, 0 = independent | Piatetsky-Shapiro 1991 |
//! | conviction | `(1 − c(B)/n) / (1 − confidence)` | `[0, ∞]`, 1 = independent | Brin, Motwani, Ullman, Tsur 1997 |
//! | Jaccard | `c(A,B) / (c(A) + c(B) − c(A,B))` | `[0, 1]` | Jaccard 1901; symmetric |
//!
//! References: R. Agrawal, T. Imieliński, A. Swami, "Mining association
//! rules between sets of items in large databases", SIGMOD 1993;
//! S. Brin, R. Motwani, J. Ullman, S. Tsur, "Dynamic itemset counting and
//! implication rules for market basket data", SIGMOD 1997;
//! G. Piatetsky-Shapiro, "Discovery, analysis, and presentation of strong
//! rules", in Knowledge Discovery in Databases, AAAI/MIT Press 1991.
//!
//! Conviction is infinite when confidence is 1 (B was in every order that
//! held A). [`Measures::conviction`] says so (`f64::INFINITY`); as an edge
//! weight it is capped at [`Miner::conviction_cap`]
//! ([`DEFAULT_CONVICTION_CAP`]), and so is any finite conviction above the
//! cap (they then tie, and ties break by SKU). When B is in every order,
//! `1 − c(B)/n = 0` and conviction is `0/0`; it is taken as 1,
//! independence, which is what lift says then too.
//!
//! One of the measures becomes the edge weight ([`Miner::measure`], default
//! [`Measure::Confidence`]). Rules whose weight is not positive are dropped:
//! under [`Measure::Leverage`] those are the rules of items bought together
//! no more often than chance.
//!
//! For an itemset rule `{A, B} -> C`, the antecedent's count is `c(A, B)`
//! and the rule's count is `c(A, B, C)`; the formulas are the same.
//!
//! # Thresholds and top-N
//!
//! A rule is kept when its count is at least [`min_count`](Miner::min_count)
//! (default 0: every pair seen at all), its support at least [`min_support`](Miner::min_support)
//! (default 0) and its confidence at least
//! [`min_confidence`](Miner::min_confidence) (default 0); then each item
//! keeps its [`top`](Miner::top) ([`DEFAULT_TOP`]) strongest out-rules by
//! weight, ties by the consequent's SKU. Itemset rules need a count of at
//! least [`itemset_min_count`](Miner::itemset_min_count) too
//! ([`DEFAULT_ITEMSET_MIN_COUNT`]), and each antecedent pair keeps its
//! [`itemset_top`](Miner::itemset_top) ([`DEFAULT_ITEMSET_TOP`])
//! strongest. Those defaults are stricter because there are far more
//! pairs than items: on `retail_fimi` a minimum count of 2 and 50 rules
//! per pair gave 6.0 million itemset rules (160 MB of JSON), the defaults
//! 434,000 (29 MB).
//!
//! # Counting, time and memory
//!
//! Pairs are counted by [`CoCounts`] on [`threads`](Miner::threads)
//! threads (default [`cooc::default_threads`]): 16 bytes per distinct
//! co-occurring pair (8 per direction: a `u32` neighbour and a `u32` count,
//! or an `f32` weighted count), plus 4 bytes per order line for the
//! inverted index and 12 to 16 bytes per item per thread while counting.
//! The rule pass (measures, thresholds, top N per item) runs on the same
//! threads, each on whole rows, and briefly holds its kept rules twice
//! (16 bytes per kept rule) while they are joined in SKU order.
//! No dense item-by-item matrix is ever allocated. Pairs come from the
//! first [`MAX_ITEMS_PER_ORDER`](crate::MAX_ITEMS_PER_ORDER) distinct items
//! of each order, so a pathological order of 100,000 lines costs at most
//! 130,816 pair counts, not five billion; item counts `c(A)` still see the
//! whole order. Time is O(Σ m²) over orders of m (capped) items.
//!
//! The result holds per item its SKU and count, and per kept rule 16 bytes
//! (a `u32` target, an `f64` count and an `f32` weight): at most
//! `items × top` rules.
//!
//! Itemset rules count triples only inside frequent pairs: for each pair
//! `{A, B}` whose count passes the thresholds, the orders holding both are
//! found by intersecting the two items' order lists, and the third items of
//! those orders are tallied in a dense per-thread accumulator (12 bytes per
//! item) that is emptied after each pair. Only rules that pass the
//! thresholds and the pair's top-N survive, so memory is bounded by 16
//! bytes per frequent pair while mining and `frequent pairs × top` rules
//! after, never by the number of distinct triples. Time is the sum, over
//! frequent pairs, of the sizes of the orders holding both.
//!
//! # Time decay and events
//!
//! With [`Decay::HalfLife`], an order of age `t` (the newest order's
//! timestamp minus its own, from the log's `timestamp` column; never the
//! clock) weighs `0.5^(t / half_life)`: an order one half-life old counts
//! half. With [`Events::Weighted`], a line's event weighs in too
//! ([`EventWeights`]: a view 0.2 and an add-to-cart 0.5 by default, a
//! purchase 1), so "viewed this, bought that" becomes evidence; the default,
//! [`Events::PurchasesOnly`], counts purchase lines only. Then, with `w_o`
//! the order's weight and `e` a line's:
//!
//! * `c(A) = Σ_o w_o·e_oA` and `c(A, B) = Σ_o w_o·e_oA·e_oB` (and likewise
//!   for triples);
//! * `n = Σ_o w_o·max_l e_ol`: an order counts as much as its strongest
//!   line, so an order of views alone counts 0.2, and one with nothing
//!   counted does not count at all.
//!
//! Every event weight is at most 1, so the measures keep their ranges.
//! Weighted counts are summed in `f64` and stored as `f32` (see
//! [`CoCounts::count_weighted`]); the unweighted path (no decay, and a log
//! without events) keeps exact `u32` counts and its speed.
//!
//! # Progress and determinism
//!
//! [`Miner::mine_with_progress`] calls back on the calling thread with the
//! [`Phase`] and the fraction of it done. The result does not depend on the
//! thread count, the order of rows within an order, or hash-map order:
//! items are sorted by SKU, rules by consequent, and the same input gives
//! the same [`MinedGraph`] and the same JSON bytes.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use crate::catalog::{Catalog, CatalogBuilder, InMemoryCatalog};
use crate::cooc::{self, run_chunks, CoCounts, Inverted, WeightedCoCounts, Weights};
use crate::error::{Error, Result};
use crate::graph::{ComplementGraph, RawEdge};
use crate::id::ProductId;
use crate::itemset::ItemsetRules;
use crate::orders::{Event, OrdersView};
use crate::product::{Money, Product};

/// The default number of out-rules kept per item.
pub const DEFAULT_TOP: usize = 50;

/// The default number of itemset rules kept per antecedent pair.
pub const DEFAULT_ITEMSET_TOP: usize = 10;

/// The default cap on conviction as an edge weight. Conviction 100 means
/// the rule fails 100 times less often than chance predicts; above that
/// rules are treated as equally certain (and tie by SKU).
pub const DEFAULT_CONVICTION_CAP: f64 = 100.0;

/// The default minimum count of an itemset rule `{A, B} -> C` (and of its
/// antecedent pair): conditioning on a pair seen in a handful of orders
/// gives confidences that are mostly noise (a pair seen once makes a rule
/// with confidence 1 for every other item of that order).
pub const DEFAULT_ITEMSET_MIN_COUNT: f64 = 5.0;

/// The most rules a [`MinedGraph`] may hold (of each kind): offsets are
/// `u32`.
pub const MAX_RULES: usize = u32::MAX as usize - 1;

/// The default weight of an add-to-cart line under [`Events::Weighted`].
pub const DEFAULT_CART_WEIGHT: f32 = 0.5;

/// The default weight of a view line under [`Events::Weighted`].
pub const DEFAULT_VIEW_WEIGHT: f32 = 0.2;

/// An interest measure of an association rule; see the [module
/// docs](self#the-measures) for the formulas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Measure {
    /// `c(A,B) / n`.
    Support,
    /// `c(A,B) / c(A)`. The default.
    #[default]
    Confidence,
    /// `confidence / (c(B) / n)`.
    Lift,
    /// `support − (c(A)/n)·(c(B)/n)`.
    Leverage,
    /// `(1 − c(B)/n) / (1 − confidence)`, capped as a weight.
    Conviction,
    /// `c(A,B) / (c(A) + c(B) − c(A,B))`.
    Jaccard,
}

impl Measure {
    /// Every measure, in the order of the module docs' table.
    pub const ALL: [Measure; 6] = [
        Measure::Support,
        Measure::Confidence,
        Measure::Lift,
        Measure::Leverage,
        Measure::Conviction,
        Measure::Jaccard,
    ];

    /// The lowercase name, as [`FromStr`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Support => "support",
            Measure::Confidence => "confidence",
            Measure::Lift => "lift",
            Measure::Leverage => "leverage",
            Measure::Conviction => "conviction",
            Measure::Jaccard => "jaccard",
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Measure {
    type Err = Error;

    /// Parses a lowercase measure name.
    fn from_str(s: &str) -> Result<Measure> {
        Measure::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| Error::InvalidConfig {
                field: "measure",
                value: format!("{s:?}"),
                hint: "one of support, confidence, lift, leverage, conviction, jaccard",
            })
    }
}

/// All measures of one rule `X -> Y`, from its counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measures {
    /// `c(X ∪ Y)`: the orders (or order weight) holding both sides.
    pub count: f64,
    /// `c(X ∪ Y) / n`.
    pub support: f64,
    /// `c(X ∪ Y) / c(X)`.
    pub confidence: f64,
    /// `confidence / (c(Y) / n)`.
    pub lift: f64,
    /// `support − (c(X)/n)·(c(Y)/n)`; may be negative.
    pub leverage: f64,
    /// `(1 − c(Y)/n) / (1 − confidence)`: `f64::INFINITY` when confidence
    /// is 1, and 1 when `c(Y) = n`.
    pub conviction: f64,
    /// `c(X ∪ Y) / (c(X) + c(Y) − c(X ∪ Y))`.
    pub jaccard: f64,
}

impl Measures {
    /// The measures of a rule from `n` (orders), `antecedent` = `c(X)`,
    /// `consequent` = `c(Y)` and `both` = `c(X ∪ Y)`. Inputs are clamped
    /// into their consistent ranges first (`0 <= both <= c(X), c(Y) <= n`),
    /// so that rounding in weighted counts cannot push a confidence past 1;
    /// a zero denominator gives 0 (1 for conviction, see the field).
    ///
    /// ```
    /// use cartwise::Measures;
    /// // 10 orders; 4 hold A, 5 hold B, 2 hold both.
    /// let m = Measures::new(10.0, 4.0, 5.0, 2.0);
    /// assert_eq!((m.support, m.confidence, m.lift), (0.2, 0.5, 1.0));
    /// assert_eq!(m.jaccard, 2.0 / 7.0);
    /// ```
    pub fn new(n: f64, antecedent: f64, consequent: f64, both: f64) -> Measures {
        let k = Clamped::new(n, antecedent, consequent, both);
        let (support, confidence) = (k.support(), k.confidence());
        Measures {
            count: k.both,
            support,
            confidence,
            lift: k.lift(confidence),
            leverage: k.leverage(support),
            conviction: k.conviction(confidence),
            jaccard: k.jaccard(),
        }
    }

    /// The value of one measure.
    pub fn get(&self, measure: Measure) -> f64 {
        match measure {
            Measure::Support => self.support,
            Measure::Confidence => self.confidence,
            Measure::Lift => self.lift,
            Measure::Leverage => self.leverage,
            Measure::Conviction => self.conviction,
            Measure::Jaccard => self.jaccard,
        }
    }

    /// The measure as an edge weight: finite, conviction capped at
    /// `conviction_cap`, and everything at most `f32::MAX`. May be negative
    /// (leverage) or zero; the miner drops such rules.
    pub fn weight(&self, measure: Measure, conviction_cap: f64) -> f32 {
        as_weight(match measure {
            Measure::Conviction => self.conviction.min(conviction_cap),
            m => self.get(m),
        })
    }
}

/// A measure's value as an edge weight: finite (0 otherwise) and within
/// `f32`.
#[inline]
fn as_weight(v: f64) -> f32 {
    if v.is_finite() {
        v.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
    } else {
        0.0
    }
}

/// The counts of a rule clamped into their consistent ranges, and the
/// measures' formulas over them: [`Measures::new`] computes all of them,
/// the miner's row loop ([`Miner::keep`]) only the ones it needs, by the
/// same expressions and so to the same bits.
#[derive(Clone, Copy)]
struct Clamped {
    n: f64,
    a: f64,
    c: f64,
    both: f64,
    /// `c(Y) / n`.
    pc: f64,
}

/// `x / y`, or 0 for a zero denominator.
#[inline(always)]
fn ratio(x: f64, y: f64) -> f64 {
    if y > 0.0 {
        x / y
    } else {
        0.0
    }
}

impl Clamped {
    #[inline(always)]
    fn new(n: f64, antecedent: f64, consequent: f64, both: f64) -> Clamped {
        let finite = |x: f64| if x.is_finite() { x.max(0.0) } else { 0.0 };
        let n = finite(n);
        let a = finite(antecedent).min(n);
        let c = finite(consequent).min(n);
        let both = finite(both).min(a).min(c);
        Clamped {
            n,
            a,
            c,
            both,
            pc: ratio(c, n),
        }
    }

    #[inline(always)]
    fn support(&self) -> f64 {
        ratio(self.both, self.n)
    }

    #[inline(always)]
    fn confidence(&self) -> f64 {
        ratio(self.both, self.a).min(1.0)
    }

    #[inline(always)]
    fn lift(&self, confidence: f64) -> f64 {
        ratio(confidence, self.pc)
    }

    #[inline(always)]
    fn leverage(&self, support: f64) -> f64 {
        support - ratio(self.a, self.n) * self.pc
    }

    #[inline(always)]
    fn conviction(&self, confidence: f64) -> f64 {
        if self.pc >= 1.0 {
            1.0
        } else if confidence >= 1.0 {
            f64::INFINITY
        } else {
            (1.0 - self.pc) / (1.0 - confidence)
        }
    }

    #[inline(always)]
    fn jaccard(&self) -> f64 {
        ratio(self.both, self.a + self.c - self.both)
    }
}

/// How the miner weighs orders by age.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decay {
    /// Every order weighs 1. The default.
    #[default]
    None,
    /// An order of age `t` weighs `0.5^(t / half_life)`; the age is the
    /// newest mined order's timestamp minus the order's. Every order needs
    /// a timestamp ([`crate::date::unix_seconds`] lists the forms read).
    HalfLife(Duration),
}

/// The weights of non-purchase events, for [`Events::Weighted`]. A purchase
/// always weighs 1, and `view <= cart <= 1`: the order log keeps a SKU
/// repeated in an order once, with its strongest event (see
/// [`crate::orders`]), so the weights must rank events the same way.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct EventWeights {
    /// An add-to-cart line, in `[0, 1]`. Default [`DEFAULT_CART_WEIGHT`].
    pub cart: f32,
    /// A view line, in `[0, 1]`. Default [`DEFAULT_VIEW_WEIGHT`].
    pub view: f32,
}

impl Default for EventWeights {
    fn default() -> Self {
        EventWeights {
            cart: DEFAULT_CART_WEIGHT,
            view: DEFAULT_VIEW_WEIGHT,
        }
    }
}

impl EventWeights {
    /// Weights for add-to-cart and view lines, `0 <= view <= cart <= 1`
    /// (checked when mining).
    pub fn new(cart: f32, view: f32) -> Self {
        EventWeights { cart, view }
    }

    /// The weight of an event.
    pub fn of(&self, event: Event) -> f32 {
        match event {
            Event::Purchase => 1.0,
            Event::Cart => self.cart,
            Event::View => self.view,
        }
    }
}

/// Which order-log events the miner counts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Events {
    /// Purchase lines only; add-to-cart and view lines are ignored. The
    /// default.
    #[default]
    PurchasesOnly,
    /// Every line, weighted by its event.
    Weighted(EventWeights),
}

impl Events {
    /// Every line, with the default [`EventWeights`] (view 0.2, add-to-cart
    /// 0.5, purchase 1).
    pub fn weighted() -> Self {
        Events::Weighted(EventWeights::default())
    }

    pub(crate) fn weights(self) -> EventWeights {
        match self {
            Events::PurchasesOnly => EventWeights::new(0.0, 0.0),
            Events::Weighted(w) => w,
        }
    }
}

/// Whether the miner also mines itemset rules with two-item antecedents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Itemsets {
    /// Single-item rules only. The default: itemset rules cost a second
    /// pass over the frequent pairs.
    #[default]
    Skip,
    /// Also `{A, B} -> C`.
    Mine,
}

/// A stage of mining, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Order and line weights (time decay, events).
    Weighing,
    /// Item and pair counts.
    Counting,
    /// Measures, thresholds and top-N of the single-item rules.
    Rules,
    /// Itemset rules.
    Itemsets,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Weighing => "weighing",
            Phase::Counting => "counting pairs",
            Phase::Rules => "rules",
            Phase::Itemsets => "itemset rules",
        })
    }
}

/// A progress report: the phase and the fraction of it done, in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// The phase running.
    pub phase: Phase,
    /// How much of it is done, from 0 to 1, non-decreasing within a phase.
    pub fraction: f64,
}

/// Turns orders into association rules. A builder: configure with the
/// setters (each returns `&mut Self`), then [`mine`](Self::mine). See the
/// [module docs](self) for what each setting means.
///
/// ```
/// use std::time::Duration;
/// use cartwise::{Decay, Itemsets, Measure, Miner};
/// let mut miner = Miner::new();
/// miner
///     .min_count(2.0)
///     .min_confidence(0.05)
///     .top(20)
///     .measure(Measure::Lift)
///     .itemsets(Itemsets::Mine)
///     .decay(Decay::HalfLife(Duration::from_secs(90 * 86_400)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Miner {
    min_support: f64,
    min_count: f64,
    min_confidence: f64,
    top: usize,
    itemset_top: usize,
    measure: Measure,
    conviction_cap: f64,
    threads: usize,
    itemsets: Itemsets,
    itemset_min_count: f64,
    decay: Decay,
    events: Events,
}

impl Default for Miner {
    fn default() -> Self {
        Miner {
            min_support: 0.0,
            min_count: 0.0,
            min_confidence: 0.0,
            top: DEFAULT_TOP,
            itemset_top: DEFAULT_ITEMSET_TOP,
            measure: Measure::Confidence,
            conviction_cap: DEFAULT_CONVICTION_CAP,
            threads: cooc::default_threads(),
            itemsets: Itemsets::Skip,
            itemset_min_count: DEFAULT_ITEMSET_MIN_COUNT,
            decay: Decay::None,
            events: Events::PurchasesOnly,
        }
    }
}

/// The counts the rules are computed from.
pub(crate) enum Counts {
    /// Integer counts (no decay, no events).
    Plain(CoCounts),
    /// Weighted counts.
    Weighted(WeightedCoCounts),
}

impl Counts {
    fn total(&self) -> f64 {
        match self {
            Counts::Plain(c) => c.n_orders() as f64,
            Counts::Weighted(c) => c.total(),
        }
    }

    fn item(&self, i: u32) -> f64 {
        match self {
            Counts::Plain(c) => f64::from(c.count_of(i)),
            Counts::Weighted(c) => c.item_counts()[i as usize],
        }
    }

    /// Row `i`'s neighbours and a reader of their counts.
    fn row(&self, i: u32) -> (&[u32], RowCounts<'_>) {
        match self {
            Counts::Plain(c) => {
                let (t, n) = c.neighbours(i);
                (t, RowCounts::Plain(n))
            }
            Counts::Weighted(c) => {
                let (t, n) = c.neighbours(i);
                (t, RowCounts::Weighted(n))
            }
        }
    }

    fn entries(&self) -> usize {
        match self {
            Counts::Plain(c) => c.n_entries(),
            Counts::Weighted(c) => c.n_entries(),
        }
    }
}

#[derive(Clone, Copy)]
enum RowCounts<'a> {
    Plain(&'a [u32]),
    Weighted(&'a [f32]),
}

impl RowCounts<'_> {
    #[inline]
    fn get(self, k: usize) -> f64 {
        match self {
            RowCounts::Plain(c) => f64::from(c[k]),
            RowCounts::Weighted(c) => f64::from(c[k]),
        }
    }
}

/// A kept rule on its way into a row: weight, consequent rank, count.
type Kept = (f32, u32, f64);

/// The single-item rules of a chunk of rows (see [`Miner::single_rules`]):
/// each row's rule count, then its kept rules, row after row.
#[derive(Default)]
struct RulesBlock {
    lens: Vec<u32>,
    rules: Vec<Kept>,
}

impl Miner {
    /// A miner with the defaults: every rule seen at all, weighted by
    /// confidence, the [`DEFAULT_TOP`] strongest per item, no
    /// itemset rules, no decay, purchases only, on
    /// [`cooc::default_threads`] threads.
    pub fn new() -> Self {
        Self::default()
    }

    /// Minimum support of a kept rule, in `[0, 1]`. Default 0.
    pub fn min_support(&mut self, support: f64) -> &mut Self {
        self.min_support = support;
        self
    }

    /// Minimum count `c(A, B)` of a kept rule (an order weight when orders
    /// or events are weighted), `>= 0`. Default 0: every pair seen at all
    /// (a stored count is always positive), which keeps the faint evidence
    /// of old orders and views that a minimum of 1 would drop.
    pub fn min_count(&mut self, count: f64) -> &mut Self {
        self.min_count = count;
        self
    }

    /// Minimum confidence of a kept rule, in `[0, 1]`. Default 0.
    pub fn min_confidence(&mut self, confidence: f64) -> &mut Self {
        self.min_confidence = confidence;
        self
    }

    /// How many out-rules each item keeps, the strongest by weight (ties
    /// by SKU), at least 1; `usize::MAX` keeps all. Default
    /// [`DEFAULT_TOP`].
    pub fn top(&mut self, top: usize) -> &mut Self {
        self.top = top;
        self
    }

    /// How many itemset rules each antecedent pair keeps, as
    /// [`top`](Self::top). Default [`DEFAULT_ITEMSET_TOP`].
    pub fn itemset_top(&mut self, top: usize) -> &mut Self {
        self.itemset_top = top;
        self
    }

    /// Which measure becomes the edge weight. Default
    /// [`Measure::Confidence`].
    pub fn measure(&mut self, measure: Measure) -> &mut Self {
        self.measure = measure;
        self
    }

    /// The largest conviction weight, finite and `> 0`. Default
    /// [`DEFAULT_CONVICTION_CAP`].
    pub fn conviction_cap(&mut self, cap: f64) -> &mut Self {
        self.conviction_cap = cap;
        self
    }

    /// Threads for counting pairs and for the rule pass (0 or 1 = the
    /// calling thread only). The result does not depend on it. Default
    /// [`cooc::default_threads`].
    pub fn threads(&mut self, threads: usize) -> &mut Self {
        self.threads = threads;
        self
    }

    /// Whether to mine itemset rules `{A, B} -> C` too. Default
    /// [`Itemsets::Skip`].
    pub fn itemsets(&mut self, itemsets: Itemsets) -> &mut Self {
        self.itemsets = itemsets;
        self
    }

    /// Minimum count of an itemset rule (and of its antecedent pair), on
    /// top of [`min_count`](Self::min_count), `>= 0`. Default
    /// [`DEFAULT_ITEMSET_MIN_COUNT`].
    pub fn itemset_min_count(&mut self, count: f64) -> &mut Self {
        self.itemset_min_count = count;
        self
    }

    /// How orders are weighed by age. Default [`Decay::None`].
    pub fn decay(&mut self, decay: Decay) -> &mut Self {
        self.decay = decay;
        self
    }

    /// Which events count, and how much. Default [`Events::PurchasesOnly`].
    pub fn events(&mut self, events: Events) -> &mut Self {
        self.events = events;
        self
    }

    /// The decay setting.
    pub(crate) fn decay_setting(&self) -> Decay {
        self.decay
    }

    /// The events setting.
    pub(crate) fn events_setting(&self) -> Events {
        self.events
    }

    /// The itemsets setting.
    pub(crate) fn itemsets_setting(&self) -> Itemsets {
        self.itemsets
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first setting out of its range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, value: String, hint: &'static str| {
            Err(Error::InvalidConfig { field, value, hint })
        };
        let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
        if !unit(self.min_support) {
            return bad("min_support", self.min_support.to_string(), "in [0, 1]");
        }
        if !(self.min_count.is_finite() && self.min_count >= 0.0) {
            return bad("min_count", self.min_count.to_string(), "finite and >= 0");
        }
        if !unit(self.min_confidence) {
            return bad(
                "min_confidence",
                self.min_confidence.to_string(),
                "in [0, 1]",
            );
        }
        if self.top == 0 {
            return bad("top", "0".into(), "at least 1 rule per item");
        }
        if self.itemset_top == 0 {
            return bad("itemset_top", "0".into(), "at least 1 rule per pair");
        }
        if !(self.conviction_cap.is_finite() && self.conviction_cap > 0.0) {
            return bad(
                "conviction_cap",
                self.conviction_cap.to_string(),
                "finite and > 0",
            );
        }
        if !(self.itemset_min_count.is_finite() && self.itemset_min_count >= 0.0) {
            return bad(
                "itemset_min_count",
                self.itemset_min_count.to_string(),
                "finite and >= 0",
            );
        }
        if let Decay::HalfLife(h) = self.decay {
            if h.is_zero() {
                return bad("half_life", format!("{h:?}"), "longer than zero");
            }
        }
        if let Events::Weighted(w) = self.events {
            for (field, x) in [
                ("event_weights.cart", w.cart),
                ("event_weights.view", w.view),
            ] {
                if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
                    return bad(field, x.to_string(), "in [0, 1]; a purchase weighs 1");
                }
            }
            if w.view > w.cart {
                return bad(
                    "event_weights.view",
                    w.view.to_string(),
                    "at most the add-to-cart weight: an order log keeps a repeated SKU's strongest event, purchase over cart over view",
                );
            }
        }
        Ok(())
    }

    /// Mines `orders`. See [`mine_with_progress`](Self::mine_with_progress).
    ///
    /// # Errors
    /// As [`mine_with_progress`](Self::mine_with_progress).
    pub fn mine(&self, orders: OrdersView<'_>) -> Result<MinedGraph> {
        self.mine_with_progress(orders, |_| {})
    }

    /// Mines `orders`, calling `progress` on the calling thread as phases
    /// advance.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a setting out of range (see
    /// [`validate`](Self::validate)); [`Error::InvalidTimestamp`] under
    /// [`Decay::HalfLife`] for an order without a readable timestamp;
    /// [`Error::CapExceeded`] past [`MAX_RULES`] rules or the counting caps
    /// of [`CoCounts`].
    pub fn mine_with_progress<F: FnMut(Progress)>(
        &self,
        orders: OrdersView<'_>,
        mut progress: F,
    ) -> Result<MinedGraph> {
        self.validate()?;
        let log = orders.log();
        let weights = self.weights(orders, &mut progress)?;
        let mut report_counting = |fraction| {
            progress(Progress {
                phase: Phase::Counting,
                fraction,
            })
        };
        let counts = match &weights {
            None => Counts::Plain(CoCounts::count_with_progress(
                orders,
                self.threads,
                &mut report_counting,
            )?),
            Some(w) => Counts::Weighted(CoCounts::count_weighted(
                orders,
                w,
                self.threads,
                &mut report_counting,
            )?),
        };
        let mut graph = self.single_rules(
            &counts,
            log.n_items(),
            |i| log.sku(i),
            orders.len() as u64,
            &mut progress,
        )?;
        if self.itemsets == Itemsets::Mine {
            // Items bought at all, in SKU order; `rank` maps item id -> index.
            let items = Self::items_by_sku(&counts, log.n_items(), |i| log.sku(i));
            let mut rank = vec![u32::MAX; log.n_items()];
            for (r, &i) in items.iter().enumerate() {
                rank[i as usize] = r as u32;
            }
            graph.itemsets = self.mine_itemsets(
                orders,
                &counts,
                weights.as_ref(),
                &items,
                &rank,
                &mut progress,
            )?;
        }
        Ok(graph)
    }

    /// The items of `counts` (ids `0..n_items`) bought at all, sorted by
    /// SKU bytes.
    fn items_by_sku<'s>(counts: &Counts, n_items: usize, sku: impl Fn(u32) -> &'s str) -> Vec<u32> {
        let mut items: Vec<u32> = (0..n_items as u32)
            .filter(|&i| counts.item(i) > 0.0)
            .collect();
        items.sort_unstable_by(|&a, &b| sku(a).as_bytes().cmp(sku(b).as_bytes()));
        items
    }

    /// The single-item rules of `counts` over items `0..n_items` named by
    /// `sku`, as a graph without itemset rules: the part of mining that
    /// needs only the counts (shared with
    /// [`MinerState::to_mined_graph`](crate::incremental::MinerState::to_mined_graph)).
    pub(crate) fn single_rules<'s, F: FnMut(Progress)>(
        &self,
        counts: &Counts,
        n_items: usize,
        sku: impl Fn(u32) -> &'s str,
        n_orders: u64,
        progress: &mut F,
    ) -> Result<MinedGraph> {
        let n = counts.total();
        // Items bought at all, in SKU order; `rank` maps item id -> index.
        let items = Self::items_by_sku(counts, n_items, &sku);
        let mut rank = vec![u32::MAX; n_items];
        for (r, &i) in items.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let item_counts: Vec<f64> = items.iter().map(|&i| counts.item(i)).collect();
        // Every item's count and rank by id, side by side: a row entry
        // reads both, from one cache line instead of two (and without a
        // match on the kind of counts).
        let by_id: Vec<(f64, u32)> = (0..n_items)
            .map(|i| (counts.item(i as u32), rank[i]))
            .collect();

        // Single-item rules, row by row in SKU order, rows cut into chunks
        // counted on the miner's threads (the rows are independent). On
        // one thread this phase took about 40% of mining a million orders.
        let work: Vec<u64> = items
            .iter()
            .map(|&i| counts.row(i).0.len() as u64 + 1)
            .collect();
        let threads = if work.iter().sum::<u64>() < cooc::THREAD_MIN_WORK {
            1
        } else {
            self.threads
        };
        let rows = |range: Range<usize>| -> RulesBlock {
            let mut block = RulesBlock::default();
            // A row keeps at most its entries (`work` - 1), and at most `top`.
            let room: usize = work[range.clone()]
                .iter()
                .map(|&w| match self.top {
                    0 => w as usize - 1,
                    top => (w as usize - 1).min(top),
                })
                .sum();
            block.lens.reserve(range.len());
            block.rules.reserve(room);
            let mut kept: Vec<Kept> = Vec::new();
            for &i in &items[range] {
                let ci = by_id[i as usize].0;
                let (row, row_counts) = counts.row(i);
                kept.clear();
                for (k, &j) in row.iter().enumerate() {
                    let both = row_counts.get(k);
                    let (cj, rank_j) = by_id[j as usize];
                    if let Some(w) = self.keep(n, ci, cj, both, self.min_count) {
                        kept.push((w, rank_j, both));
                    }
                }
                Self::top_n(&mut kept, self.top);
                // Fits: a row keeps at most its entries, fewer than u32::MAX.
                block.lens.push(kept.len() as u32);
                block.rules.extend_from_slice(&kept);
            }
            block
        };
        let blocks = run_chunks(&work, threads, rows, &mut |fraction| {
            progress(Progress {
                phase: Phase::Rules,
                fraction,
            })
        });
        let total: usize = blocks.iter().map(|b| b.rules.len()).sum();
        if total > MAX_RULES {
            return Err(Error::CapExceeded {
                what: "mined rules",
                cap: MAX_RULES as u64,
                got: total as u64,
            });
        }
        let mut offsets = Vec::with_capacity(items.len() + 1);
        offsets.push(0u32);
        let mut targets = Vec::with_capacity(total);
        let mut pair_counts = Vec::with_capacity(total);
        let mut rule_weights = Vec::with_capacity(total);
        for block in blocks {
            for len in block.lens {
                // Fits: the total is at most MAX_RULES, below u32::MAX.
                offsets.push(offsets[offsets.len() - 1] + len);
            }
            for (w, t, c) in block.rules {
                targets.push(t);
                pair_counts.push(c);
                rule_weights.push(w);
            }
        }
        progress(Progress {
            phase: Phase::Rules,
            fraction: 1.0,
        });
        Ok(MinedGraph {
            measure: self.measure,
            conviction_cap: self.conviction_cap,
            orders: n_orders,
            total: n,
            pairs: (counts.entries() / 2) as u64,
            skus: items.iter().map(|&i| sku(i).to_owned()).collect(),
            counts: item_counts,
            offsets,
            targets,
            pair_counts,
            weights: rule_weights,
            itemsets: ItemsetTable::default(),
        })
    }

    /// The weight of a rule with these counts if it passes the thresholds
    /// and its weight is positive.
    #[inline]
    fn keep(
        &self,
        n: f64,
        antecedent: f64,
        consequent: f64,
        both: f64,
        min_count: f64,
    ) -> Option<f32> {
        if both < min_count {
            return None;
        }
        // What `Measures::new(..).weight(..)` gives, computing only the
        // thresholds' measures and the weight's (`Clamped`): the rule
        // pass evaluates this for every counted pair in both directions.
        let k = Clamped::new(n, antecedent, consequent, both);
        let (support, confidence) = (k.support(), k.confidence());
        if k.both < min_count || support < self.min_support || confidence < self.min_confidence {
            return None;
        }
        let w = as_weight(match self.measure {
            Measure::Support => support,
            Measure::Confidence => confidence,
            Measure::Lift => k.lift(confidence),
            Measure::Leverage => k.leverage(support),
            Measure::Conviction => k.conviction(confidence).min(self.conviction_cap),
            Measure::Jaccard => k.jaccard(),
        });
        (w > 0.0).then_some(w)
    }

    /// Keeps the `top` strongest (weight descending, then rank ascending)
    /// and sorts them by rank.
    fn top_n(kept: &mut Vec<Kept>, top: usize) {
        let by_strength = |a: &Kept, b: &Kept| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if kept.len() > top && top > 0 {
            kept.select_nth_unstable_by(top - 1, by_strength);
            kept.truncate(top);
        }
        kept.sort_unstable_by_key(|k| k.1);
    }

    /// Order and line weights, or `None` when every weight is 1 (the
    /// unweighted path).
    fn weights<F: FnMut(Progress)>(
        &self,
        orders: OrdersView<'_>,
        progress: &mut F,
    ) -> Result<Option<Weights>> {
        let log = orders.log();
        let decay = match self.decay {
            Decay::None => None,
            Decay::HalfLife(h) => Some(h.as_secs_f64()),
        };
        if decay.is_none() && !log.has_events() {
            return Ok(None);
        }
        let mut w = Weights::default();
        if let Some(half_life) = decay {
            let mut times = Vec::with_capacity(orders.len());
            for i in 0..orders.len() {
                let o = orders.log_index(i);
                let text = log.timestamp(o).unwrap_or("");
                let t = crate::date::unix_seconds(text).ok_or_else(|| Error::InvalidTimestamp {
                    order_id: log.order_id(o).to_owned(),
                    value: text.to_owned(),
                })?;
                times.push(t);
            }
            let newest = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            w.order = times
                .iter()
                .map(|&t| 0.5f64.powf((newest - t) / half_life))
                .collect();
        }
        progress(Progress {
            phase: Phase::Weighing,
            fraction: 0.5,
        });
        if log.has_events() {
            let ew = self.events.weights();
            w.line.reserve(orders.n_lines());
            for i in 0..orders.len() {
                if let Some(events) = log.events(orders.log_index(i)) {
                    w.line.extend(events.iter().map(|&e| ew.of(e)));
                }
            }
        }
        progress(Progress {
            phase: Phase::Weighing,
            fraction: 1.0,
        });
        Ok(Some(w))
    }

    /// Itemset rules `{A, B} -> C` over the frequent pairs.
    ///
    /// Item by item (A, in SKU order): walk the orders holding A and file
    /// each under every frequent partner B it holds (a projection of the
    /// log onto A, as in FP-growth and Eclat); then, partner by partner,
    /// tally the third items of its orders. Each order is walked once per
    /// frequent pair it holds, and no order lists are intersected.
    fn mine_itemsets<F: FnMut(Progress)>(
        &self,
        orders: OrdersView<'_>,
        counts: &Counts,
        weights: Option<&Weights>,
        items: &[u32],
        rank: &[u32],
        progress: &mut F,
    ) -> Result<ItemsetTable> {
        let n = counts.total();
        let n_items = orders.n_items();
        let min_count = self.min_count.max(self.itemset_min_count);
        // A triple's count is at most its pair's: a pair below the count or
        // support threshold cannot make a rule.
        let frequent =
            |c: f64| c >= min_count && Measures::new(n, c, c, c).support >= self.min_support;
        // Order weight w_o and line weight e_ok (1 when unweighted).
        let order_w = |o: usize| weights.and_then(|w| w.order.get(o).copied()).unwrap_or(1.0);
        let line_w = |o: usize, k: usize| -> f64 {
            match weights {
                Some(w) if !w.line.is_empty() => w
                    .line
                    .get(orders.line_range(o).start + k)
                    .copied()
                    .map_or(0.0, f64::from),
                _ => 1.0,
            }
        };
        // The inverted index, with entry weights w_o·e_oa when weighted.
        let (inv, entry_w) = match weights {
            None => (Inverted::build(orders, |_, _| true)?, Vec::new()),
            Some(_) => Inverted::build_weighted(orders, |o, k| order_w(o) * line_w(o, k))?,
        };
        // Work per antecedent item: the squared sizes of its orders.
        let work: Vec<u64> = items
            .iter()
            .map(|&a| {
                inv.orders(a as usize)
                    .iter()
                    .map(|&o| (orders.pair_items(o as usize).len() as u64).pow(2))
                    .sum()
            })
            .collect();
        let chunk = |range: Range<usize>| -> ItemsetBlock {
            let mut acc = vec![0f64; n_items];
            let mut stamp = vec![0u32; n_items];
            // Item -> its index among the current A's frequent partners.
            let mut slot = vec![u32::MAX; n_items];
            let mut partners: Vec<(u32, f64)> = Vec::new();
            // Per partner, its orders holding A and the pair's weight there
            // (w_o·e_a·e_b), in CSR form.
            let mut starts: Vec<u32> = Vec::new();
            let mut filed: Vec<(u32, f64)> = Vec::new();
            let mut touched: Vec<u32> = Vec::new();
            let mut kept: Vec<Kept> = Vec::new();
            let mut block = ItemsetBlock::default();
            let mut mark = 0u32;
            for &a in &items[range] {
                let ra = rank[a as usize];
                let (row, row_counts) = counts.row(a);
                partners.clear();
                for (k, &b) in row.iter().enumerate() {
                    let c = row_counts.get(k);
                    if rank[b as usize] > ra && frequent(c) {
                        partners.push((b, c));
                    }
                }
                if partners.is_empty() {
                    continue;
                }
                partners.sort_unstable_by_key(|p| rank[p.0 as usize]);
                for (s, &(b, _)) in partners.iter().enumerate() {
                    slot[b as usize] = s as u32;
                }
                // File A's orders under each partner they hold: count, then
                // place.
                starts.clear();
                starts.resize(partners.len() + 1, 0);
                let a_orders = inv.range(a as usize);
                for x in a_orders.clone() {
                    let o = inv.orders[x] as usize;
                    for &b in orders.pair_items(o) {
                        let s = slot[b as usize];
                        if s != u32::MAX {
                            starts[s as usize + 1] += 1;
                        }
                    }
                }
                for s in 0..partners.len() {
                    starts[s + 1] += starts[s];
                }
                filed.clear();
                filed.resize(starts[partners.len()] as usize, (0, 0.0));
                let mut fill = starts.clone();
                for x in a_orders {
                    let o = inv.orders[x] as usize;
                    let wa = entry_w.get(x).copied().unwrap_or(1.0);
                    for (k, &b) in orders.pair_items(o).iter().enumerate() {
                        let s = slot[b as usize];
                        if s != u32::MAX {
                            let e = if weights.is_some() { line_w(o, k) } else { 1.0 };
                            filed[fill[s as usize] as usize] = (o as u32, wa * e);
                            fill[s as usize] += 1;
                        }
                    }
                }
                for &(b, _) in &partners {
                    slot[b as usize] = u32::MAX;
                }
                // Partner by partner, tally the third items.
                for (s, &(b, cab)) in partners.iter().enumerate() {
                    mark = mark.wrapping_add(1);
                    if mark == 0 {
                        stamp.iter_mut().for_each(|x| *x = 0);
                        mark = 1;
                    }
                    for &(o, wab) in &filed[starts[s] as usize..starts[s + 1] as usize] {
                        if wab <= 0.0 {
                            continue;
                        }
                        let o = o as usize;
                        for (k, &c) in orders.pair_items(o).iter().enumerate() {
                            if c == a || c == b {
                                continue;
                            }
                            let e = if weights.is_some() { line_w(o, k) } else { 1.0 };
                            if e <= 0.0 {
                                continue;
                            }
                            if stamp[c as usize] != mark {
                                stamp[c as usize] = mark;
                                touched.push(c);
                            }
                            acc[c as usize] += wab * e;
                        }
                    }
                    kept.clear();
                    for &c in &touched {
                        let both = acc[c as usize];
                        acc[c as usize] = 0.0;
                        if let Some(w) = self.keep(n, cab, counts.item(c), both, min_count) {
                            kept.push((w, rank[c as usize], both));
                        }
                    }
                    touched.clear();
                    Self::top_n(&mut kept, self.itemset_top);
                    if !kept.is_empty() {
                        block.keys.push(([ra, rank[b as usize]], cab));
                        block.lens.push(kept.len() as u32);
                        block.rules.extend_from_slice(&kept);
                    }
                }
            }
            block
        };
        let blocks = run_chunks(&work, self.threads, chunk, &mut |fraction| {
            progress(Progress {
                phase: Phase::Itemsets,
                fraction,
            })
        });
        let total: usize = blocks.iter().map(|b| b.rules.len()).sum();
        if total > MAX_RULES {
            return Err(Error::CapExceeded {
                what: "mined itemset rules",
                cap: MAX_RULES as u64,
                got: total as u64,
            });
        }
        let mut t = ItemsetTable::default();
        if total == 0 {
            return Ok(t);
        }
        t.offsets.push(0);
        for block in blocks {
            for ((key, count), len) in block.keys.into_iter().zip(block.lens) {
                t.keys.push(key);
                t.key_counts.push(count);
                let end = t.offsets.last().copied().unwrap_or(0) + len;
                t.offsets.push(end);
            }
            for (w, c, count) in block.rules {
                t.targets.push(c);
                t.counts.push(count);
                t.weights.push(w);
            }
        }
        Ok(t)
    }
}

/// One chunk of mined itemset rules.
#[derive(Default)]
struct ItemsetBlock {
    keys: Vec<([u32; 2], f64)>,
    lens: Vec<u32>,
    rules: Vec<Kept>,
}

/// Itemset rules keyed by item index (SKU rank) in a [`MinedGraph`].
#[derive(Clone, Debug, Default, PartialEq)]
struct ItemsetTable {
    /// Antecedent pairs `[a, b]`, `a < b`, strictly ascending.
    keys: Vec<[u32; 2]>,
    /// `c(a, b)`, parallel to `keys`.
    key_counts: Vec<f64>,
    /// `keys.len() + 1` entries (or none when there are no keys); runs
    /// never empty.
    offsets: Vec<u32>,
    /// Consequents, ascending within a run, never in the key.
    targets: Vec<u32>,
    /// `c(a, b, c)`, parallel to `targets`.
    counts: Vec<f64>,
    /// Weights, parallel to `targets`.
    weights: Vec<f32>,
}

impl ItemsetTable {
    fn run(&self, k: usize) -> Range<usize> {
        self.offsets[k] as usize..self.offsets[k + 1] as usize
    }
}

/// Association rules mined from orders, keyed by SKU; see the [module
/// docs](self). Holds the items bought (in SKU byte order, with their
/// counts), each item's kept out-rules (consequent, count, weight), and
/// optionally itemset rules.
///
/// Item indexes (`0..n_items()`) are positions in SKU byte order, the order
/// a catalog assigns product ids in, so mapping onto a catalog that holds
/// every SKU keeps the order.
#[derive(Clone, Debug, PartialEq)]
pub struct MinedGraph {
    /// The measure the weights are.
    measure: Measure,
    /// The conviction cap used for weights.
    conviction_cap: f64,
    /// Orders in the mined view.
    orders: u64,
    /// `n`: the order total (weighted when orders or events were).
    total: f64,
    /// Distinct co-occurring pairs counted (before thresholds).
    pairs: u64,
    /// SKUs, strictly ascending by bytes, non-empty.
    skus: Vec<String>,
    /// `c(i) > 0`, parallel to `skus`.
    counts: Vec<f64>,
    /// `n_items + 1` entries from 0; row `i` is `offsets[i]..offsets[i+1]`.
    offsets: Vec<u32>,
    /// Consequent item indexes, strictly ascending per row, never the row.
    targets: Vec<u32>,
    /// `c(i, j) > 0`, parallel to `targets`.
    pair_counts: Vec<f64>,
    /// Weights (the chosen measure), finite and `> 0`, parallel to `targets`.
    weights: Vec<f32>,
    /// Itemset rules.
    itemsets: ItemsetTable,
}

/// One rule `from -> to` of a [`MinedGraph`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule<'a> {
    /// The antecedent's SKU.
    pub from: &'a str,
    /// The consequent's SKU.
    pub to: &'a str,
    /// All its measures.
    pub measures: Measures,
    /// Its weight (the chosen measure, capped).
    pub weight: f32,
}

/// One itemset rule `{a, b} -> to` of a [`MinedGraph`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemsetRule<'a> {
    /// The antecedent's SKUs, in byte order.
    pub antecedent: [&'a str; 2],
    /// The consequent's SKU.
    pub to: &'a str,
    /// All its measures (`count` is `c(a, b, to)`).
    pub measures: Measures,
    /// Its weight.
    pub weight: f32,
}

/// What mapping mined or imported rules onto a catalog kept and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MineReport {
    /// Complement edges produced.
    pub edges: u64,
    /// Itemset rules produced.
    pub itemset_rules: u64,
    /// Distinct SKUs the catalog does not know.
    pub unknown_skus: u64,
    /// The first unknown SKU met (in SKU or file order), to look at.
    pub first_unknown_sku: Option<String>,
    /// Rules skipped because a SKU is unknown to the catalog.
    pub skipped_rules: u64,
    /// Rules skipped because their antecedent has more than two items
    /// (Spark rules only; cartwise serves one- and two-item antecedents).
    pub skipped_long_antecedents: u64,
    /// Rules dropped because their weight under the chosen measure is not
    /// positive (Spark rules only: the miner never keeps such rules).
    pub skipped_weightless: u64,
}

impl MinedGraph {
    /// The measure the weights are.
    pub fn measure(&self) -> Measure {
        self.measure
    }

    /// The number of orders mined.
    pub fn orders(&self) -> u64 {
        self.orders
    }

    /// `n`, the order total the measures use: the number of orders, or
    /// their summed weight under decay or events.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Distinct co-occurring pairs counted, before thresholds.
    pub fn pairs_counted(&self) -> u64 {
        self.pairs
    }

    /// The number of items (SKUs bought at least once).
    pub fn n_items(&self) -> usize {
        self.skus.len()
    }

    /// The number of single-item rules (edges).
    pub fn n_rules(&self) -> usize {
        self.targets.len()
    }

    /// The number of itemset rules.
    pub fn n_itemset_rules(&self) -> usize {
        self.itemsets.targets.len()
    }

    /// The SKU of item `i`.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn sku(&self, i: u32) -> &str {
        &self.skus[i as usize]
    }

    /// The item index of a SKU. O(log items).
    pub fn item(&self, sku: &str) -> Option<u32> {
        self.skus
            .binary_search_by(|s| s.as_bytes().cmp(sku.as_bytes()))
            .ok()
            .map(|i| i as u32)
    }

    /// All SKUs, in byte order (item index order).
    pub fn skus(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.skus.iter().map(String::as_str)
    }

    /// `c(i)`: the orders (or order weight) holding item `i`.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn count(&self, i: u32) -> f64 {
        self.counts[i as usize]
    }

    /// Item `i`'s out-rules: consequent indexes (ascending) and weights.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn neighbours(&self, i: u32) -> (&[u32], &[f32]) {
        let r = self.row(i as usize);
        (&self.targets[r.clone()], &self.weights[r])
    }

    fn row(&self, i: usize) -> Range<usize> {
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// The measures of the kept rule `from -> to`, if it was kept.
    /// O(log items + log degree).
    pub fn measures(&self, from: &str, to: &str) -> Option<Measures> {
        let (f, t) = (self.item(from)?, self.item(to)?);
        let r = self.row(f as usize);
        let k = self.targets[r.clone()].binary_search(&t).ok()?;
        Some(self.rule_measures(f, t, self.pair_counts[r.start + k]))
    }

    fn rule_measures(&self, from: u32, to: u32, both: f64) -> Measures {
        Measures::new(self.total, self.count(from), self.count(to), both)
    }

    /// Every kept rule, by antecedent SKU then consequent SKU.
    pub fn rules(&self) -> impl Iterator<Item = Rule<'_>> + '_ {
        (0..self.skus.len()).flat_map(move |i| {
            self.row(i).map(move |e| {
                let t = self.targets[e];
                Rule {
                    from: &self.skus[i],
                    to: &self.skus[t as usize],
                    measures: self.rule_measures(i as u32, t, self.pair_counts[e]),
                    weight: self.weights[e],
                }
            })
        })
    }

    /// Every kept itemset rule, by antecedent then consequent SKU.
    pub fn itemset_rules(&self) -> impl Iterator<Item = ItemsetRule<'_>> + '_ {
        let t = &self.itemsets;
        (0..t.keys.len()).flat_map(move |k| {
            let [a, b] = t.keys[k];
            t.run(k).map(move |e| {
                let c = t.targets[e];
                ItemsetRule {
                    antecedent: [&self.skus[a as usize], &self.skus[b as usize]],
                    to: &self.skus[c as usize],
                    measures: Measures::new(
                        self.total,
                        t.key_counts[k],
                        self.count(c),
                        t.counts[e],
                    ),
                    weight: t.weights[e],
                }
            })
        })
    }

    /// Item index -> catalog id, `None` for SKUs the catalog lacks; and the
    /// report's unknown-SKU fields filled in.
    fn map_ids<C: Catalog + ?Sized>(
        &self,
        catalog: &C,
        report: &mut MineReport,
    ) -> Vec<Option<ProductId>> {
        self.skus
            .iter()
            .map(|sku| {
                let id = catalog.id(sku);
                if id.is_none() {
                    report.unknown_skus += 1;
                    report.first_unknown_sku.get_or_insert_with(|| sku.clone());
                }
                id
            })
            .collect()
    }

    /// The single-item rules as a [`ComplementGraph`] over `catalog`'s ids,
    /// weights as mined. Rules with a SKU the catalog lacks are skipped and
    /// counted in the report, with the unknown SKUs. Runs in
    /// O(items log catalog + rules log rules).
    ///
    /// # Errors
    /// [`Error::CapExceeded`] past the graph's edge cap (not reachable from
    /// a graph within [`MAX_RULES`]).
    pub fn to_graph<C: Catalog + ?Sized>(
        &self,
        catalog: &C,
    ) -> Result<(ComplementGraph, MineReport)> {
        let mut report = MineReport::default();
        let ids = self.map_ids(catalog, &mut report);
        let mut edges = Vec::with_capacity(self.targets.len());
        for (i, from) in ids.iter().enumerate() {
            for e in self.row(i) {
                match (from, ids[self.targets[e] as usize]) {
                    (Some(f), Some(t)) => edges.push(RawEdge::plain(*f, t, self.weights[e])),
                    _ => report.skipped_rules += 1,
                }
            }
        }
        report.edges = edges.len() as u64;
        Ok((ComplementGraph::from_checked(catalog.len(), edges)?, report))
    }

    /// The itemset rules as [`ItemsetRules`] over `catalog`'s ids, skipping
    /// and counting rules with a SKU the catalog lacks.
    ///
    /// # Errors
    /// As [`ItemsetRules::from_rules`] (not reachable from a valid graph).
    pub fn to_itemset_rules<C: Catalog + ?Sized>(
        &self,
        catalog: &C,
    ) -> Result<(ItemsetRules, MineReport)> {
        let mut report = MineReport::default();
        let ids = self.map_ids(catalog, &mut report);
        let t = &self.itemsets;
        let mut rules = Vec::with_capacity(t.targets.len());
        for (k, &[a, b]) in t.keys.iter().enumerate() {
            for e in t.run(k) {
                match (ids[a as usize], ids[b as usize], ids[t.targets[e] as usize]) {
                    (Some(a), Some(b), Some(c)) => rules.push(([a, b], c, t.weights[e])),
                    _ => report.skipped_rules += 1,
                }
            }
        }
        report.itemset_rules = rules.len() as u64;
        Ok((ItemsetRules::from_rules(catalog.len(), rules)?, report))
    }

    /// A minimal catalog of the mined items, for mining without one: each
    /// SKU becomes a product named by its SKU, in category `"unknown"`, at
    /// price 0, with popularity `c(i)` (rounded, saturating at `u32::MAX`).
    ///
    /// # Errors
    /// As [`CatalogBuilder::build`] (not reachable: SKUs are distinct and
    /// non-empty).
    pub fn to_catalog(&self) -> Result<InMemoryCatalog> {
        let mut b = CatalogBuilder::new();
        for (sku, &c) in self.skus.iter().zip(&self.counts) {
            let popularity = c.round().clamp(0.0, f64::from(u32::MAX)) as u32;
            b.add(
                Product::new(sku.as_str(), sku.as_str(), Money(0), "unknown")
                    .with_popularity(popularity),
            )?;
        }
        b.build()
    }

    /// Writes the `limit` strongest rules (by weight, ties by SKUs) as a
    /// Graphviz DOT digraph, labelling each node with its SKU and, where
    /// `name` gives one, its name on a second line. Strings are escaped for
    /// DOT; edge labels show the weight, pen widths scale with it.
    ///
    /// # Errors
    /// What `out` returns.
    pub fn write_dot<W: std::io::Write>(
        &self,
        mut out: W,
        limit: usize,
        name: impl Fn(&str) -> Option<String>,
    ) -> std::io::Result<()> {
        let mut edges: Vec<(u32, u32, f32)> = Vec::new();
        for i in 0..self.skus.len() {
            for e in self.row(i) {
                edges.push((i as u32, self.targets[e], self.weights[e]));
            }
        }
        let strongest = |a: &(u32, u32, f32), b: &(u32, u32, f32)| {
            b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1)))
        };
        if edges.len() > limit && limit > 0 {
            edges.select_nth_unstable_by(limit - 1, strongest);
        }
        edges.truncate(limit);
        edges.sort_unstable_by(strongest);
        let mut nodes: Vec<u32> = edges.iter().flat_map(|e| [e.0, e.1]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let max = edges.first().map_or(1.0, |e| e.2.max(f32::MIN_POSITIVE));
        writeln!(out, "digraph cartwise {{")?;
        writeln!(
            out,
            "  // the {} strongest of {} mined rules; weight = {}",
            edges.len(),
            self.targets.len(),
            self.measure
        )?;
        writeln!(out, "  rankdir=LR;")?;
        writeln!(out, "  node [shape=box, fontsize=10];")?;
        for &i in &nodes {
            let sku = &self.skus[i as usize];
            let label = match name(sku) {
                Some(n) if !n.is_empty() && n != *sku => {
                    format!("{}\\n{}", dot_escape(sku), dot_escape(&n))
                }
                _ => dot_escape(sku),
            };
            writeln!(out, "  n{i} [label=\"{label}\"];")?;
        }
        for &(f, t, w) in &edges {
            let width = 1.0 + 4.0 * (w / max);
            writeln!(
                out,
                "  n{f} -> n{t} [label=\"{w:.3}\", penwidth={width:.2}];"
            )?;
        }
        writeln!(out, "}}")
    }

    /// Checks the invariants (SKUs sorted and distinct, counts and weights
    /// finite and positive, rules in range, sorted, never to their own
    /// antecedent); [`from_json_str`](Self::from_json_str) calls it before
    /// returning a graph. O(items + rules).
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the broken invariant.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Snapshot {
                reason: format!("mined graph: {reason}"),
            })
        };
        let n = self.skus.len();
        if !(self.total.is_finite() && self.total >= 0.0 && self.conviction_cap.is_finite()) {
            return bad("order total or conviction cap not finite".into());
        }
        if let Some(w) = self
            .skus
            .windows(2)
            .find(|w| w[0].as_bytes() >= w[1].as_bytes())
        {
            return bad(format!("SKUs not in ascending byte order at {:?}", w[1]));
        }
        if self.skus.iter().any(String::is_empty) {
            return bad("empty SKU".into());
        }
        if self.counts.len() != n || self.counts.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
            return bad("item counts missing, not finite or not positive".into());
        }
        if self.offsets.len() != n + 1
            || self.offsets.first() != Some(&0)
            || self.offsets.windows(2).any(|w| w[0] > w[1])
            || self.offsets.last().map(|&x| x as usize) != Some(self.targets.len())
            || self.pair_counts.len() != self.targets.len()
            || self.weights.len() != self.targets.len()
        {
            return bad("rule arrays do not match".into());
        }
        for i in 0..n {
            let r = self.row(i);
            let t = &self.targets[r.clone()];
            if t.iter().any(|&j| j as usize >= n || j as usize == i)
                || t.windows(2).any(|w| w[0] >= w[1])
            {
                return bad(format!(
                    "rules of {:?}: consequent out of range, repeated or the item itself",
                    self.skus[i]
                ));
            }
            if self.pair_counts[r.clone()]
                .iter()
                .any(|c| !(c.is_finite() && *c > 0.0))
                || self.weights[r].iter().any(|w| !(w.is_finite() && *w > 0.0))
            {
                return bad(format!(
                    "rules of {:?}: count or weight not finite and positive",
                    self.skus[i]
                ));
            }
        }
        let t = &self.itemsets;
        if t.keys.is_empty() && t.targets.is_empty() && t.offsets.len() <= 1 {
            return Ok(());
        }
        if t.offsets.len() != t.keys.len() + 1
            || t.key_counts.len() != t.keys.len()
            || t.offsets.first() != Some(&0)
            || t.offsets.windows(2).any(|w| w[0] >= w[1])
            || t.offsets.last().map(|&x| x as usize) != Some(t.targets.len())
            || t.counts.len() != t.targets.len()
            || t.weights.len() != t.targets.len()
        {
            return bad("itemset arrays do not match".into());
        }
        if t.keys.windows(2).any(|w| w[0] >= w[1])
            || t.keys.iter().any(|&[a, b]| a >= b || b as usize >= n)
        {
            return bad("itemset antecedents out of range, unordered or repeated".into());
        }
        for (k, &[a, b]) in t.keys.iter().enumerate() {
            let r = t.run(k);
            let c = &t.targets[r.clone()];
            if c.iter().any(|&x| x as usize >= n || x == a || x == b)
                || c.windows(2).any(|w| w[0] >= w[1])
            {
                return bad(
                    "itemset consequent out of range, repeated or in its antecedent".into(),
                );
            }
            if !(t.key_counts[k].is_finite() && t.key_counts[k] > 0.0)
                || t.counts[r.clone()]
                    .iter()
                    .any(|c| !(c.is_finite() && *c > 0.0))
                || t.weights[r].iter().any(|w| !(w.is_finite() && *w > 0.0))
            {
                return bad("itemset count or weight not finite and positive".into());
            }
        }
        Ok(())
    }
}

/// Escapes a string for a double-quoted DOT label.
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(feature = "serde")]
mod json {
    //! The JSON form of a [`MinedGraph`].
    //!
    //! ```text
    //! {"format":"cartwise-mined-graph","version":1,"measure":"confidence",
    //!  "conviction_cap":100.0,"orders":4,"total":4.0,"pairs":4,
    //!  "items":[{"sku":"parmesan","count":2.0,"rules":[[1,2.0,1.0]]}, ...],
    //!  "itemsets":[{"items":[0,1],"count":2.0,"rules":[[2,1.0,0.5]]}]}
    //! ```
    //!
    //! Items are in SKU byte order and referred to by position; a rule is
    //! `[consequent, count, weight]`.

    use super::*;
    use serde::{Deserialize, Serialize};

    /// The `format` tag of the file.
    pub const FORMAT: &str = "cartwise-mined-graph";
    /// The version this build writes and reads.
    pub const VERSION: u32 = 1;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wire {
        format: String,
        version: u32,
        measure: Measure,
        conviction_cap: f64,
        orders: u64,
        total: f64,
        pairs: u64,
        items: Vec<WireItem>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        itemsets: Vec<WireItemset>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct WireItem {
        sku: String,
        count: f64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rules: Vec<(u32, f64, f32)>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct WireItemset {
        items: [u32; 2],
        count: f64,
        rules: Vec<(u32, f64, f32)>,
    }

    impl MinedGraph {
        /// The graph as JSON (one line, deterministic: the same graph
        /// always gives the same bytes).
        pub fn to_json(&self) -> String {
            let wire = Wire {
                format: FORMAT.to_owned(),
                version: VERSION,
                measure: self.measure,
                conviction_cap: self.conviction_cap,
                orders: self.orders,
                total: self.total,
                pairs: self.pairs,
                items: (0..self.skus.len())
                    .map(|i| WireItem {
                        sku: self.skus[i].clone(),
                        count: self.counts[i],
                        rules: self
                            .row(i)
                            .map(|e| (self.targets[e], self.pair_counts[e], self.weights[e]))
                            .collect(),
                    })
                    .collect(),
                itemsets: (0..self.itemsets.keys.len())
                    .map(|k| {
                        let t = &self.itemsets;
                        WireItemset {
                            items: t.keys[k],
                            count: t.key_counts[k],
                            rules: t
                                .run(k)
                                .map(|e| (t.targets[e], t.counts[e], t.weights[e]))
                                .collect(),
                        }
                    })
                    .collect(),
            };
            // Serialising plain structs of numbers and strings cannot fail.
            serde_json::to_string(&wire).unwrap_or_default()
        }

        /// Writes [`to_json`](Self::to_json) to a file.
        ///
        /// # Errors
        /// [`Error::Io`] naming the path.
        pub fn write_json_file(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
            let path = path.as_ref();
            std::fs::write(path, self.to_json()).map_err(|e| Error::io(path, e))
        }

        /// Reads a graph written by [`to_json`](Self::to_json), checking
        /// every invariant before returning it.
        ///
        /// # Errors
        /// [`Error::Json`] for text that is not such a document;
        /// [`Error::SnapshotVersion`] for another format version;
        /// [`Error::Snapshot`] naming a broken invariant (SKUs out of
        /// order, a rule to an unknown item, a count or weight that is not
        /// finite and positive, ...).
        pub fn from_json_str(text: &str) -> Result<MinedGraph> {
            let wire: Wire = serde_json::from_str(text).map_err(|e| Error::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
            if wire.format != FORMAT {
                return Err(Error::Snapshot {
                    reason: format!("format {:?} is not {FORMAT:?}", wire.format),
                });
            }
            if wire.version != VERSION {
                return Err(Error::SnapshotVersion {
                    expected: VERSION,
                    found: wire.version,
                });
            }
            let mut g = MinedGraph {
                measure: wire.measure,
                conviction_cap: wire.conviction_cap,
                orders: wire.orders,
                total: wire.total,
                pairs: wire.pairs,
                skus: Vec::with_capacity(wire.items.len()),
                counts: Vec::with_capacity(wire.items.len()),
                offsets: vec![0],
                targets: Vec::new(),
                pair_counts: Vec::new(),
                weights: Vec::new(),
                itemsets: ItemsetTable::default(),
            };
            let too_many = |what: &'static str, got: usize| Error::CapExceeded {
                what,
                cap: MAX_RULES as u64,
                got: got as u64,
            };
            for item in wire.items {
                g.skus.push(item.sku);
                g.counts.push(item.count);
                for (t, c, w) in item.rules {
                    g.targets.push(t);
                    g.pair_counts.push(c);
                    g.weights.push(w);
                }
                if g.targets.len() > MAX_RULES {
                    return Err(too_many("mined rules", g.targets.len()));
                }
                g.offsets.push(g.targets.len() as u32);
            }
            if !wire.itemsets.is_empty() {
                let t = &mut g.itemsets;
                t.offsets.push(0);
                for set in wire.itemsets {
                    t.keys.push(set.items);
                    t.key_counts.push(set.count);
                    for (c, n, w) in set.rules {
                        t.targets.push(c);
                        t.counts.push(n);
                        t.weights.push(w);
                    }
                    if t.targets.len() > MAX_RULES {
                        return Err(too_many("mined itemset rules", t.targets.len()));
                    }
                    t.offsets.push(t.targets.len() as u32);
                }
            }
            g.validate()?;
            Ok(g)
        }

        /// Reads a graph file written by
        /// [`write_json_file`](Self::write_json_file).
        ///
        /// # Errors
        /// [`Error::Io`] naming the path, or as
        /// [`from_json_str`](Self::from_json_str).
        pub fn from_json_file(path: impl AsRef<std::path::Path>) -> Result<MinedGraph> {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Self::from_json_str(&text)
        }
    }
}

#[cfg(feature = "serde")]
pub use json::{FORMAT, VERSION};
