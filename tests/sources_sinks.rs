//! Built-in and user-defined sources (B1) and sinks (B5).

mod common;

use common::{Collected, temp_dir};
use runnel::prelude::*;
use runnel::runtime::JobClient;
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn cancel_and_expect_cancelled(client: JobClient) {
    client.cancel();
    match client.wait() {
        Err(JobError::Cancelled { .. }) => {}
        other => panic!("expected cancellation, got {other:?}"),
    }
}

#[test]
fn from_iter_emits_the_items_in_order() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_iter((0..2500u32).map(|i| i * 2))
        .add_sink(out.sink());
    env.execute("iter").unwrap();
    assert_eq!(
        out.values(),
        (0..2500u32).map(|i| i * 2).collect::<Vec<_>>()
    );
}

#[test]
fn sequence_is_split_contiguously_over_subtasks() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(3); // the sink chains to each source subtask
    let out = Collected::new();
    env.from_sequence(10, 5009).add_sink(out.sink());
    env.execute("sequence").unwrap();
    let all = out.with_subtasks();
    assert_eq!(all.len(), 5000);
    for s in 0..3u32 {
        let mine: Vec<u64> = all
            .iter()
            .filter(|(t, _)| *t == s)
            .map(|(_, v)| *v)
            .collect();
        assert!(!mine.is_empty());
        assert!(
            mine.windows(2).all(|w| w[1] == w[0] + 1),
            "subtask {s} emits a contiguous increasing range"
        );
    }
    let mut values: Vec<u64> = all.iter().map(|(_, v)| *v).collect();
    values.sort();
    assert_eq!(values, (10..=5009).collect::<Vec<_>>());
}

#[test]
fn generator_emits_each_index_once() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let out = Collected::new();
    env.from_generator(3000, |i| format!("event-{i}"))
        .add_sink(out.sink());
    env.execute("generator").unwrap();
    let mut expected: Vec<String> = (0..3000).map(|i| format!("event-{i}")).collect();
    expected.sort();
    assert_eq!(out.sorted(), expected);
}

#[test]
fn generator_rate_limit_paces_the_source() {
    use runnel::connectors::DataGeneratorSource;
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_source(
        DataGeneratorSource::new(40, |i| i).with_rate_limit(200.0),
        "limited",
    )
    .add_sink(out.sink());
    let started = Instant::now();
    env.execute("rate").unwrap();
    assert_eq!(out.values().len(), 40);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "40 records at 200/s take about 200 ms"
    );
}

#[test]
fn text_file_lines_are_read_with_line_endings_stripped() {
    let dir = temp_dir("textfile");
    let file = dir.join("input.txt");
    std::fs::write(&file, "first line\r\nsecond\n\nlast without newline").unwrap();
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.read_text_file(&file).add_sink(out.sink());
    env.execute("file").unwrap();
    assert_eq!(
        out.values(),
        ["first line", "second", "", "last without newline"]
    );
}

#[test]
fn a_directory_is_read_recursively_skipping_hidden_files() {
    let dir = temp_dir("textdir");
    std::fs::write(dir.join("a.txt"), "a1\na2\n").unwrap();
    std::fs::create_dir(dir.join("nested")).unwrap();
    std::fs::write(dir.join("nested").join("b.txt"), "b1\n").unwrap();
    std::fs::write(dir.join(".hidden"), "secret\n").unwrap();
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let out = Collected::new();
    env.read_text_file(&dir).add_sink(out.sink());
    env.execute("dir").unwrap();
    assert_eq!(out.sorted(), ["a1", "a2", "b1"]);
}

#[test]
fn a_large_file_is_read_in_parallel_without_losing_or_duplicating_lines() {
    let dir = temp_dir("bigfile");
    let file = dir.join("big.txt");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let lines: Vec<String> = (0..120_000u32)
        .map(|i| format!("line {i} {}", "x".repeat((i % 53) as usize)))
        .collect();
    for l in &lines {
        writeln!(w, "{l}").unwrap();
    }
    drop(w);
    assert!(
        std::fs::metadata(&file).unwrap().len() > 4 << 20,
        "big enough for several splits"
    );
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(3); // the sink chains to each source subtask
    let out = Collected::new();
    env.read_text_file(&file).add_sink(out.sink());
    env.execute("big file").unwrap();
    let per_subtask = out.with_subtasks();
    for s in 0..3 {
        assert!(
            per_subtask.iter().any(|(t, _)| *t == s),
            "subtask {s} read a share of the file"
        );
    }
    let mut expected = lines;
    expected.sort();
    assert_eq!(out.sorted(), expected);
}

#[test]
fn continuous_mode_picks_up_new_files_until_cancelled() {
    let dir = temp_dir("watch");
    std::fs::write(dir.join("1.txt"), "one\n").unwrap();
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let out = Collected::new();
    env.read_file(
        &dir,
        FileProcessingMode::ProcessContinuously(Duration::from_millis(20)),
    )
    .add_sink(out.sink());
    let client = env.execute_async("watch").unwrap();
    wait_for("the first file", Duration::from_secs(10), || {
        out.values().len() == 1
    });
    // Write elsewhere, then move in: files must appear atomically.
    let staged = temp_dir("watch-staging").join("2.txt");
    std::fs::write(&staged, "two\nthree\n").unwrap();
    std::fs::rename(&staged, dir.join("2.txt")).unwrap();
    wait_for("the new file", Duration::from_secs(10), || {
        out.values().len() == 3
    });
    cancel_and_expect_cancelled(client);
    assert_eq!(out.sorted(), ["one", "three", "two"]);
}

#[test]
fn socket_text_stream_reads_lines_until_the_server_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"hello world\nsecond line\r\nthird")
            .unwrap();
    });
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.socket_text_stream("127.0.0.1", port)
        .add_sink(out.sink());
    env.execute("socket").unwrap();
    server.join().unwrap();
    assert_eq!(out.values(), ["hello world", "second line", "third"]);
}

#[test]
fn socket_connection_refused_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = StreamExecutionEnvironment::local();
    env.socket_text_stream("127.0.0.1", port).print();
    let err = env.execute("socket").unwrap_err().to_string();
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("Socket Stream"),
        "{err}"
    );
}

#[test]
fn socket_source_is_cancelled_while_blocked_reading() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"only line\n").unwrap();
        std::thread::sleep(Duration::from_secs(30));
    });
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.socket_text_stream("127.0.0.1", port)
        .add_sink(out.sink());
    let client = env.execute_async("socket").unwrap();
    wait_for("the line", Duration::from_secs(10), || {
        out.values().len() == 1
    });
    let started = Instant::now();
    cancel_and_expect_cancelled(client);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cancellation unblocks the read"
    );
    drop(server);
}

#[test]
fn user_source_runs_until_cancelled() {
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.add_source(move |ctx: &mut SourceContext<u64>| {
        let mut i = 0;
        while ctx.is_running() {
            ctx.collect(i);
            i += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        flag.store(true, Ordering::SeqCst);
        Ok(())
    })
    .add_sink(out.sink());
    let client = env.execute_async("unbounded").unwrap();
    wait_for("some records", Duration::from_secs(10), || {
        out.values().len() >= 20
    });
    cancel_and_expect_cancelled(client);
    assert!(
        stopped.load(Ordering::SeqCst),
        "run() saw is_running() turn false and returned"
    );
    let values = out.values();
    assert!(
        values.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none lost"
    );
}

#[test]
fn a_user_source_that_returns_ends_the_job() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.add_source(|ctx: &mut SourceContext<String>| {
        for w in ["a", "b", "c"] {
            ctx.collect(w.to_string());
        }
        Ok(())
    })
    .add_sink(out.sink());
    env.execute("bounded user source").unwrap();
    assert_eq!(out.values(), ["a", "b", "c"]);
}

/// A parallel source where each instance emits its own subtask index.
#[derive(Clone, Default)]
struct WhoAmI {
    me: u32,
    of: u32,
}

impl SourceFunction<(u32, u32)> for WhoAmI {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.me = ctx.subtask_index();
        self.of = ctx.parallelism();
        Ok(())
    }
    fn run(&mut self, ctx: &mut SourceContext<(u32, u32)>) -> Result<(), BoxError> {
        ctx.collect((self.me, self.of));
        Ok(())
    }
}

#[test]
fn parallel_user_sources_know_their_subtask() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.add_parallel_source(WhoAmI::default())
        .set_parallelism(3)
        .add_sink(out.sink());
    env.execute("parallel source").unwrap();
    assert_eq!(out.sorted(), [(0, 3), (1, 3), (2, 3)]);
}

#[test]
fn non_parallel_user_sources_refuse_parallelism() {
    let env = StreamExecutionEnvironment::local();
    env.add_source(WhoAmI::default()).set_parallelism(2).print();
    let err = env.execute("x").unwrap_err().to_string();
    assert!(err.contains("not parallel"), "{err}");
}

#[test]
fn pull_based_user_source() {
    struct Countdown(u32);
    struct CountdownReader(u32);
    impl Source<u32> for Countdown {
        type Reader = CountdownReader;
        fn boundedness(&self) -> runnel::runtime::source::Boundedness {
            runnel::runtime::source::Boundedness::Bounded
        }
        fn create_reader(&self, ctx: &SourceReaderContext) -> Result<CountdownReader, BoxError> {
            Ok(CountdownReader(
                self.0 + ctx.runtime().subtask_index() * 100,
            ))
        }
    }
    impl SourceReader<u32> for CountdownReader {
        fn poll_next(&mut self, out: &mut SourceOutput<'_, u32>) -> Result<InputStatus, BoxError> {
            if self.0.is_multiple_of(100) {
                return Ok(InputStatus::EndOfInput);
            }
            out.collect(self.0);
            self.0 -= 1;
            Ok(InputStatus::MoreAvailable)
        }
    }
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_source(Countdown(3), "countdown")
        .set_parallelism(2)
        .add_sink(out.sink());
    env.execute("pull").unwrap();
    assert_eq!(out.sorted(), [1, 2, 3, 101, 102, 103]);
}

#[test]
fn text_sink_writes_a_file_at_parallelism_one_and_a_directory_above() {
    let dir = temp_dir("textsink");
    let single = dir.join("out.txt");
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 5)
        .write_as_text(&single)
        .set_parallelism(1);
    env.execute("sink 1").unwrap();
    assert_eq!(std::fs::read_to_string(&single).unwrap(), "1\n2\n3\n4\n5\n");

    let multi = dir.join("out-dir");
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 100)
        .rebalance()
        .write_as_text(&multi)
        .set_parallelism(2);
    env.execute("sink 2").unwrap();
    let mut all: Vec<u64> = Vec::new();
    for name in ["1", "2"] {
        let text = std::fs::read_to_string(multi.join(name)).unwrap();
        assert!(!text.is_empty(), "file {name} written");
        all.extend(text.lines().map(|l| l.parse::<u64>().unwrap()));
    }
    all.sort();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
}

#[test]
fn text_sink_refuses_to_overwrite_unless_asked() {
    let dir = temp_dir("overwrite");
    let file = dir.join("out.txt");
    std::fs::write(&file, "old\n").unwrap();
    let env = StreamExecutionEnvironment::local();
    env.from_elements(vec!["new".to_string()])
        .write_as_text(&file);
    let err = env.execute("no overwrite").unwrap_err().to_string();
    assert!(
        err.contains("already exists") && err.contains("out.txt"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");

    let env = StreamExecutionEnvironment::local();
    env.from_elements(vec!["new".to_string()])
        .write_as_text_with_mode(&file, WriteMode::Overwrite);
    env.execute("overwrite").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
}

#[derive(Clone, Default)]
struct Batching {
    buffered: Vec<u64>,
    flushed: Arc<std::sync::Mutex<Vec<Vec<u64>>>>,
}

impl SinkFunction<u64> for Batching {
    fn invoke(&mut self, value: u64, _ctx: &SinkContext) -> Result<(), BoxError> {
        self.buffered.push(value);
        if self.buffered.len() == 4 {
            self.flushed
                .lock()
                .unwrap()
                .push(std::mem::take(&mut self.buffered));
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        self.flushed
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.buffered));
        Ok(())
    }
}

#[test]
fn user_sink_is_finished_at_end_of_input() {
    let env = StreamExecutionEnvironment::local();
    let sink = Batching::default();
    let flushed = sink.flushed.clone();
    env.from_sequence(1, 10).add_sink(sink);
    env.execute("user sink").unwrap();
    assert_eq!(
        *flushed.lock().unwrap(),
        vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10]]
    );
}
