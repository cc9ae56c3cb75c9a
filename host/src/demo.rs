//! `rabat serve --demo`: a demo merchant with well-known tokens, two cards and the example
//! policy, so the first run answers the README's curl lines. Idempotent: an existing
//! demo merchant is left as it is.

use std::net::SocketAddr;

use anyhow::Context;

use crate::model::Card;
use crate::policy::build::{build_example, examples_dir};
use crate::server::AppState;
use crate::store::credentials::TokenHash;

pub const MERCHANT: &str = "demo";
pub const API_KEY: &str = "demo-api-key";
pub const POS_TOKEN: &str = "demo-pos-token";
/// The example policy the demo runs, and its config.
pub const POLICY: &str = "tier-discount";
pub const CONFIG: &str = r#"{"tiers":{"gold":10,"silver":5}}"#;

#[derive(Debug)]
pub struct DemoInfo {
    pub created: bool,
}

pub async fn setup(state: &AppState) -> anyhow::Result<DemoInfo> {
    let store = state.store();
    if store.merchant(MERCHANT).await?.is_some() {
        return Ok(DemoInfo { created: false });
    }
    tracing::info!(
        policy = POLICY,
        "setting up the demo merchant: building the example policy (the first build takes a minute)"
    );
    let built = tokio::task::spawn_blocking(|| build_example(POLICY))
        .await
        .context("the policy build panicked")?
        .with_context(|| {
            format!(
                "could not build the demo policy from {}",
                examples_dir().join(POLICY).display()
            )
        })?;
    let wasm = std::fs::read(&built.path)
        .with_context(|| format!("could not read {}", built.path.display()))?;
    let compiled = state
        .runtime()
        .compile(&wasm)
        .with_context(|| format!("the demo policy {} was rejected", built.path.display()))?;
    state.active().remember(compiled);

    store
        .create_merchant(
            MERCHANT,
            "Demo Café",
            &TokenHash::of(API_KEY),
            &TokenHash::of(POS_TOKEN),
            |_: &_| demo("merchant.create"),
        )
        .await?;
    let mut gold = Card::new("memberCardId");
    gold.customer_id = Some("customer-1".into());
    gold.name = Some("Jana Nováková".into());
    gold.tier = Some("gold".into());
    store
        .upsert_card(MERCHANT, &gold, Some(120), |_: &_| demo("card.create"))
        .await?;
    let mut new = Card::new("newCardId");
    new.name = Some("Peter Novák".into());
    store
        .upsert_card(MERCHANT, &new, None, |_: &_| demo("card.create"))
        .await?;
    let contract = crate::policy::contract::read_contract(&wasm).ok();
    let version = store
        .add_policy_within(
            MERCHANT,
            &wasm,
            Some("demo: examples/tier-discount"),
            contract.map(|c| c.name()),
            None,
            |_: &_| demo("policy.upload"),
        )
        .await?;
    let config: serde_json::Value =
        serde_json::from_str(CONFIG).context("the demo config is not JSON")?;
    store
        .put_policy_config(MERCHANT, &config, |_: &_| demo("policy.config"))
        .await?;
    store
        .activate_policy(MERCHANT, version.version, |_: &_| demo("policy.activate"))
        .await?;
    state.active().invalidate(MERCHANT);
    Ok(DemoInfo { created: true })
}

impl DemoInfo {
    /// What to try, printed once the server listens.
    pub fn instructions(&self, address: SocketAddr) -> String {
        let bills = examples_dir().join("data/bills");
        let bills = bills.canonicalize().unwrap_or(bills);
        format!(
            "\nrabat demo {state}: merchant `{MERCHANT}` (API key `{API_KEY}`), POS token `{POS_TOKEN}`,\n\
             cards `memberCardId` (gold) and `newCardId`, policy examples/{POLICY} with config {CONFIG}.\n\n\
             The console: http://{address}/console/ (merchant `{MERCHANT}`, API key `{API_KEY}`).\n\n\
             Ask for the discount on Papaya's sample bill (gold card: 10% of 50.00 = 5.00):\n\n  \
             curl -s -X POST http://{address}/pos/papaya/v1/discounts -H 'Authorization: Bearer {POS_TOKEN}' --data @{bills}/papaya-discount-request.json\n\n\
             Record the closed bill on the card:\n\n  \
             curl -s -X POST http://{address}/pos/papaya/v1/transactions -H 'Authorization: Bearer {POS_TOKEN}' --data @{bills}/papaya-transaction.json\n\n\
             The card after it: curl -s http://{address}/admin/v1/merchants/{MERCHANT}/cards/memberCardId -H 'Authorization: Bearer {API_KEY}'\n",
            state = if self.created { "created" } else { "ready" },
            bills = bills.display(),
        )
    }
}

/// The audit row of a demo setup step.
fn demo(action: &str) -> rabat_store::AuditRecord {
    rabat_store::AuditRecord::now("system:demo", action, serde_json::json!({}))
}
