//! Event time machinery: combining watermarks from several inputs, and
//! generating watermarks from the data (strategies, generators, the operator that
//! assigns timestamps and watermarks).
//!
//! # What a watermark promises
//!
//! A watermark `w` on a stream says no record with timestamp `<= w` follows. An
//! operator's watermark is the minimum over its inputs, only moves forward, and
//! starts at −∞; an idle input (see [`WatermarkStatus`](runnel_types::WatermarkStatus))
//! does not hold it back. When every input is idle, the largest watermark any of
//! them reached is released, so the result does not depend on the order in which
//! inputs went idle (Flink's `StatusWatermarkValve` / `CombinedWatermarkStatus`).

mod combined;
mod emitter;
mod generator;
mod operator;
pub mod source;
mod strategy;
mod valve;

pub use combined::CombinedWatermark;
pub use emitter::{EmitterState, OutputEmitter, Pending};
pub use generator::{
    BoundedOutOfOrderness, IdlenessTimer, NoWatermarks, WatermarkGenerator, WatermarkOutput,
};
pub use operator::TimestampsAndWatermarksOperator;
pub use source::SourceWatermarks;
pub use strategy::{
    FnAssigner, IngestionTime, RecordTimestamp, TimestampAssigner, WatermarkStrategy,
    WatermarkStrategyFor,
};
pub use valve::{ValveOutput, WatermarkValve};
