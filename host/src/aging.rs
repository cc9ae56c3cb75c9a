//! The points task (issue 19): on every replica, every [`AGING_EVERY`] (and once at
//! start), vests the lots whose vesting date has come and expires the lots past their
//! expiry, through the points service. Replicas running it at once, or a process killed
//! in the middle of a run, neither lose nor double an expiry: each card is done in one
//! transaction under its lock (`rabat_store::Store::age_points`).

use std::time::Duration;

use rabat_store::Store;

pub use crate::service::points::AGING_EVERY;

/// The running task.
#[derive(Debug)]
pub struct PointsAger {
    task: tokio::task::JoinHandle<()>,
}

impl PointsAger {
    pub fn start(store: Store, every: Duration) -> PointsAger {
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = crate::clock::now_ms();
                match crate::service::points::age(&store, now).await {
                    Ok(report) if report.cards > 0 => {
                        tracing::info!(
                            cards = report.cards,
                            lots_vested = report.lots_vested,
                            lots_expired = report.lots_expired,
                            points_expired = report.points_expired,
                            points_kept_for_holds = report.points_kept_for_holds,
                            "points vested and expired"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the points task failed; retried next time");
                    }
                }
            }
        });
        PointsAger { task }
    }

    /// Stops the task (a run in progress is cut between cards, or inside one card's
    /// transaction, which then rolls back).
    pub fn stop(self) {
        self.task.abort();
    }
}
