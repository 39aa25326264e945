//! Built-in sources and sinks (B1, B5): what a job needs without external systems.
//!
//! Every source implements the runtime's [`Source`](runnel_runtime::source::Source)
//! contract and every sink its [`SinkFunction`](runnel_runtime::sink::SinkFunction);
//! the DataStream API exposes them as `env.from_elements`, `env.read_text_file`,
//! `stream.print()` and so on. Connectors to external systems (Kafka, JDBC) live
//! in crates of their own so the core builds without them. This crate must not
//! depend on the API crate.

pub mod collection;
pub mod error;
pub mod exactly_once_file_sink;
pub mod file_sink;
pub mod file_source;
pub mod generator;
pub mod print;
pub mod sequence;
pub mod socket;
mod split;

pub use collection::{CollectionSource, IteratorSource};
pub use error::ConnectorError;
pub use exactly_once_file_sink::{FileSink, FileTransaction, PartFile, RollingPolicy};
pub use file_sink::{TextFileSink, WriteMode};
pub use file_source::{FileProcessingMode, TextFileSource};
pub use generator::DataGeneratorSource;
pub use print::PrintSink;
pub use sequence::NumberSequenceSource;
pub use socket::SocketTextSource;

/// Records a source emits per poll, at most: large enough to amortize the call,
/// small enough to keep control messages timely.
pub(crate) const RECORDS_PER_POLL: usize = 1024;
