//! BIFIT Kassa's flows: the discount for an online order (fetched from BIFIT), and the
//! sync that records a `FINISHED` order exactly once, drops a `REFUSED`/`DELETED` one and
//! keeps following any other. The sync endpoint and the follower both sync through here.

use rabat_domain::clock::now_ms;
use rabat_domain::model::{Card, Pos};
use rabat_domain::money::DiscountResponse;
use rabat_store::{LedgerEntry, Recorded, TrackState};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::till::{CompletedBill, Till};
use super::{ServiceError, ServiceResult};
use crate::bifit::{Bifit, CardLookup, Connector, Fetched, Finality, bump, ledger_order_id};

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// `FINISHED`, recorded now.
    Recorded,
    /// `FINISHED`, recorded before (nothing changed).
    AlreadyRecorded,
    /// `REFUSED` or `DELETED`: nothing recorded, no longer tracked.
    Voided,
    /// Not final yet: nothing recorded; the order is tracked.
    Pending,
}

/// The sync's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub online_order_id: i64,
    /// BIFIT's `currentStatusType`.
    pub status: String,
    pub outcome: SyncOutcome,
    pub message: String,
    /// The ledger row, when recorded (now or before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<LedgerEntry>,
}

/// BIFIT's service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BifitSync {
    till: Till,
    bifit: Bifit,
}

impl BifitSync {
    pub fn new(till: Till, bifit: Bifit) -> Self {
        BifitSync { till, bifit }
    }

    /// The client, counters and settings (the follower's too).
    pub fn bifit(&self) -> &Bifit {
        &self.bifit
    }

    /// Endpoint 1 for online order `id`: fetched from BIFIT, evaluated like any bill, then
    /// tracked until BIFIT reports a final status. `caller` is the POS's `cardId`, if sent.
    pub async fn discounts(
        &self,
        merchant: &str,
        id: i64,
        caller: Option<&str>,
    ) -> ServiceResult<DiscountResponse> {
        let mut connector = Connector::load(&self.bifit, merchant).await?;
        let fetched = connector.fetch(&self.bifit, id).await?;
        let store = &self.bifit.store;
        let tracked = store.bifit_order(merchant, &id.to_string()).await?;
        let known = tracked.and_then(|t| t.card_id);
        let card = self
            .card_for(&connector, &fetched, caller, known.as_deref())
            .await?;
        let card_id = card.card_id.clone();
        // The hold is kept under the ledger's order id, as endpoint 2 records it.
        let response = self
            .till
            .evaluate(
                merchant,
                fetched.to_order(),
                card,
                None,
                &ledger_order_id(id),
            )
            .await?;
        // Tracking must not block the till: a failure here is logged, the answer stands.
        let status = fetched.order.current_status_type.to_string();
        match store
            .track_bifit_order(merchant, &id.to_string(), Some(&card_id), &status)
            .await
        {
            Ok(true) => bump(&self.bifit.counters.tracked),
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, merchant, order = id, "could not track the BIFIT order");
            }
        }
        Ok(response)
    }

    /// Fetches online order `id` and acts on its status: records a `FINISHED` order exactly
    /// once (ledger order id `bifit:<id>`), drops a `REFUSED`/`DELETED` one (releasing the
    /// points held for it), tracks any other.
    pub async fn sync(
        &self,
        merchant: &str,
        id: i64,
        caller: Option<&str>,
    ) -> ServiceResult<SyncReport> {
        let mut connector = Connector::load(&self.bifit, merchant).await?;
        let fetched = connector.fetch(&self.bifit, id).await?;
        let store = &self.bifit.store;
        let counters = &self.bifit.counters;
        let order_key = id.to_string();
        let status = fetched.order.current_status_type.to_string();
        let report = |outcome, message: &str, transaction| SyncReport {
            online_order_id: id,
            status: status.clone(),
            outcome,
            message: message.to_owned(),
            transaction,
        };
        match fetched.order.current_status_type.finality() {
            Finality::Void => {
                store
                    .finish_bifit_order(
                        merchant,
                        &order_key,
                        TrackState::Voided,
                        Some(&status),
                        None,
                    )
                    .await?;
                bump(&counters.voided);
                // Points offered for the order are free again at once, not when the hold
                // expires (a re-sync finds nothing left to release).
                let released = store
                    .release_order_hold(merchant, &ledger_order_id(id), now_ms())
                    .await?;
                if released > 0 {
                    tracing::info!(
                        merchant,
                        order = id,
                        released,
                        "released the points held for a cancelled BIFIT order"
                    );
                }
                // BIFIT's page says only NEW, ACCEPTED and DISTRIBUTED orders can be
                // cancelled or deleted, never a FINISHED one; should a recorded order turn up
                // cancelled anyway, it is returned whole, once (the return id is the status).
                if store
                    .ledger_by_order(merchant, &ledger_order_id(id))
                    .await?
                    .is_some()
                {
                    let returned = super::returns::record(
                        store,
                        &super::Actor::System("bifit"),
                        merchant,
                        &ledger_order_id(id),
                        &format!("bifit-{status}"),
                        None,
                    )
                    .await;
                    match returned {
                        Ok(_) | Err(ServiceError::Invalid(_)) => {}
                        Err(e) => return Err(e),
                    }
                    return Ok(report(
                        SyncOutcome::Voided,
                        "The order was cancelled in BIFIT after it was recorded: returned whole",
                        None,
                    ));
                }
                Ok(report(
                    SyncOutcome::Voided,
                    "The order was cancelled in BIFIT: nothing recorded, no longer followed",
                    None,
                ))
            }
            Finality::Open => {
                if store
                    .track_bifit_order(merchant, &order_key, caller, &status)
                    .await?
                {
                    bump(&counters.tracked);
                }
                Ok(report(
                    SyncOutcome::Pending,
                    "The order is not final yet: nothing recorded; rabat follows it until it is",
                    None,
                ))
            }
            Finality::Finished => {
                let known = store
                    .bifit_order(merchant, &order_key)
                    .await?
                    .and_then(|t| t.card_id);
                let recorded = match self
                    .already_recorded(merchant, &fetched, caller.or(known.as_deref()))
                    .await?
                {
                    Some(recorded) => recorded,
                    None => {
                        let card = self
                            .card_for(&connector, &fetched, caller, known.as_deref())
                            .await?;
                        self.record(merchant, &fetched, &card).await?
                    }
                };
                store
                    .finish_bifit_order(
                        merchant,
                        &order_key,
                        TrackState::Recorded,
                        Some(&status),
                        None,
                    )
                    .await?;
                Ok(match recorded {
                    Recorded::New(entry) => {
                        bump(&counters.recorded);
                        report(
                            SyncOutcome::Recorded,
                            "Order processed successfully",
                            Some(entry),
                        )
                    }
                    Recorded::Duplicate(entry) => report(
                        SyncOutcome::AlreadyRecorded,
                        "The order was already recorded; nothing changed",
                        Some(entry),
                    ),
                })
            }
        }
    }

    /// Records a finished order on its card with the points the policy accrues. The same
    /// order on the same card with the same total is a duplicate, anything else under that
    /// order id a conflict.
    async fn record(
        &self,
        merchant: &str,
        fetched: &Fetched,
        card: &Card,
    ) -> ServiceResult<Recorded> {
        let bill = bill(fetched, &card.card_id);
        self.till.record(merchant, card, bill).await
    }

    /// A finished order already in the ledger, judged without looking its card up (so an
    /// honest re-sync still succeeds after the card was deleted): on the card the caller
    /// names or the order was tracked with, else the card it was recorded on.
    async fn already_recorded(
        &self,
        merchant: &str,
        fetched: &Fetched,
        card_id: Option<&str>,
    ) -> ServiceResult<Option<Recorded>> {
        let ledger_id = ledger_order_id(fetched.order.id);
        let Some(prior) = self
            .bifit
            .store
            .ledger_by_order(merchant, &ledger_id)
            .await?
        else {
            return Ok(None);
        };
        let bill = bill(fetched, card_id.unwrap_or(&prior.card_id));
        self.till.already_recorded(merchant, &bill).await
    }

    /// The card of a BIFIT order: the caller's `cardId`, else the one it was tracked with,
    /// else (card lookup `clientId`) the card whose `customerId` is the order's `clientId`.
    /// None found is Papaya's error 3.
    async fn card_for(
        &self,
        connector: &Connector,
        fetched: &Fetched,
        caller: Option<&str>,
        known: Option<&str>,
    ) -> ServiceResult<Card> {
        let merchant = connector.merchant.as_str();
        let card_id = match (
            caller.or(known),
            connector.card_lookup,
            fetched.order.client_id,
        ) {
            (Some(card_id), _, _) => card_id.to_owned(),
            (None, CardLookup::ClientId, Some(client)) => {
                let mut cards = self
                    .bifit
                    .store
                    .cards_by_customer(merchant, &client.to_string())
                    .await?;
                match (cards.pop(), cards.pop()) {
                    (Some(card_id), None) => card_id,
                    (None, _) => return Err(ServiceError::CustomerNotFound),
                    (Some(a), Some(b)) => {
                        return Err(ServiceError::Conflict(format!(
                            "BIFIT clientId {client} is the customerId of more than one card ({b}, {a}, …): give each card its own customerId"
                        )));
                    }
                }
            }
            (None, _, _) => return Err(ServiceError::CustomerNotFound),
        };
        self.till.card(merchant, &card_id).await
    }
}

/// A finished order as a completed bill on `card_id`. Its hash covers the order id, the
/// card and the total: a re-sync of the same order is a duplicate, a changed one a conflict.
fn bill(fetched: &Fetched, card_id: &str) -> CompletedBill {
    let order = fetched.to_order();
    let identity = json!({
        "pos": "bifit",
        "onlineOrderId": fetched.order.id,
        "cardId": card_id,
        "totalAmount": order.total.to_string(),
    });
    CompletedBill {
        request_hash: hex::encode(Sha256::digest(identity.to_string().as_bytes())),
        occurred_at: fetched.occurred_at(),
        pos: Pos::Bifit,
        request: Some(Value::Object(fetched.raw.clone())),
        ledger_order_id: Some(ledger_order_id(fetched.order.id)),
        order,
    }
}
