//! Rich functions (B4): open/close once per parallel instance, with a runtime context.

use runnel::prelude::*;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Open {
        subtask: u32,
        parallelism: u32,
        job: String,
        task: String,
        operator: String,
    },
    Record {
        subtask: u32,
    },
    Close {
        subtask: u32,
    },
}

#[derive(Clone)]
struct Lifecycle {
    events: Arc<Mutex<Vec<Event>>>,
    subtask: Option<u32>,
}

impl MapFunction<u64, u64> for Lifecycle {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        assert!(self.subtask.is_none(), "open twice on one instance");
        self.subtask = Some(ctx.subtask_index());
        self.events.lock().unwrap().push(Event::Open {
            subtask: ctx.subtask_index(),
            parallelism: ctx.parallelism(),
            job: ctx.job_name().to_string(),
            task: ctx.task_name_with_subtasks(),
            operator: ctx.operator_name().to_string(),
        });
        Ok(())
    }

    fn map(&mut self, value: u64) -> u64 {
        let subtask = self.subtask.expect("map before open");
        self.events.lock().unwrap().push(Event::Record { subtask });
        value
    }

    fn close(&mut self) -> Result<(), BoxError> {
        let subtask = self.subtask.expect("close before open");
        self.events.lock().unwrap().push(Event::Close { subtask });
        Ok(())
    }
}

#[test]
fn open_and_close_run_once_per_subtask_around_the_records() {
    let env = StreamExecutionEnvironment::local();
    let events = Arc::new(Mutex::new(Vec::new()));
    env.from_sequence(1, 90)
        .set_parallelism(1)
        .rebalance()
        .map_with(Lifecycle {
            events: events.clone(),
            subtask: None,
        })
        .name("tracked")
        .set_parallelism(3)
        .add_sink(|_v: u64| {});
    env.execute("lifecycle job").unwrap();
    let events = events.lock().unwrap().clone();
    for s in 0..3 {
        let mine: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e, Event::Open { subtask, .. } | Event::Record { subtask } | Event::Close { subtask } if *subtask == s))
            .collect();
        assert_eq!(mine.len(), 1 + 30 + 1, "subtask {s}: {mine:?}");
        assert_eq!(
            mine[0],
            &Event::Open {
                subtask: s,
                parallelism: 3,
                job: "lifecycle job".into(),
                task: format!("tracked ({}/3)#0", s + 1),
                operator: "tracked".into()
            }
        );
        assert!(
            mine[1..31]
                .iter()
                .all(|e| matches!(e, Event::Record { .. }))
        );
        assert_eq!(mine[31], &Event::Close { subtask: s });
    }
}

#[derive(Clone)]
struct FailingOpen;

impl MapFunction<u64, u64> for FailingOpen {
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Err("database unreachable".into())
    }
    fn map(&mut self, value: u64) -> u64 {
        value
    }
}

#[test]
fn an_error_in_open_fails_the_job_naming_the_operator() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 10)
        .map_with(FailingOpen)
        .name("enrich")
        .set_parallelism(2)
        .print();
    let err = env.execute("open fails").unwrap_err().to_string();
    assert!(
        err.contains("`enrich`") && err.contains("database unreachable"),
        "{err}"
    );
}

#[test]
fn closures_are_functions_too() {
    let env = StreamExecutionEnvironment::local();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let offset = 100u64;
    env.from_sequence(1, 3)
        .map_with(move |v: u64| v + offset)
        .filter_with(|v: &u64| v % 2 == 1)
        .add_sink(move |v: u64| sink.lock().unwrap().push(v));
    env.execute("closures").unwrap();
    let mut got = seen.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, [101, 103]);
}
