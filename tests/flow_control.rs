//! Data exchange between tasks (I1): bounded channels give backpressure, and the
//! buffer timeout decides when partly filled buffers leave a task.

use runnel::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn unbounded_counter()
-> impl FnMut(&mut SourceContext<u64>) -> Result<(), BoxError> + Clone + Send + 'static {
    |ctx: &mut SourceContext<u64>| {
        let mut i = 0;
        while ctx.is_running() {
            ctx.collect(i);
            i += 1;
        }
        Ok(())
    }
}

#[test]
fn a_slow_consumer_holds_back_a_fast_producer() {
    let env = StreamExecutionEnvironment::local();
    let consumed = Arc::new(AtomicU64::new(0));
    let c = consumed.clone();
    env.add_source(unbounded_counter())
        .name("fast")
        .map(|x| x)
        .name("relay")
        .disable_chaining()
        .add_sink(move |_x: u64| {
            c.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_micros(200));
        })
        .name("slow")
        .disable_chaining();
    let client = env.execute_async("backpressure").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let totals = client.operator_totals();
    let produced = totals
        .iter()
        .find(|o| o.name == "fast")
        .unwrap()
        .records_out;
    let delivered = consumed.load(Ordering::Relaxed);
    client.cancel();
    let _ = client.wait();
    // Without backpressure the source would have produced tens of millions. With
    // it, what is ahead of the sink is bounded by the channel capacities: two
    // channels of 10 buffers of 32 KiB, about 3,600 records of 9 bytes each.
    let in_flight = produced - delivered;
    assert!(delivered > 1_000, "the sink made progress ({delivered})");
    assert!(
        in_flight < 200_000,
        "produced {produced}, delivered {delivered}: {in_flight} records in flight"
    );
}

/// Emits one record, then idles until cancelled.
fn one_then_idle()
-> impl FnMut(&mut SourceContext<String>) -> Result<(), BoxError> + Clone + Send + 'static {
    |ctx: &mut SourceContext<String>| {
        ctx.collect("ping".to_string());
        while ctx.is_running() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// Runs a job whose single record crosses a task boundary; returns how long it
/// took to arrive (or `None` within `patience`).
fn arrival_with_buffer_timeout(millis: i64, patience: Duration) -> Option<Duration> {
    let env = StreamExecutionEnvironment::local();
    env.set_buffer_timeout(millis);
    let arrived: Arc<Mutex<Option<Instant>>> = Arc::default();
    let a = arrived.clone();
    env.add_source(one_then_idle())
        .rebalance()
        .add_sink(move |_s: String| {
            a.lock().unwrap().get_or_insert_with(Instant::now);
        });
    let started = Instant::now();
    let client = env.execute_async("latency").unwrap();
    let deadline = started + patience;
    while Instant::now() < deadline && arrived.lock().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
    client.cancel();
    let _ = client.wait();
    let at = *arrived.lock().unwrap();
    at.map(|t| t - started)
}

#[test]
fn buffer_timeout_zero_sends_every_record_at_once() {
    let latency = arrival_with_buffer_timeout(0, Duration::from_secs(5)).expect("delivered");
    assert!(latency < Duration::from_secs(2), "{latency:?}");
}

#[test]
fn buffer_timeout_interval_flushes_partly_filled_buffers() {
    let latency = arrival_with_buffer_timeout(50, Duration::from_secs(5))
        .expect("delivered by the periodic flush");
    assert!(latency < Duration::from_secs(3), "{latency:?}");
}

#[test]
fn disabled_buffer_timeout_holds_records_until_the_buffer_fills() {
    assert_eq!(
        arrival_with_buffer_timeout(-1, Duration::from_millis(700)),
        None,
        "a lone record waits for a full buffer"
    );
}

#[test]
fn invalid_buffer_timeout_is_rejected() {
    let env = StreamExecutionEnvironment::local();
    env.set_buffer_timeout(-7);
    env.from_sequence(0, 1).print();
    let message = env.execute("bad timeout").unwrap_err().to_string();
    assert!(message.contains("buffer timeout"), "{message}");
}

#[test]
fn records_cross_tasks_in_order_per_channel() {
    let env = StreamExecutionEnvironment::local();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    env.from_sequence(0, 199_999)
        .set_parallelism(1)
        .map(|x| x)
        .disable_chaining()
        .add_sink(move |x: u64| s.lock().unwrap().push(x));
    env.execute("order").unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 200_000);
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1));
}
