//! The partitioners: where each record goes between a source of parallelism 2 and
//! operators of parallelism 4. Each line shows `subtask> record` (the print
//! sink's prefix), so the distribution is visible.
//!
//! ```text
//! cargo run --release --example partitioning
//! ```

use runnel::prelude::*;

/// Tags a record with the partitioning under test (prints as `(tag, value)`).
fn tagged(stream: &DataStream<u64>, tag: &'static str) -> DataStream<(String, u64)> {
    (*stream.map(move |v| (tag.to_string(), v)).set_parallelism(4)).clone()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let source = env.from_sequence(1, 8).set_parallelism(2);

    tagged(&source.rebalance(), "rebalance")
        .print()
        .set_parallelism(4);
    tagged(&source.rescale(), "rescale")
        .print()
        .set_parallelism(4);
    tagged(&source.broadcast(), "broadcast")
        .print()
        .set_parallelism(4);
    tagged(&source.global(), "global")
        .print()
        .set_parallelism(4);
    tagged(&source.shuffle(), "shuffle")
        .print()
        .set_parallelism(4);
    tagged(&source.key_by(|v| v % 2), "key_by")
        .print()
        .set_parallelism(4);
    tagged(
        &source.partition_custom(|k: &u64, n: usize| (*k as usize) % n, |v| *v),
        "custom",
    )
    .print()
    .set_parallelism(4);

    println!("{}", env.explain("Partitioning")?);
    env.execute("Partitioning")?;
    Ok(())
}
