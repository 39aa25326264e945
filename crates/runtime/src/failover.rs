//! Restart strategies (H2): whether and when a failed job restarts. Pure: the
//! job master passes the time of each failure and waits as told.

use runnel_config::RestartStrategyConfig;
use std::collections::VecDeque;
use std::time::Duration;

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RestartDecision {
    /// Restart after this delay.
    Restart(Duration),
    /// Give up: the job fails.
    Fail,
}

/// The state of a restart strategy across the failures of one job.
#[derive(Debug, Clone)]
pub struct RestartBackoff {
    config: RestartStrategyConfig,
    restarts: u32,
    /// Failure times within the failure-rate interval (ms).
    recent: VecDeque<i64>,
    /// Exponential delay: the next wait and the time of the last failure.
    backoff: Duration,
    last_failure: Option<i64>,
    seed: u64,
}

impl RestartBackoff {
    /// A fresh strategy.
    pub fn new(config: RestartStrategyConfig) -> Self {
        let backoff = match config {
            RestartStrategyConfig::ExponentialDelay {
                initial_backoff, ..
            } => initial_backoff,
            _ => Duration::ZERO,
        };
        RestartBackoff {
            config,
            restarts: 0,
            recent: VecDeque::new(),
            backoff,
            last_failure: None,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Restarts granted so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// A failure happened at `now` (epoch ms).
    pub fn on_failure(&mut self, now: i64) -> RestartDecision {
        let decision = match self.config {
            RestartStrategyConfig::None => RestartDecision::Fail,
            RestartStrategyConfig::FixedDelay { attempts, delay } => {
                if self.restarts < attempts {
                    RestartDecision::Restart(delay)
                } else {
                    RestartDecision::Fail
                }
            }
            RestartStrategyConfig::FailureRate {
                max_failures,
                interval,
                delay,
            } => {
                // Flink's rule: keep the times of the last `max_failures`
                // failures; once there are that many and the oldest is within
                // the interval, the job fails.
                if self.recent.len() >= max_failures as usize {
                    self.recent.pop_front();
                }
                self.recent.push_back(now);
                let window = interval.as_millis() as i64;
                let full = self.recent.len() >= max_failures as usize;
                match self.recent.front() {
                    Some(oldest) if full && now.saturating_sub(*oldest) <= window => {
                        RestartDecision::Fail
                    }
                    _ => RestartDecision::Restart(delay),
                }
            }
            RestartStrategyConfig::ExponentialDelay {
                initial_backoff,
                max_backoff,
                multiplier,
                reset_threshold,
                jitter,
                attempts,
            } => {
                let stable = self
                    .last_failure
                    .is_some_and(|t| now.saturating_sub(t) >= reset_threshold.as_millis() as i64);
                if stable {
                    self.backoff = initial_backoff;
                    self.restarts = 0;
                }
                self.last_failure = Some(now);
                if self.restarts >= attempts {
                    RestartDecision::Fail
                } else {
                    let base = self.backoff.min(max_backoff);
                    let next = base.as_secs_f64() * multiplier;
                    self.backoff = Duration::from_secs_f64(next.min(max_backoff.as_secs_f64()));
                    RestartDecision::Restart(self.jittered(base, jitter))
                }
            }
        };
        if let RestartDecision::Restart(_) = decision {
            self.restarts += 1;
        }
        decision
    }

    /// `base` spread by ± `jitter` × `base`, deterministic per strategy.
    fn jittered(&mut self, base: Duration, jitter: f64) -> Duration {
        if jitter <= 0.0 {
            return base;
        }
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let unit = (self.seed >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        let factor = 1.0 + jitter * (2.0 * unit - 1.0);
        Duration::from_secs_f64((base.as_secs_f64() * factor).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn none_fails_at_once() {
        let mut r = RestartBackoff::new(RestartStrategyConfig::None);
        assert_eq!(r.on_failure(0), RestartDecision::Fail);
    }

    #[test]
    fn fixed_delay_allows_n_restarts() {
        let mut r = RestartBackoff::new(RestartStrategyConfig::FixedDelay {
            attempts: 2,
            delay: S,
        });
        assert_eq!(r.on_failure(0), RestartDecision::Restart(S));
        assert_eq!(r.on_failure(10), RestartDecision::Restart(S));
        assert_eq!(r.on_failure(20), RestartDecision::Fail);
        assert_eq!(r.restarts(), 2);
    }

    #[test]
    fn failure_rate_fails_at_the_nth_failure_within_the_interval() {
        let mut r = RestartBackoff::new(RestartStrategyConfig::FailureRate {
            max_failures: 2,
            interval: Duration::from_secs(60),
            delay: S,
        });
        assert_eq!(r.on_failure(0), RestartDecision::Restart(S));
        // The second failure comes more than an interval after the first.
        assert_eq!(r.on_failure(61_000), RestartDecision::Restart(S));
        assert_eq!(r.on_failure(62_000), RestartDecision::Fail);
    }

    #[test]
    fn exponential_delay_grows_caps_and_resets_after_a_stable_period() {
        let mut r = RestartBackoff::new(RestartStrategyConfig::ExponentialDelay {
            initial_backoff: S,
            max_backoff: Duration::from_secs(3),
            multiplier: 2.0,
            reset_threshold: Duration::from_secs(100),
            jitter: 0.0,
            attempts: u32::MAX,
        });
        let waits: Vec<_> = [0, 1, 2, 3]
            .into_iter()
            .map(|t| r.on_failure(t * 1000))
            .collect();
        assert_eq!(
            waits,
            [1, 2, 3, 3].map(|s| RestartDecision::Restart(Duration::from_secs(s)))
        );
        assert_eq!(r.on_failure(200_000), RestartDecision::Restart(S), "reset");
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let mut r = RestartBackoff::new(RestartStrategyConfig::ExponentialDelay {
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            multiplier: 1.0,
            reset_threshold: Duration::from_secs(3600),
            jitter: 0.1,
            attempts: u32::MAX,
        });
        for i in 0..50 {
            let RestartDecision::Restart(d) = r.on_failure(i) else {
                panic!()
            };
            assert!((9.0..=11.0).contains(&d.as_secs_f64()), "{d:?}");
        }
    }
}
