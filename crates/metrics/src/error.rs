//! The crate's error type.

use crate::metric::MetricKind;

/// Why a metric could not be registered.
///
/// Registration never panics: a caller (usually an operator's `open`) gets one of
/// these and decides whether to fail the task or carry on without the metric.
/// Both variants are the caller's fault and retrying the same call cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// A metric of another type is already registered under this name in this group.
    #[error(
        "metric `{name}` in group `{scope}` is already registered as a {existing}, \
         cannot register it as a {requested}"
    )]
    TypeMismatch {
        /// The group's scope, components joined with `.`.
        scope: String,
        /// The metric's name.
        name: String,
        /// The type of the metric already registered.
        existing: MetricKind,
        /// The type the caller asked for.
        requested: MetricKind,
    },
    /// The metric or group name is empty or blank.
    #[error("invalid metric name `{name}` in group `{scope}`: a name must not be blank")]
    InvalidName {
        /// The group's scope, components joined with `.`.
        scope: String,
        /// The rejected name.
        name: String,
    },
}
