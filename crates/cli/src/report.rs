//! Output helpers: errors with their cause chain, and standard output that
//! tolerates a closed pipe (`runnel config | head` must not panic).

use anyhow::Result;
use std::io::{self, Write};

/// Prints `error: <message>` and each further cause on its own line, skipping a
/// cause whose text the previous message already contains.
pub(crate) fn print_error(error: &anyhow::Error) {
    let _ = writeln!(io::stderr().lock(), "{}", format_error(error));
}

fn format_error(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}");
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !previous.contains(&cause) {
            text.push_str("\n  caused by: ");
            text.push_str(&cause);
        }
        previous = cause;
    }
    text
}

/// Writes `bytes` to standard output; a reader that went away is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<()> {
    write_ignoring_broken_pipe(&mut io::stdout().lock(), bytes)
}

/// Writes `bytes` to standard error (forwarded job output).
pub(crate) fn write_stderr(bytes: &[u8]) -> Result<()> {
    write_ignoring_broken_pipe(&mut io::stderr().lock(), bytes)
}

fn write_ignoring_broken_pipe(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_cause_chain_is_printed_without_repetition() {
        let io = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let err = Err::<(), _>(io)
            .context("cannot read x.yaml: no such file")
            .context("checking the configuration")
            .unwrap_err();
        assert_eq!(
            format_error(&err),
            "error: checking the configuration\n  caused by: cannot read x.yaml: no such file"
        );
    }
}
