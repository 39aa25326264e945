//! Word count over a socket: an unbounded stream, cancelled with Ctrl-C.
//!
//! ```text
//! nc -lk 9999                                           # in one terminal
//! cargo run --release --example socket_word_count -- localhost 9999
//! ```
//!
//! Type lines into `nc`; each word's rolling count is printed as it changes. The
//! job ends when the server closes the connection, or on Ctrl-C.

use runnel::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "localhost".to_string());
    let port: u16 = match args.next() {
        Some(p) => p.parse().map_err(|_| format!("invalid port `{p}`"))?,
        None => 9999,
    };

    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.socket_text_stream(&host, port)
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            for word in line.split_whitespace() {
                out.collect((word.to_lowercase(), 1));
            }
        })
        .key_by(|(word, _)| word.clone())
        .sum(|(_, count)| count)
        .print();
    env.execute("Socket Word Count")?;
    Ok(())
}
