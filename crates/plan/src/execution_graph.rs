//! The ExecutionGraph: every vertex expanded into its parallel subtasks, and every
//! job edge into the channels between producer and consumer subtasks.

use crate::{DistributionPattern, JobGraph};
use runnel_types::JobVertexId;
use serde::{Deserialize, Serialize};

/// One parallel subtask of a vertex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionVertex {
    /// The vertex it belongs to.
    pub vertex: JobVertexId,
    /// Its index, `0..parallelism`.
    pub subtask: u32,
    /// Flink-style task name, e.g. `Flat Map (2/2)`.
    pub name: String,
}

/// A vertex with its subtasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionJobVertex {
    /// The vertex.
    pub vertex: JobVertexId,
    /// Its name.
    pub name: String,
    /// Its subtasks.
    pub subtasks: Vec<ExecutionVertex>,
}

/// One channel: producer subtask → consumer subtask on a job edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConnection {
    /// Producer subtask index.
    pub producer: u32,
    /// Consumer subtask index.
    pub consumer: u32,
}

/// The channels of one job edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionEdge {
    /// Index of the job edge.
    pub job_edge: usize,
    /// Connection pattern.
    pub distribution: DistributionPattern,
    /// All channels, ordered by producer then consumer.
    pub channels: Vec<ChannelConnection>,
}

/// A job expanded into subtasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionGraph {
    /// Vertices with their subtasks, in JobGraph order.
    pub vertices: Vec<ExecutionJobVertex>,
    /// Channels per job edge, in JobGraph edge order.
    pub edges: Vec<ExecutionEdge>,
}

impl ExecutionGraph {
    /// Expands a JobGraph.
    pub fn from_job_graph(job: &JobGraph) -> ExecutionGraph {
        let vertices = job
            .vertices
            .iter()
            .map(|v| ExecutionJobVertex {
                vertex: v.id,
                name: v.name.clone(),
                subtasks: (0..v.parallelism)
                    .map(|i| ExecutionVertex {
                        vertex: v.id,
                        subtask: i,
                        name: format!("{} ({}/{})", v.name, i + 1, v.parallelism),
                    })
                    .collect(),
            })
            .collect();
        let edges = job
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let p = job.vertex(e.source).parallelism;
                let c = job.vertex(e.target).parallelism;
                let channels = match e.distribution {
                    DistributionPattern::AllToAll => (0..p)
                        .flat_map(|producer| {
                            (0..c).map(move |consumer| ChannelConnection { producer, consumer })
                        })
                        .collect(),
                    DistributionPattern::Pointwise => pointwise(p, c),
                };
                ExecutionEdge {
                    job_edge: i,
                    distribution: e.distribution,
                    channels,
                }
            })
            .collect();
        ExecutionGraph { vertices, edges }
    }

    /// Total number of subtasks.
    pub fn subtask_count(&self) -> usize {
        self.vertices.iter().map(|v| v.subtasks.len()).sum()
    }

    /// The consumer subtasks a producer subtask sends to on a job edge, in order.
    pub fn consumers_of(&self, job_edge: usize, producer: u32) -> Vec<u32> {
        self.edges[job_edge]
            .channels
            .iter()
            .filter(|c| c.producer == producer)
            .map(|c| c.consumer)
            .collect()
    }

    /// The producer subtasks a consumer subtask reads from on a job edge, in order.
    pub fn producers_of(&self, job_edge: usize, consumer: u32) -> Vec<u32> {
        self.edges[job_edge]
            .channels
            .iter()
            .filter(|c| c.consumer == consumer)
            .map(|c| c.producer)
            .collect()
    }
}

/// Flink's `EdgeManagerBuildUtil.connectPointwise`.
fn pointwise(sources: u32, targets: u32) -> Vec<ChannelConnection> {
    let (s, t) = (sources as u64, targets as u64);
    let mut out = Vec::new();
    if s == t {
        out.extend((0..sources).map(|i| ChannelConnection {
            producer: i,
            consumer: i,
        }));
    } else if s > t {
        for target in 0..t {
            let start = target * s / t;
            let end = (target + 1) * s / t;
            for producer in start..end {
                out.push(ChannelConnection {
                    producer: producer as u32,
                    consumer: target as u32,
                });
            }
        }
    } else {
        for producer in 0..s {
            let start = (producer * t).div_ceil(s);
            let end = ((producer + 1) * t).div_ceil(s);
            for consumer in start..end {
                out.push(ChannelConnection {
                    producer: producer as u32,
                    consumer: consumer as u32,
                });
            }
        }
    }
    out.sort_by_key(|c| (c.producer, c.consumer));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: Vec<ChannelConnection>) -> Vec<(u32, u32)> {
        v.into_iter().map(|c| (c.producer, c.consumer)).collect()
    }

    #[test]
    fn pointwise_matches_flink() {
        assert_eq!(pairs(pointwise(2, 2)), [(0, 0), (1, 1)]);
        assert_eq!(pairs(pointwise(2, 4)), [(0, 0), (0, 1), (1, 2), (1, 3)]);
        assert_eq!(pairs(pointwise(4, 2)), [(0, 0), (1, 0), (2, 1), (3, 1)]);
        assert_eq!(pairs(pointwise(2, 3)), [(0, 0), (0, 1), (1, 2)]);
        assert_eq!(pairs(pointwise(3, 2)), [(0, 0), (1, 1), (2, 1)]);
    }

    #[test]
    fn every_subtask_is_connected_pointwise() {
        for s in 1..8u32 {
            for t in 1..8u32 {
                let c = pointwise(s, t);
                for p in 0..s {
                    assert!(
                        c.iter().any(|x| x.producer == p),
                        "{s}->{t}: producer {p} idle"
                    );
                }
                for q in 0..t {
                    assert!(
                        c.iter().any(|x| x.consumer == q),
                        "{s}->{t}: consumer {q} starved"
                    );
                }
            }
        }
    }
}
