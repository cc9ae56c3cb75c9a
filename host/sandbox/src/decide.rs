//! One decision: run the policy, turn its answer into money, and fall back to the
//! fail-safe answer on any failure. The server, `rabat run`, dry-runs and replays all
//! decide through here, so they cannot disagree.

use serde::Serialize;

use crate::{CallInput, CallReport, CompiledPolicy, Failure, Runtime};
use rabat_domain::money::{self, DiscountResponse};

/// The answer the POS gets, and what happened on the way.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub response: DiscountResponse,
    /// `None` when the policy answered validly; otherwise why the fail-safe was used.
    pub failure: Option<Failure>,
    #[serde(flatten)]
    pub report: CallReport<()>,
}

impl Decision {
    /// `answer` or the failure's name, as logs and metrics spell it.
    pub fn outcome(&self) -> &'static str {
        self.failure.as_ref().map_or("answer", Failure::outcome)
    }
}

pub fn decide(runtime: &Runtime, policy: &CompiledPolicy, input: CallInput<'_>) -> Decision {
    let CallReport {
        result,
        fuel_used,
        peak_memory_bytes,
        duration,
        logs,
        logs_dropped,
    } = runtime.evaluate(policy, input);
    let result = result.and_then(|evaluation| {
        money::discount_response(input.order, &evaluation)
            .map_err(|e| Failure::InvalidAnswer(e.to_string()))
    });
    let report = CallReport {
        result: Ok(()),
        fuel_used,
        peak_memory_bytes,
        duration,
        logs,
        logs_dropped,
    };
    match result {
        Ok(response) => Decision {
            response,
            failure: None,
            report,
        },
        Err(failure) => Decision {
            response: DiscountResponse::fail_safe(&input.order.currency),
            failure: Some(failure),
            report,
        },
    }
}
