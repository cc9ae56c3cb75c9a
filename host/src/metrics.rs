//! Prometheus metrics (`GET /metrics`, OpenMetrics text): HTTP requests by route, method
//! and status with latency histograms, policy calls by merchant and outcome with the fuel
//! they burned, and gauges/counters read at scrape time from the parts of the server that
//! keep their own (the evaluation log's backlog, …).
//!
//! Routes are labelled by their template (`/admin/v1/merchants/{m}/cards/{cardId}`), never
//! by the raw path, so a scan of random URLs cannot grow the label set; paths that match
//! no route share the label `unmatched`.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge as GaugeMetric};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PolicyLabels {
    merchant: String,
    /// `evaluate` (endpoint 1), `accrue` (endpoint 2), `dry_run` or `replay`.
    call: &'static str,
    outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct MerchantLabels {
    merchant: String,
    call: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BudgetLabels {
    merchant: String,
    /// `amount` (units of 1/10 000 of the currency) or `redemptions`.
    measure: &'static str,
    /// `limit`, `used` or `reserved`.
    of: &'static str,
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~3.3 s: a cached evaluation is well under a millisecond, a policy at its
    // deadline is 50 ms, a slow database much more.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// Every metric the server keeps. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    policy_calls: Family<PolicyLabels, Counter>,
    fuel: Family<MerchantLabels, Counter>,
    budgets: Family<BudgetLabels, GaugeMetric>,
}

/// A value read when Prometheus scrapes (a queue length, another part's counter).
pub type Probe = Arc<dyn Fn() -> u64 + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only ever goes up (the name gets `_total`).
    Counter,
    Gauge,
}

struct Sampled {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    probe: Probe,
}

impl std::fmt::Debug for Sampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampled").field("name", &self.name).finish()
    }
}

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let value = (self.probe)();
        match self.kind {
            Kind::Counter => {
                let metric = ConstCounter::new(value);
                let out =
                    encoder.encode_descriptor(self.name, self.help, None, metric.metric_type())?;
                metric.encode(out)
            }
            Kind::Gauge => {
                let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
                let out =
                    encoder.encode_descriptor(self.name, self.help, None, metric.metric_type())?;
                metric.encode(out)
            }
        }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rabat");
        let requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head, by route template and method",
            latency.clone(),
        );
        let policy_calls = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "policy_calls",
            "Policy calls by merchant, call and outcome (answer, policy_error, trap, out_of_fuel, timeout, memory_limit, invalid_answer, no_policy, unavailable, busy)",
            policy_calls.clone(),
        );
        let fuel = Family::<MerchantLabels, Counter>::default();
        registry.register(
            "policy_fuel_used",
            "Fuel (wasm instructions, roughly) burned by policy calls, by merchant and call",
            fuel.clone(),
        );
        let budgets = Family::<BudgetLabels, GaugeMetric>::default();
        registry.register(
            "campaign_budgets",
            "Per merchant, its active campaigns' budgets in their current periods, summed: measure amount (in units of 1/10 000 of the currency, exact) or redemptions; of limit, used (completed bills) or reserved (open orders). Read from the database at each scrape",
            budgets.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            policy_calls,
            fuel,
            budgets,
        }
    }

    /// Replaces the budget gauges with `rows` (merchant, measure, of, value).
    pub fn set_budgets(&self, rows: &[(String, &'static str, &'static str, i64)]) {
        self.budgets.clear();
        for (merchant, measure, of, value) in rows {
            self.budgets
                .get_or_create(&BudgetLabels {
                    merchant: merchant.clone(),
                    measure,
                    of,
                })
                .set(*value);
        }
    }

    /// Adds a value read at every scrape. Call while building the server, before sharing.
    pub fn sample(&mut self, name: &'static str, help: &'static str, kind: Kind, probe: Probe) {
        self.registry.register_collector(Box::new(Sampled {
            name,
            help,
            kind,
            probe,
        }));
    }

    /// One policy call's outcome and the fuel it burned.
    pub fn policy_call(&self, merchant: &str, call: &'static str, outcome: &str, fuel: u64) {
        self.policy_calls
            .get_or_create(&PolicyLabels {
                merchant: merchant.to_owned(),
                call,
                outcome: outcome.to_owned(),
            })
            .inc();
        if fuel > 0 {
            self.fuel
                .get_or_create(&MerchantLabels {
                    merchant: merchant.to_owned(),
                    call,
                })
                .inc_by(fuel);
        }
    }

    /// One HTTP request answered: counted and timed under its route template.
    pub fn request(&self, route: String, method: String, status: u16, seconds: f64) {
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method: method.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&HttpLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
