//! Identifier newtypes. Each names one kind of thing so ids can't be mixed up.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as an index into a dense table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A node of the StreamGraph: one operator as the program wrote it.
    NodeId,
    "node-"
);
id_type!(
    /// An edge of the StreamGraph between two operators.
    EdgeId,
    "edge-"
);
id_type!(
    /// A vertex of the JobGraph: one chain of operators.
    JobVertexId,
    "vertex-"
);
id_type!(
    /// A side output declared by an `OutputTag`.
    OutputTagId,
    "tag-"
);

/// The index of one parallel instance of an operator or chain, `0..parallelism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubtaskIndex(pub u32);

impl SubtaskIndex {
    /// The index as a `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for SubtaskIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
