//! Everything a policy is given for one call: the bill, the card and the merchant's config.

use serde::de::DeserializeOwned;

use crate::{Card, Order};

/// What a policy decides on: the bill, the customer's card (if the bill carries one
/// rabat knows) and the merchant's configuration.
///
/// For a test: `Context::new(order).with_card(card).with_config(r#"{"percentage": 10}"#)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The bill.
    pub order: Order,
    /// The customer's card, when the bill carries one rabat knows.
    pub card: Option<Card>,
    /// The merchant's configuration as JSON text (`{}` when none is set). Read it with
    /// [`Context::config`].
    pub config: String,
}

impl Context {
    /// A context with no card and an empty config (`{}`).
    pub fn new(order: Order) -> Context {
        Context {
            order,
            card: None,
            config: "{}".into(),
        }
    }

    /// Sets the card.
    pub fn with_card(mut self, card: Card) -> Context {
        self.card = Some(card);
        self
    }

    /// Sets the config (JSON text).
    pub fn with_config(mut self, config: impl Into<String>) -> Context {
        self.config = config.into();
        self
    }

    /// The merchant's config, parsed into the policy's own `serde` type.
    ///
    /// The error names what is wrong and where, ready to return from
    /// [`Policy::evaluate`](crate::Policy::evaluate), e.g.
    /// ``config: tiers.gold: invalid value: string "ten", expected a Decimal type
    /// representing a fixed-point number (line 1, column 22)``.
    ///
    /// ```
    /// # use rabat_rules::{Context, Decimal, Order};
    /// #[derive(serde::Deserialize)]
    /// struct Config { percentage: Decimal }
    ///
    /// let ctx = Context::new(Order::builder().build()).with_config(r#"{"percentage": 12.5}"#);
    /// let config: Config = ctx.config()?;
    /// assert_eq!(config.percentage, Decimal::new(125, 1));
    /// # Ok::<(), String>(())
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, String> {
        crate::json::from_str(&self.config).map_err(|e| format!("config: {e}"))
    }

    /// The card's tier, if there is a card and it has one.
    pub fn tier(&self) -> Option<&str> {
        self.card.as_ref().and_then(Card::tier)
    }

    /// Whether there is a card and it carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.card.as_ref().is_some_and(|card| card.has_tag(tag))
    }
}
