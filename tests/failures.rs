//! Failures: user code that panics or errs, bad input, cancellation. A failing job
//! ends with an error naming the operator and subtask, never a hang or an abort.

mod common;

use common::temp_dir;
use runnel::prelude::*;
use runnel::runtime::{Fault, TaskError};
use std::time::{Duration, Instant};

fn failure_cause(err: JobError) -> TaskError {
    match err {
        JobError::Failed { cause, .. } => cause,
        other => panic!("expected a failed job, got {other}"),
    }
}

#[test]
fn a_panic_in_user_code_fails_the_job_naming_operator_and_subtask() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    env.from_sequence(1, 1000)
        .map(|x| {
            assert!(x != 777, "bad record {x}");
            x
        })
        .name("validate")
        .print();
    let started = Instant::now();
    let err = env.execute("panics").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`validate` (subtask 2/2)") && message.contains("bad record 777"),
        "{message}"
    );
    let cause = failure_cause(err);
    assert!(matches!(cause, TaskError::UserPanic { .. }));
    assert_eq!(cause.fault(), Fault::User);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[derive(Clone)]
struct FailingSink;

impl SinkFunction<u64> for FailingSink {
    fn invoke(&mut self, value: u64, _ctx: &SinkContext) -> Result<(), BoxError> {
        if value == 50 {
            return Err(std::io::Error::other("disk full").into());
        }
        Ok(())
    }
}

#[test]
fn an_error_returned_by_a_sink_fails_the_job() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 100)
        .add_sink(FailingSink)
        .name("archive");
    let message = env.execute("sink error").unwrap_err().to_string();
    assert!(
        message.contains("`archive` (subtask 1/1) failed: disk full"),
        "{message}"
    );
}

#[test]
fn the_operator_that_failed_is_blamed_not_the_one_feeding_it() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 10)
        .map(|x| x)
        .name("innocent")
        .map(|x: u64| if x == 5 { panic!("guilty") } else { x })
        .name("culprit")
        .print();
    let message = env.execute("blame").unwrap_err().to_string();
    assert!(
        message.contains("`culprit`") && !message.contains("innocent"),
        "{message}"
    );
}

#[test]
fn a_failure_downstream_cancels_an_unbounded_source_upstream() {
    let env = StreamExecutionEnvironment::local();
    env.add_source(|ctx: &mut SourceContext<u64>| {
        let mut i = 0;
        while ctx.is_running() {
            ctx.collect(i);
            i += 1;
        }
        Ok(())
    })
    .rebalance()
    .map(|x: u64| if x == 10_000 { panic!("stop here") } else { x })
    .set_parallelism(2)
    .add_sink(|_x: u64| {});
    let started = Instant::now();
    let message = env.execute("cascade").unwrap_err().to_string();
    assert!(
        message.contains("stop here"),
        "the root cause is reported, not the cancellation: {message}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_panic_in_a_user_source_is_reported_as_the_sources() {
    let env = StreamExecutionEnvironment::local();
    env.add_source(|ctx: &mut SourceContext<u64>| {
        ctx.collect(1);
        panic!("sensor disconnected")
    })
    .name("Source: sensors")
    .print();
    let message = env.execute("source panic").unwrap_err().to_string();
    assert!(
        message.contains("`Source: sensors`") && message.contains("sensor disconnected"),
        "{message}"
    );
}

#[test]
fn a_missing_input_file_is_named() {
    let missing = temp_dir("missing").join("nope.txt");
    let env = StreamExecutionEnvironment::local();
    env.read_text_file(&missing).print();
    let message = env.execute("missing").unwrap_err().to_string();
    assert!(
        message.contains("nope.txt") && message.contains("does not exist"),
        "{message}"
    );
}

#[test]
fn invalid_utf8_names_file_and_line() {
    let file = temp_dir("utf8").join("bad.txt");
    std::fs::write(&file, b"ok\nalso ok\nbad \xff byte\n").unwrap();
    let env = StreamExecutionEnvironment::local();
    env.read_text_file(&file).print();
    let message = env.execute("utf8").unwrap_err().to_string();
    assert!(
        message.contains("bad.txt") && message.contains("line 3") && message.contains("UTF-8"),
        "{message}"
    );
}

#[test]
fn cancelling_an_unbounded_job_ends_it_cleanly() {
    let env = StreamExecutionEnvironment::local();
    env.add_source(|ctx: &mut SourceContext<u64>| {
        while ctx.is_running() {
            ctx.collect(1);
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    })
    .key_by(|x: &u64| *x)
    .reduce(|a, b| a + b)
    .set_parallelism(2)
    .add_sink(|_x: u64| {});
    let client = env.execute_async("forever").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled { .. })));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_engine_survives_a_failed_job_and_runs_the_next() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 3)
        .map(|_x: u64| -> u64 { panic!("first job fails") })
        .print();
    assert!(env.execute("first").is_err());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(0u64));
    let sink = seen.clone();
    env.from_sequence(1, 3)
        .add_sink(move |x: u64| *sink.lock().unwrap() += x);
    env.execute("second").unwrap();
    assert_eq!(*seen.lock().unwrap(), 6);
}
