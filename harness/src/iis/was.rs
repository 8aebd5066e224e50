//! What the Windows Process Activation Service does with a pool's failing workers, the same on
//! IIS 6.0 (worker process isolation mode) and IIS 7+: each failure is counted on the pool's
//! modelled clock, and rapid-fail protection disables the pool when too many fall within its
//! interval.

use std::time::Duration;

/// How long the modelled clock advances between two worker starts for one pool. A worker that
/// fails is not restarted on its own: WAS starts one for each request that finds the pool
/// without a worker, and the model puts those starts one second apart.
pub(crate) const WORKER_RESTART_INTERVAL: Duration = Duration::from_secs(1);

/// A pool's rapid-fail protection settings, in either configuration format's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RapidFailPolicy {
    pub enabled: bool,
    /// Failures within `interval` that disable the pool.
    pub max_crashes: u32,
    pub interval: Duration,
}

/// One pool's failures on the modelled clock.
#[derive(Debug, Clone, Default)]
pub(crate) struct RapidFailClock {
    now: Duration,
    failures: Vec<Duration>,
}

impl RapidFailClock {
    /// Counts a worker failure now and moves the clock on to the next worker start. Returns the
    /// number of failures within the interval when rapid-fail protection disables the pool.
    pub fn worker_failed(&mut self, policy: RapidFailPolicy) -> Option<usize> {
        let now = self.now;
        self.failures.push(now);
        self.failures.retain(|&at| now.saturating_sub(at) < policy.interval);
        self.now += WORKER_RESTART_INTERVAL;
        let disabled = policy.enabled && self.failures.len() as u32 >= policy.max_crashes;
        disabled.then_some(self.failures.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_IN_FIVE_MINUTES: RapidFailPolicy =
        RapidFailPolicy { enabled: true, max_crashes: 5, interval: Duration::from_secs(300) };

    #[test]
    fn the_fifth_failure_within_the_interval_disables_the_pool() {
        let mut clock = RapidFailClock::default();
        for _ in 0..4 {
            assert_eq!(clock.worker_failed(FIVE_IN_FIVE_MINUTES), None);
        }
        assert_eq!(clock.worker_failed(FIVE_IN_FIVE_MINUTES), Some(5));
    }

    #[test]
    fn failures_older_than_the_interval_are_forgotten() {
        let policy = RapidFailPolicy { interval: Duration::from_secs(2), ..FIVE_IN_FIVE_MINUTES };
        let mut clock = RapidFailClock::default();
        for _ in 0..10 {
            assert_eq!(clock.worker_failed(policy), None, "only two fall within two seconds");
        }
    }

    #[test]
    fn a_pool_without_protection_is_never_disabled() {
        let policy = RapidFailPolicy { enabled: false, ..FIVE_IN_FIVE_MINUTES };
        let mut clock = RapidFailClock::default();
        assert!((0..20).all(|_| clock.worker_failed(policy).is_none()));
    }
}
