//! The DataStream API (B): how a Runnel job is written.
//!
//! A job is a program: it gets a [`StreamExecutionEnvironment`], creates streams
//! from sources, transforms them (`map`, `flat_map`, `filter`, `key_by`, `reduce`,
//! `process`, `union`, `connect`, partitioning), attaches sinks and calls
//! `execute`. The program builds the StreamGraph; nothing runs until `execute`.
//! Names follow Flink's DataStream API. Closures work wherever a function is
//! expected; structs implementing the function traits are Flink's rich functions.

mod broadcast;
mod broadcast_streams;
mod checkpoint_config;
mod cluster_attempt;
mod connected;
mod datastream;
mod environment;
mod error;
pub mod functions;
mod graph;
mod interval_join;
mod keyed;
mod keyed_functions;
pub mod operators;
mod prototype;
mod signal;
mod web_monitor;
mod window_join;
mod windowed_stream;
pub mod windowing;

pub use broadcast::{
    BroadcastContext, BroadcastContextBase, BroadcastProcessFunction,
    KeyedBroadcastProcessFunction, KeyedReadOnlyBroadcastContext, ReadOnlyBroadcastContext,
};
pub use broadcast_streams::{
    BroadcastConnectedStream, BroadcastStream, KeyedBroadcastConnectedStream,
};
pub use checkpoint_config::CheckpointConfig;
pub use cluster_attempt::runs_as_task_executor;
pub use connected::ConnectedStreams;
pub use connected::KeyedConnectedStreams;
pub use datastream::{DataStream, DataStreamSink, SingleOutputStreamOperator};
pub use environment::{
    ENV_ALLOW_NON_RESTORED_STATE, ENV_EXECUTION_MODE, ENV_JOBS_DIR, ENV_PARALLELISM,
    ENV_SAVEPOINT_PATH, EnvironmentSettings, ExecutionMode, StreamExecutionEnvironment,
};
pub use error::EnvironmentError;
pub use functions::{
    CoFlatMapFunction, CoMapFunction, CoProcessFunction, Collector, FilterFunction,
    FlatMapFunction, MapFunction, ProcessContext, ProcessFunction, ReduceFunction,
};
pub use interval_join::{IntervalJoin, IntervalJoined, ProcessJoinContext, ProcessJoinFunction};
pub use keyed::KeyedStream;
pub use keyed_functions::{
    KeyedCoProcessFunction, KeyedContext, KeyedOpenContext, KeyedProcessFunction,
    KeyedStateRegistry, TimerService,
};
pub use runnel_runtime::control;
pub use runnel_runtime::distributed;
pub use runnel_runtime::timers::TimeDomain;
/// Watermark strategies and generators.
pub use runnel_runtime::watermark;
/// Keyed, operator and broadcast state: descriptors, handles, TTL.
pub use runnel_state as state;
pub use window_join::{
    CoGroupEqualTo, CoGroupWhere, CoGroupedStreams, JoinEqualTo, JoinWhere, JoinedStreams,
    TaggedUnion, WindowedCoGroup, WindowedJoin,
};
pub use windowed_stream::{AllKey, AllWindowedStream, WindowedStream};
