//! The TaskManager's side of its session with the JobManager, as a pure state
//! machine (STYLE habit 4): the outcome of the last request and the time in,
//! the next request and when to send it out. The TaskManager's thread does
//! the HTTP and the waiting.
//!
//! States and transitions:
//! - *registering* (since `t0`): a registration is sent at once, then after
//!   each failure the JobManager may recover from (unreachable, `5xx`) after a
//!   backoff doubling from 100 ms to 10 s; when the registration timeout has
//!   passed since `t0`, the session ends with
//!   [`RegistrationTimeout`](crate::TaskManagerError::RegistrationTimeout);
//! - *registered*: a heartbeat every interval the JobManager answered. A
//!   heartbeat answered `404` means the JobManager no longer knows this
//!   TaskManager (it declared it lost, or restarted): register again at once.
//!   A heartbeat that fails otherwise is retried at the next interval; once
//!   no heartbeat got through for the heartbeat timeout the JobManager is
//!   taken as lost and registration starts again (a new `t0`);
//! - a refusal that repeating cannot change (another version, `400`, `401`)
//!   ends the session with it, in either state.

use crate::TaskManagerError;
use std::time::{Duration, Instant};

/// The first wait after a failed registration.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between registration attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The shortest heartbeat interval followed, whatever the JobManager says.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What came of the last request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The JobManager accepted the registration with these heartbeat settings.
    Registered {
        interval: Duration,
        timeout: Duration,
    },
    /// The JobManager took the heartbeat.
    HeartbeatTaken,
    /// The JobManager does not know this TaskManager (a heartbeat's `404`).
    Unknown,
    /// The JobManager could not be reached or failed (`5xx`); it may recover.
    Unreachable(String),
    /// The JobManager refused in a way that repeating cannot change.
    Refused(TaskManagerError),
}

/// The next thing to do.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send a registration at `at`.
    Register { at: Instant },
    /// Send a heartbeat at `at`.
    Heartbeat { at: Instant },
    /// Stop: the session has failed for good.
    Fail(TaskManagerError),
}

#[derive(Debug, Clone, Copy)]
enum State {
    Registering {
        since: Instant,
        backoff: Duration,
    },
    Registered {
        interval: Duration,
        timeout: Duration,
        last_taken: Instant,
    },
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Session {
    jobmanager: std::net::SocketAddr,
    id: String,
    registration_timeout: Duration,
    state: State,
}

impl Session {
    /// A session about to register at `now`; the first step is
    /// `Register { at: now }`.
    pub(crate) fn new(
        jobmanager: std::net::SocketAddr,
        id: String,
        registration_timeout: Duration,
        now: Instant,
    ) -> (Session, Step) {
        let session = Session {
            jobmanager,
            id,
            registration_timeout,
            state: State::Registering {
                since: now,
                backoff: INITIAL_BACKOFF,
            },
        };
        (session, Step::Register { at: now })
    }

    /// Whether the JobManager has this TaskManager registered, as far as the
    /// session knows.
    pub(crate) fn is_registered(&self) -> bool {
        matches!(self.state, State::Registered { .. })
    }

    /// The step after `outcome`, which arrived at `now`.
    pub(crate) fn on(&mut self, outcome: Outcome, now: Instant) -> Step {
        match (outcome, self.state) {
            (Outcome::Refused(e), _) => Step::Fail(e),
            (Outcome::Registered { interval, timeout }, _) => {
                let interval = interval.max(MIN_INTERVAL);
                self.state = State::Registered {
                    interval,
                    timeout: timeout.max(interval),
                    last_taken: now,
                };
                Step::Heartbeat { at: now + interval }
            }
            (Outcome::HeartbeatTaken, State::Registered { interval, .. }) => {
                if let State::Registered { last_taken, .. } = &mut self.state {
                    *last_taken = now;
                }
                Step::Heartbeat { at: now + interval }
            }
            (Outcome::Unknown, _) => {
                log::info!(
                    "TaskManager {}: the JobManager at {} does not know it (declared lost or \
                     restarted); registering again",
                    self.id,
                    self.jobmanager
                );
                self.register_again(now)
            }
            (
                Outcome::Unreachable(why),
                State::Registered {
                    interval,
                    timeout,
                    last_taken,
                },
            ) => {
                if now.saturating_duration_since(last_taken) > timeout {
                    log::warn!(
                        "TaskManager {}: no heartbeat reached the JobManager at {} for {} ms \
                         ({why}); registering again",
                        self.id,
                        self.jobmanager,
                        now.saturating_duration_since(last_taken).as_millis()
                    );
                    self.register_again(now)
                } else {
                    log::warn!(
                        "TaskManager {}: heartbeat to the JobManager at {} failed: {why}",
                        self.id,
                        self.jobmanager
                    );
                    Step::Heartbeat { at: now + interval }
                }
            }
            (Outcome::Unreachable(why), State::Registering { since, backoff }) => {
                let deadline = since + self.registration_timeout;
                if now >= deadline {
                    return Step::Fail(TaskManagerError::RegistrationTimeout {
                        jobmanager: self.jobmanager,
                        id: self.id.clone(),
                        timeout: self.registration_timeout,
                        last_error: why,
                    });
                }
                log::debug!(
                    "TaskManager {}: registration with the JobManager at {} failed, retrying \
                     in {} ms: {why}",
                    self.id,
                    self.jobmanager,
                    backoff.as_millis()
                );
                self.state = State::Registering {
                    since,
                    backoff: (backoff * 2).min(MAX_BACKOFF),
                };
                Step::Register {
                    at: (now + backoff).min(deadline),
                }
            }
            // A heartbeat taken while registering cannot happen (one request
            // at a time); register, which is always safe.
            (Outcome::HeartbeatTaken, State::Registering { .. }) => Step::Register { at: now },
        }
    }

    fn register_again(&mut self, now: Instant) -> Step {
        self.state = State::Registering {
            since: now,
            backoff: INITIAL_BACKOFF,
        };
        Step::Register { at: now }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A session of 1 s registration timeout started at `t0`.
    fn session(t0: Instant) -> Session {
        let (s, step) = Session::new(
            "127.0.0.1:6123".parse().unwrap(),
            "tm-1".into(),
            1_000 * MS,
            t0,
        );
        assert!(matches!(step, Step::Register { at } if at == t0));
        s
    }

    /// When the step is due, relative to `t0`, and what it is.
    fn at(step: &Step, t0: Instant) -> (&'static str, Duration) {
        match step {
            Step::Register { at } => ("register", *at - t0),
            Step::Heartbeat { at } => ("heartbeat", *at - t0),
            Step::Fail(_) => ("fail", Duration::ZERO),
        }
    }

    fn down() -> Outcome {
        Outcome::Unreachable("connection refused".into())
    }

    #[test]
    fn registration_backs_off_until_the_timeout() {
        let t0 = Instant::now();
        let mut s = session(t0);
        // (failure at, next step)
        let table = [
            (0, ("register", 100)),
            (100, ("register", 300)),
            (300, ("register", 700)),
            (700, ("register", 1_000)),
        ];
        for (now, (what, due)) in table {
            let step = s.on(down(), t0 + now * MS);
            assert_eq!(at(&step, t0), (what, due * MS), "after a failure at {now}");
        }
        let last = s.on(down(), t0 + 1_000 * MS);
        let Step::Fail(e) = last else {
            panic!("{last:?}")
        };
        assert!(
            matches!(&e, TaskManagerError::RegistrationTimeout { last_error, .. } if last_error == "connection refused"),
            "{e}"
        );
        assert!(!s.is_registered());
    }

    #[test]
    fn heartbeats_follow_the_interval_and_a_404_registers_again() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let registered = Outcome::Registered {
            interval: 100 * MS,
            timeout: 500 * MS,
        };
        assert_eq!(at(&s.on(registered, t0), t0), ("heartbeat", 100 * MS));
        assert!(s.is_registered());
        let step = s.on(Outcome::HeartbeatTaken, t0 + 100 * MS);
        assert_eq!(at(&step, t0), ("heartbeat", 200 * MS));
        let step = s.on(Outcome::Unknown, t0 + 200 * MS);
        assert_eq!(at(&step, t0), ("register", 200 * MS));
        assert!(!s.is_registered());
        // The registration timeout counts from the 404, not from the start.
        let step = s.on(down(), t0 + 1_100 * MS);
        assert_eq!(at(&step, t0), ("register", 1_200 * MS));
    }

    #[test]
    fn heartbeats_fail_for_the_timeout_before_the_jobmanager_is_lost() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.on(
            Outcome::Registered {
                interval: 100 * MS,
                timeout: 500 * MS,
            },
            t0,
        );
        for now in [100, 200, 300, 400, 500] {
            let step = s.on(down(), t0 + now * MS);
            assert_eq!(at(&step, t0), ("heartbeat", (now + 100) * MS), "at {now}");
        }
        let step = s.on(down(), t0 + 501 * MS);
        assert_eq!(at(&step, t0), ("register", 501 * MS));
    }

    #[test]
    fn refusals_end_the_session_in_any_state() {
        let t0 = Instant::now();
        let refused = || {
            Outcome::Refused(TaskManagerError::IncompatibleVersion {
                jobmanager: "127.0.0.1:6123".parse().unwrap(),
                message: "incompatible TaskManager version".into(),
            })
        };
        let mut s = session(t0);
        assert!(matches!(s.on(refused(), t0), Step::Fail(_)));
        let mut s = session(t0);
        s.on(
            Outcome::Registered {
                interval: Duration::ZERO,
                timeout: Duration::ZERO,
            },
            t0,
        );
        let step = s.on(Outcome::HeartbeatTaken, t0);
        assert_eq!(at(&step, t0), ("heartbeat", MIN_INTERVAL), "a floor");
        assert!(matches!(s.on(refused(), t0), Step::Fail(_)));
    }
}
