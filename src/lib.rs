//! Runnel: a distributed, stateful stream processing engine with Flink's
//! DataStream model, in one Rust binary.
//!
//! This facade re-exports the user-facing crates; `use runnel::prelude::*` brings
//! in what a job needs.
//!
//! ```
//! use runnel::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let env = StreamExecutionEnvironment::local();
//! env.from_elements(vec!["to be or not to be".to_string()])
//!     .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
//!         for word in line.split_whitespace() {
//!             out.collect((word.to_string(), 1));
//!         }
//!     })
//!     .key_by(|(word, _)| word.clone())
//!     .sum(|(_, count)| count)
//!     .print();
//! env.execute("word count")?;
//! # Ok(())
//! # }
//! ```

pub use runnel_api as api;
pub use runnel_checkpoint as checkpoint;
pub use runnel_config as config;
pub use runnel_connectors as connectors;
pub use runnel_jobmanager as jobmanager;
pub use runnel_plan as plan;
pub use runnel_rest as rest;
pub use runnel_runtime as runtime;
pub use runnel_types as types;

/// What a job needs, in one import.
pub mod prelude {
    pub use runnel_api::CheckpointConfig;
    pub use runnel_api::state::{
        AggregateFunction, AggregatingState, AggregatingStateDescriptor, KeyedStateAccess,
        ListState, ListStateDescriptor, MapState, MapStateDescriptor, OperatorListState,
        OperatorStateStore, ReducingState, ReducingStateDescriptor, StateTtlConfig,
        StateVisibility, UpdateType, ValueState, ValueStateDescriptor,
    };
    pub use runnel_api::watermark::{WatermarkGenerator, WatermarkOutput, WatermarkStrategy};
    pub use runnel_api::windowing::{
        ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountEvictor, CountTrigger,
        DeltaEvictor, EventTimeSessionWindows, EventTimeTrigger, Evictor, EvictorContext,
        GlobalWindow, GlobalWindows, ProcessWindowContext, ProcessWindowFunction,
        ProcessingTimeSessionWindows, ProcessingTimeTrigger, PurgingTrigger,
        SlidingEventTimeWindows, SlidingProcessingTimeWindows, TimeEvictor, TimeWindow,
        TimestampedValue, Trigger, TriggerContext, TriggerResult, TumblingEventTimeWindows,
        TumblingProcessingTimeWindows, Window, WindowAssigner, WindowFunction,
    };
    pub use runnel_api::{AllWindowedStream, WindowedStream};
    pub use runnel_api::{
        BroadcastConnectedStream, BroadcastContext, BroadcastProcessFunction, BroadcastStream,
        KeyedBroadcastConnectedStream, KeyedBroadcastProcessFunction,
        KeyedReadOnlyBroadcastContext, ReadOnlyBroadcastContext,
    };
    pub use runnel_api::{
        CoFlatMapFunction, CoMapFunction, CoProcessFunction, Collector, ConnectedStreams,
        DataStream, DataStreamSink, FilterFunction, FlatMapFunction, KeyedCoProcessFunction,
        KeyedConnectedStreams, KeyedContext, KeyedOpenContext, KeyedProcessFunction,
        KeyedStateRegistry, KeyedStream, MapFunction, ProcessContext, ProcessFunction,
        ReduceFunction, SingleOutputStreamOperator, StreamExecutionEnvironment, TimeDomain,
        TimerService,
    };
    pub use runnel_api::{IntervalJoin, IntervalJoined, ProcessJoinContext, ProcessJoinFunction};
    pub use runnel_config::{
        CheckpointingConfig, CheckpointingMode, Configuration, FaultInjection,
        RestartStrategyConfig,
    };
    pub use runnel_connectors::{FileProcessingMode, WriteMode};
    pub use runnel_runtime::checkpointing::StateSnapshotContext;
    pub use runnel_runtime::function_state::{
        FunctionInitializationContext, FunctionSnapshotContext,
    };
    pub use runnel_runtime::idempotent::{IdempotentSink, UpsertWriter};
    pub use runnel_runtime::sink::{SinkContext, SinkFunction};
    pub use runnel_runtime::source::{
        Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SplitState,
    };
    pub use runnel_runtime::source_function::{SourceContext, SourceFunction};
    pub use runnel_runtime::two_phase_commit::TwoPhaseCommitSink;
    pub use runnel_runtime::write_ahead::WriteAheadSink;
    pub use runnel_runtime::{
        BoxError, InputStatus, JobError, JobExecutionResult, OutputTag, RuntimeContext,
    };
    pub use runnel_types::{CheckpointId, EventTime, Watermark};
}
