//! The `runnel` command line (see `runnel --help`).

fn main() -> std::process::ExitCode {
    runnel_cli::main()
}
