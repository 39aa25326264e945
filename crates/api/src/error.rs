//! Errors of the API layer.

use runnel_config::ConfigError;
use thiserror::Error;

/// The environment could not be set up from its configuration. `Debug` prints the
/// message, so a `main` returning it shows a readable report.
#[derive(Error)]
pub enum EnvironmentError {
    /// The configuration file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An environment variable set by `runnel run` has a bad value.
    #[error("environment variable {name}={value}: {problem}")]
    Variable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl std::fmt::Debug for EnvironmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}
