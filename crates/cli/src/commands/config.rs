//! `runnel config`: list the configuration keys, or check a configuration file.

use crate::args::ConfigArgs;
use crate::report;
use anyhow::Result;
use runnel_config::{CONFIG_FILE_NAME, Configuration, ENV_CONF_DIR, ENV_CONFIG_FILE, OPTIONS};
use std::fmt::Write;
use std::process::ExitCode;

/// With `--check FILE`: prints `ok` or fails with the file's first problem.
/// Without: prints every key with its type, default and description.
pub(crate) fn config(args: &ConfigArgs) -> Result<ExitCode> {
    match &args.check {
        Some(file) => {
            Configuration::load_file(file)?;
            report::write_stdout(b"ok\n")?;
        }
        None => report::write_stdout(list().as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The reference of every configuration key.
fn list() -> String {
    let mut text = format!(
        "Configuration keys (YAML, flat `a.b: v` or nested). The file is `runnel run -c FILE`,\n\
         else ${ENV_CONFIG_FILE}, else ${ENV_CONF_DIR}/{CONFIG_FILE_NAME}.\n"
    );
    for option in OPTIONS {
        let _ = write!(
            text,
            "\n{}\n    type:    {}\n    default: {}\n    {}\n",
            option.key,
            option.kind.describe(),
            option.default,
            option.description
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_with_its_default() {
        let text = list();
        for option in OPTIONS {
            assert!(
                text.contains(&format!("\n{}\n", option.key)),
                "{}",
                option.key
            );
            assert!(text.contains(option.description));
        }
        assert!(text.contains("default: 1\n"));
    }
}
