//! `rabat serve --demo`: a demo merchant with well-known tokens, two cards and two
//! campaigns — the tier discount (the default campaign) and a happy hour stacked on it —
//! so the first run answers the README's curl lines. Idempotent: an existing demo
//! merchant is left as it is.

use std::net::SocketAddr;

use anyhow::Context;

use crate::model::Card;
use crate::policy::build::{build_example, examples_dir};
use crate::server::AppState;
use crate::store::credentials::TokenHash;
use crate::store::{NewCampaign, StackingMode};

pub const MERCHANT: &str = "demo";
pub const API_KEY: &str = "demo-api-key";
pub const POS_TOKEN: &str = "demo-pos-token";
/// The example policy the demo runs, and its config.
pub const POLICY: &str = "tier-discount";
pub const CONFIG: &str = r#"{"tiers":{"gold":10,"silver":5}}"#;
/// The second campaign's example policy, and its config (15 % off, 16:00–18:00 in
/// Bratislava: the sample bill `papaya-happy-hour.json` is inside, the seed's bill not).
pub const HAPPY_HOUR: &str = "happy-hour";
pub const HAPPY_HOUR_CONFIG: &str =
    r#"{"timeZone":"Europe/Bratislava","from":"16:00","to":"18:00","percentage":15}"#;

/// The demo happy hour's budget and limit.
const POINTS_RULES: &str =
    r#"{"expiry":{"endOfMonth":12},"vestingDays":0,"timeZone":"Europe/Bratislava"}"#;
const HAPPY_HOUR_LIMITS: &str = r#"{"timeZone":"Europe/Bratislava","budget":{"amount":"500.00","period":"month"},"perCard":{"redemptions":1,"period":"day"}}"#;

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
    let wasm = built_example(state, POLICY).await?;
    let happy_hour = built_example(state, HAPPY_HOUR).await?;

    store
        .create_merchant(
            MERCHANT,
            "Demo Café",
            &TokenHash::of(API_KEY),
            &TokenHash::of(POS_TOKEN),
            |_: &_| demo("merchant.create"),
        )
        .await?;
    // Points expire at the end of the 12th month after the one they were earned in, in
    // the shop's time zone, and can be spent at once (no returns window).
    let rules: rabat_domain::lots::PointsRules =
        serde_json::from_str(POINTS_RULES).context("the demo's points rules do not read")?;
    store
        .set_points_rules(MERCHANT, &rules, |_: &_| demo("points_rules.set"))
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
    let contract = crate::policy::contract::read_contract(&happy_hour).ok();
    let version = store
        .add_policy_within(
            MERCHANT,
            &happy_hour,
            Some("demo: examples/happy-hour"),
            contract.map(|c| c.name()),
            None,
            |_: &_| demo("policy.upload"),
        )
        .await?;
    let campaign = NewCampaign {
        name: "happy hour".into(),
        policy_version: version.version,
        config: serde_json::from_str(HAPPY_HOUR_CONFIG)
            .context("the demo's happy-hour config is not JSON")?,
        starts_at: None,
        ends_at: None,
        priority: -1,
        mode: StackingMode::Stackable,
        group: None,
        // Budgeted: 500.00 a month across all cards, once per card a day, in the shop's zone.
        limits: Some(
            serde_json::from_str(HAPPY_HOUR_LIMITS)
                .context("the demo's happy-hour limits do not read")?,
        ),
    };
    store
        .create_campaign(
            MERCHANT,
            &campaign,
            crate::service::campaigns::MAX_OPEN_CAMPAIGNS,
            |_: &_| demo("campaign.create"),
        )
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
             cards `memberCardId` (gold) and `newCardId`, campaigns `default` (examples/{POLICY}, config {CONFIG})\n\
             and `happy hour` (examples/{HAPPY_HOUR}, config {HAPPY_HOUR_CONFIG}).\n\n\
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

/// An example built (`rabat build`) and compiled, kept compiled for the first requests.
async fn built_example(state: &AppState, name: &'static str) -> anyhow::Result<Vec<u8>> {
    let built = tokio::task::spawn_blocking(move || build_example(name))
        .await
        .context("the policy build panicked")?
        .with_context(|| {
            format!(
                "could not build the demo policy from {}",
                examples_dir().join(name).display()
            )
        })?;
    let wasm = std::fs::read(&built.path)
        .with_context(|| format!("could not read {}", built.path.display()))?;
    let compiled = state
        .runtime()
        .compile(&wasm)
        .with_context(|| format!("the demo policy {} was rejected", built.path.display()))?;
    state.active().remember(compiled);
    Ok(wasm)
}

/// The audit row of a demo setup step.
fn demo(action: &str) -> rabat_store::AuditRecord {
    rabat_store::AuditRecord::now("system:demo", action, serde_json::json!({}))
}
