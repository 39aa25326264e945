//! Word count over a text file: the DataStream "hello world".
//!
//! ```text
//! cargo run --release --example word_count                 # the bundled text
//! cargo run --release --example word_count -- <file|dir>   # your own input
//! runnel run -p 4 target/release/examples/word_count <file>
//! ```
//!
//! As in Flink's streaming word count, every update of a word's rolling count is
//! printed, so the last line for a word holds its total. With parallelism above
//! one, each line carries the `N> ` prefix of the sink subtask that printed it.

use runnel::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let input = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/words.txt").to_string()
    });

    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.read_text_file(&input)
        .name("lines")
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            for word in line
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                out.collect((word.to_lowercase(), 1));
            }
        })
        .name("tokenize")
        .key_by(|(word, _)| word.clone())
        .sum(|(_, count)| count)
        .name("count")
        .print();

    let result = env.execute("Word Count")?;
    eprintln!("Word Count finished in {:?}", result.net_runtime);
    Ok(())
}
