//! A tiny job for testing the `runnel` command line (tests/cli.rs).
//!
//! It prints `PARALLELISM <n>`, the default parallelism its environment sees
//! (from `-p` or the config file), then runs a small word count:
//! from_elements → map → key_by → reduce → print (lines start with `probe`).
//!
//! Flags, for the tests: `--exit-code N` exits with N after the job,
//! `--no-execute` never calls `execute`, `--abort` aborts before executing.
//!
//! ```text
//! cargo build --example cli_probe_job
//! runnel run -p 3 target/debug/examples/cli_probe_job
//! runnel explain target/debug/examples/cli_probe_job
//! ```

use runnel::prelude::*;
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let mut exit_code = None;
    let mut execute = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exit-code" => {
                let code = args.next().ok_or("--exit-code needs a value")?;
                exit_code = Some(code.parse::<i32>()?);
            }
            "--no-execute" => execute = false,
            "--abort" => std::process::abort(),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let env = StreamExecutionEnvironment::get_execution_environment()?;
    println!("PARALLELISM {}", env.parallelism());
    env.from_elements(["to", "be", "or", "not", "to", "be"].map(String::from))
        .map(|word| (word, 1u64))
        .key_by(|(word, _)| word.clone())
        .reduce(|(word, a), (_, b)| (word, a + b))
        .print_with_identifier("probe");
    if execute {
        env.execute("cli probe")?;
    }
    if let Some(code) = exit_code {
        std::process::exit(code);
    }
    Ok(())
}
