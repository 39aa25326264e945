//! Errors of the API layer.

use runnel_config::ConfigError;
use thiserror::Error;

/// The environment could not be set up from its configuration.
#[derive(Debug, Error)]
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
