//! A first end-to-end job.

use runnel::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[test]
fn word_count_smoke() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let out: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let sink = out.clone();
    env.from_elements(vec!["a b a".to_string(), "b a c".to_string()])
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            for w in line.split(' ') {
                out.collect((w.to_string(), 1));
            }
        })
        .key_by(|(w, _)| w.clone())
        .sum(|(_, c)| c)
        .add_sink(move |v| sink.lock().unwrap().push(v));
    let result = env.execute("wc").unwrap();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for (w, c) in out.lock().unwrap().iter() {
        let e = last.entry(w.clone()).or_default();
        *e = (*e).max(*c);
    }
    assert_eq!(
        last,
        BTreeMap::from([("a".into(), 3), ("b".into(), 2), ("c".into(), 1)])
    );
    println!("{result:?}");
}
