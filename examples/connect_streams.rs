//! Connected streams: a control stream of words to block and a data stream of
//! words, processed together by one co-flat-map whose state is shared by both
//! inputs. Both inputs are keyed by word, so a word's control messages and its
//! data meet in the same parallel instance.
//!
//! ```text
//! cargo run --release --example connect_streams
//! ```

use runnel::prelude::*;
use std::collections::HashSet;

#[derive(Clone, Default)]
struct Blocklist {
    blocked: HashSet<String>,
}

impl CoFlatMapFunction<String, String, String> for Blocklist {
    /// A control message: block this word from now on.
    fn flat_map1(&mut self, word: String, _out: &mut Collector<'_, String>) {
        self.blocked.insert(word);
    }

    /// A data word: pass it unless blocked.
    fn flat_map2(&mut self, word: String, out: &mut Collector<'_, String>) {
        if !self.blocked.contains(&word) {
            out.collect(word);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    let control = env.from_elements(vec!["spam".to_string()]);
    // The data arrives after the control message: the data source waits a moment.
    let data = env.add_source(|ctx: &mut SourceContext<String>| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        for w in ["hello", "spam", "world", "spam", "again"] {
            ctx.collect(w.to_string());
        }
        Ok(())
    });
    control
        .connect(&data)
        .key_by(|w| w.clone(), |w| w.clone())
        .flat_map_with(Blocklist::default())
        .name("blocklist")
        .print();

    // `union` merges streams of one type; `map` on connected streams maps each side.
    let numbers = env.from_sequence(1, 3);
    let letters = env.from_elements(vec!['a', 'b']);
    numbers
        .connect(&letters)
        .map(|n| format!("number {n}"), |c| format!("letter {c}"))
        .union([&*env.from_elements(vec!["extra".to_string()])])
        .print_with_identifier("co-map");
    env.execute("Connected Streams")?;
    Ok(())
}
