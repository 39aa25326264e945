//! The operators behind the DataStream transformations, one concept per file.

pub mod aggregation;
pub mod broadcast;
pub mod co;
pub mod interval_join;
pub mod keyed;
pub mod keyed_process;
pub mod map;
#[cfg(feature = "rocksdb")]
mod native_state;
pub mod process;
pub mod reduce;
pub mod window;
