//! The operators behind the DataStream transformations, one concept per file.

pub mod aggregation;
pub mod co;
pub mod map;
pub mod process;
pub mod reduce;
