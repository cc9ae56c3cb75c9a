//! The customer's loyalty card as rabat keeps it, and a builder for tests.

use rust_decimal::Decimal;

/// The customer's loyalty card.
///
/// Build one for a test with [`Card::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The card's id (what the POS scanned).
    pub card_id: String,
    /// The merchant's customer id, if set.
    pub customer_id: Option<String>,
    /// The card holder's name, if set.
    pub name: Option<String>,
    /// A merchant-defined tier, e.g. `gold`.
    pub tier: Option<String>,
    /// Merchant-defined tags, e.g. `staff`, `birthday-month`.
    pub tags: Vec<String>,
    /// The points balance.
    pub points: i64,
    /// Completed bills recorded on the card before this one (0 on a first visit).
    pub visits: u32,
    /// Sum of the totals of those bills.
    pub total_spent: Decimal,
    /// First recorded visit (epoch ms, UTC); `None` before the first visit.
    pub first_visit: Option<i64>,
    /// Last recorded visit (epoch ms, UTC); `None` before the first visit.
    pub last_visit: Option<i64>,
}

impl Card {
    /// Starts a card for a test: id `test-card`, no tier, no tags, 0 points, 0 visits.
    pub fn builder() -> CardBuilder {
        CardBuilder {
            card: Card {
                card_id: "test-card".into(),
                customer_id: None,
                name: None,
                tier: None,
                tags: Vec::new(),
                points: 0,
                visits: 0,
                total_spent: Decimal::ZERO,
                first_visit: None,
                last_visit: None,
            },
        }
    }

    /// The tier, if the card has one.
    pub fn tier(&self) -> Option<&str> {
        self.tier.as_deref()
    }

    /// Whether the card carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether this bill is the card's first visit (no completed bill recorded yet).
    pub fn is_first_visit(&self) -> bool {
        self.visits == 0
    }
}

/// Builds a [`Card`] for a test; start with [`Card::builder`].
#[derive(Debug, Clone)]
pub struct CardBuilder {
    card: Card,
}

impl CardBuilder {
    /// Sets the card id.
    pub fn card_id(mut self, id: impl Into<String>) -> Self {
        self.card.card_id = id.into();
        self
    }

    /// Sets the customer id.
    pub fn customer_id(mut self, id: impl Into<String>) -> Self {
        self.card.customer_id = Some(id.into());
        self
    }

    /// Sets the holder's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.card.name = Some(name.into());
        self
    }

    /// Sets the tier.
    pub fn tier(mut self, tier: impl Into<String>) -> Self {
        self.card.tier = Some(tier.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.card.tags.push(tag.into());
        self
    }

    /// Sets the points balance.
    pub fn points(mut self, points: i64) -> Self {
        self.card.points = points;
        self
    }

    /// Sets the number of recorded visits.
    pub fn visits(mut self, visits: u32) -> Self {
        self.card.visits = visits;
        self
    }

    /// Sets the total spent.
    pub fn total_spent(mut self, total_spent: Decimal) -> Self {
        self.card.total_spent = total_spent;
        self
    }

    /// Sets the first and last visit (epoch ms, UTC).
    pub fn visited(mut self, first_visit: i64, last_visit: i64) -> Self {
        self.card.first_visit = Some(first_visit);
        self.card.last_visit = Some(last_visit);
        self
    }

    /// Finishes the card.
    pub fn build(self) -> Card {
        self.card
    }
}
