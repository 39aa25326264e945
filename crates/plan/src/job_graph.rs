//! The JobGraph: the StreamGraph after operator chaining.
//!
//! Two operators chain (Flink's `isChainable`) when the downstream one has exactly
//! one input edge, the edge is FORWARD, both have the same parallelism and slot
//! sharing group, the downstream operator's strategy is ALWAYS and the upstream's is
//! ALWAYS or HEAD, and chaining is enabled. A chain runs in one thread and passes
//! records by function call, without serialization.

use crate::{ChainingStrategy, Partitioner, StreamEdge, StreamGraph};
use runnel_types::{EdgeId, JobVertexId, NodeId};
use serde::{Deserialize, Serialize};

/// How producer subtasks connect to consumer subtasks on a job edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DistributionPattern {
    /// Every producer subtask connects to every consumer subtask.
    AllToAll,
    /// Each producer connects to a contiguous subset of consumers (forward, rescale).
    Pointwise,
}

/// One chain of operators; runs as `parallelism` subtasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVertex {
    /// The vertex id (its index).
    pub id: JobVertexId,
    /// Flink-style chained name, e.g. `Keyed Reduce -> Sink: Print to Std. Out`.
    pub name: String,
    /// Parallelism shared by all operators of the chain.
    pub parallelism: u32,
    /// Max parallelism of the chain's head operator.
    pub max_parallelism: u32,
    /// The first operator of the chain; it receives the vertex's inputs.
    pub head: NodeId,
    /// All operators of the chain, head first, in depth-first order.
    pub operators: Vec<NodeId>,
    /// The StreamGraph edges inside the chain.
    pub chained_edges: Vec<EdgeId>,
    /// Slot sharing group of the chain.
    pub slot_sharing_group: String,
    /// Incoming job edges (indices into [`JobGraph::edges`]).
    pub inputs: Vec<usize>,
    /// Outgoing job edges.
    pub outputs: Vec<usize>,
}

/// A non-chained StreamGraph edge between two vertices: data crosses it through
/// channels, serialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEdge {
    /// Producing vertex.
    pub source: JobVertexId,
    /// Consuming vertex.
    pub target: JobVertexId,
    /// The StreamGraph edge this job edge carries.
    pub stream_edge: EdgeId,
    /// Partitioner of the edge.
    pub partitioner: Partitioner,
    /// Connection pattern between subtasks.
    pub distribution: DistributionPattern,
}

/// A job after chaining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobGraph {
    /// The job's name.
    pub job_name: String,
    /// Vertices, indexed by `JobVertexId`, in topological order.
    pub vertices: Vec<JobVertex>,
    /// Job edges.
    pub edges: Vec<JobEdge>,
    /// For each StreamGraph node, the vertex that runs it.
    pub vertex_of_node: Vec<JobVertexId>,
    /// For each StreamGraph edge, the job edge carrying it (`None` when chained).
    pub job_edge_of_stream_edge: Vec<Option<usize>>,
}

impl JobGraph {
    /// Chains the operators of `graph`.
    pub fn from_stream_graph(graph: &StreamGraph) -> JobGraph {
        let chainable: Vec<bool> = graph.edges.iter().map(|e| is_chainable(e, graph)).collect();
        let mut vertex_of_node = vec![None; graph.nodes.len()];
        let mut vertices: Vec<JobVertex> = Vec::new();
        for node in graph.topological_order() {
            if vertex_of_node[node.index()].is_some() {
                continue;
            }
            // `node` is a head: no chainable in-edge, or it would have been reached.
            let id = JobVertexId(vertices.len() as u32);
            let mut operators = Vec::new();
            let mut chained_edges = Vec::new();
            let name = collect_chain(graph, &chainable, node, &mut operators, &mut chained_edges);
            for op in &operators {
                vertex_of_node[op.index()] = Some(id);
            }
            let head = graph.node(node);
            vertices.push(JobVertex {
                id,
                name,
                parallelism: head.parallelism,
                max_parallelism: head.max_parallelism,
                head: node,
                operators,
                chained_edges,
                slot_sharing_group: head.slot_sharing_group.clone(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            });
        }
        let vertex_of_node: Vec<JobVertexId> = vertex_of_node
            .into_iter()
            .map(|v| v.expect("every node belongs to a chain"))
            .collect();

        let mut edges = Vec::new();
        let mut job_edge_of_stream_edge = vec![None; graph.edges.len()];
        // Job edges in the order of their target's inputs, so each consumer sees its
        // inputs in input order.
        for vertex in vertices.iter().map(|v| v.head).collect::<Vec<_>>() {
            for e in &graph.node(vertex).in_edges {
                if chainable[e.index()] {
                    continue;
                }
                let se = graph.edge(*e);
                let idx = edges.len();
                let je = JobEdge {
                    source: vertex_of_node[se.source.index()],
                    target: vertex_of_node[se.target.index()],
                    stream_edge: se.id,
                    partitioner: se.partitioner,
                    distribution: if se.partitioner.is_pointwise() {
                        DistributionPattern::Pointwise
                    } else {
                        DistributionPattern::AllToAll
                    },
                };
                vertices[je.source.index()].outputs.push(idx);
                vertices[je.target.index()].inputs.push(idx);
                job_edge_of_stream_edge[e.index()] = Some(idx);
                edges.push(je);
            }
        }
        JobGraph {
            job_name: graph.job_name.clone(),
            vertices,
            edges,
            vertex_of_node,
            job_edge_of_stream_edge,
        }
    }

    /// The vertex with this id.
    pub fn vertex(&self, id: JobVertexId) -> &JobVertex {
        &self.vertices[id.index()]
    }

    /// Whether a StreamGraph edge is inside a chain.
    pub fn is_chained(&self, edge: EdgeId) -> bool {
        self.job_edge_of_stream_edge[edge.index()].is_none()
    }

    /// Number of task slots the job needs: per slot sharing group, the highest
    /// parallelism in it; summed over groups (A2).
    pub fn required_slots(&self) -> u32 {
        let mut per_group: std::collections::BTreeMap<&str, u32> = Default::default();
        for v in &self.vertices {
            let e = per_group.entry(&v.slot_sharing_group).or_default();
            *e = (*e).max(v.parallelism);
        }
        per_group.values().sum()
    }
}

/// Flink's `StreamingJobGraphGenerator.isChainable`.
pub(crate) fn is_chainable(edge: &StreamEdge, graph: &StreamGraph) -> bool {
    let up = graph.node(edge.source);
    let down = graph.node(edge.target);
    down.in_edges.len() == 1
        && up.slot_sharing_group == down.slot_sharing_group
        && down.chaining == ChainingStrategy::Always
        && matches!(
            up.chaining,
            ChainingStrategy::Always | ChainingStrategy::Head
        )
        && edge.partitioner == Partitioner::Forward
        && up.parallelism == down.parallelism
        && graph.chaining_enabled
}

/// Adds `node` and its chained successors to the chain; returns the chain's name
/// in Flink's format.
fn collect_chain(
    graph: &StreamGraph,
    chainable: &[bool],
    node: NodeId,
    operators: &mut Vec<NodeId>,
    chained_edges: &mut Vec<EdgeId>,
) -> String {
    operators.push(node);
    let mut names = Vec::new();
    for e in &graph.node(node).out_edges {
        if chainable[e.index()] {
            chained_edges.push(*e);
            names.push(collect_chain(
                graph,
                chainable,
                graph.edge(*e).target,
                operators,
                chained_edges,
            ));
        }
    }
    let own = &graph.node(node).name;
    match names.len() {
        0 => own.clone(),
        1 => format!("{own} -> {}", names[0]),
        _ => format!("{own} -> ({})", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream_graph::tests::{edge, spec};
    use crate::{NodeKind, ParallelismDefaults};

    fn graph(specs: &[crate::NodeSpec], edges: &[crate::EdgeSpec]) -> StreamGraph {
        StreamGraph::generate("job", specs, edges, &ParallelismDefaults::default(), true).unwrap()
    }

    #[test]
    fn seeds_example_gives_three_vertices() {
        // source p=1 -> flat_map p=2 -> key_by -> reduce p=2 -> sink p=2
        let specs = [
            spec("Source", NodeKind::Source, Some(1)),
            spec("Flat Map", NodeKind::OneInput, Some(2)),
            spec("Keyed Reduce", NodeKind::OneInput, Some(2)),
            spec("Sink", NodeKind::Sink, Some(2)),
        ];
        let g = graph(
            &specs,
            &[
                edge(0, 1, None),
                edge(1, 2, Some(Partitioner::Hash)),
                edge(2, 3, None),
            ],
        );
        let jg = JobGraph::from_stream_graph(&g);
        let names: Vec<_> = jg.vertices.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["Source", "Flat Map", "Keyed Reduce -> Sink"]);
        assert_eq!(jg.edges.len(), 2);
        assert_eq!(jg.edges[0].partitioner, Partitioner::Rebalance);
        assert_eq!(jg.edges[1].partitioner, Partitioner::Hash);
        assert_eq!(jg.required_slots(), 2);
    }

    #[test]
    fn chaining_respects_strategies_groups_and_fan_in() {
        let mut specs = vec![
            spec("src", NodeKind::Source, None),
            spec("a", NodeKind::OneInput, None),
            spec("b", NodeKind::OneInput, None),
            spec("c", NodeKind::OneInput, None),
        ];
        let edges = [edge(0, 1, None), edge(1, 2, None), edge(2, 3, None)];
        assert_eq!(
            JobGraph::from_stream_graph(&graph(&specs, &edges))
                .vertices
                .len(),
            1
        );

        specs[2].chaining = ChainingStrategy::Head; // start_new_chain on b
        let jg = JobGraph::from_stream_graph(&graph(&specs, &edges));
        assert_eq!(
            jg.vertices
                .iter()
                .map(|v| v.name.clone())
                .collect::<Vec<_>>(),
            ["src -> a", "b -> c"]
        );

        specs[2].chaining = ChainingStrategy::Never; // disable_chaining on b
        assert_eq!(
            JobGraph::from_stream_graph(&graph(&specs, &edges))
                .vertices
                .len(),
            3
        );

        specs[2].chaining = ChainingStrategy::Always;
        specs[3].slot_sharing_group = Some("other".into());
        assert_eq!(
            JobGraph::from_stream_graph(&graph(&specs, &edges))
                .vertices
                .len(),
            2
        );

        // Union: two inputs into one operator are never chained.
        let specs = [
            spec("s1", NodeKind::Source, None),
            spec("s2", NodeKind::Source, None),
            spec("u", NodeKind::OneInput, None),
        ];
        let jg = JobGraph::from_stream_graph(&graph(&specs, &[edge(0, 2, None), edge(1, 2, None)]));
        assert_eq!(jg.vertices.len(), 3);
        assert_eq!(jg.vertex(JobVertexId(2)).inputs.len(), 2);
    }

    #[test]
    fn chaining_can_be_disabled_for_the_job() {
        let specs = [
            spec("src", NodeKind::Source, None),
            spec("a", NodeKind::OneInput, None),
        ];
        let g = StreamGraph::generate(
            "j",
            &specs,
            &[edge(0, 1, None)],
            &ParallelismDefaults::default(),
            false,
        )
        .unwrap();
        assert_eq!(JobGraph::from_stream_graph(&g).vertices.len(), 2);
    }

    #[test]
    fn fan_out_chains_are_named_like_flink() {
        let specs = [
            spec("src", NodeKind::Source, None),
            spec("a", NodeKind::OneInput, None),
            spec("b", NodeKind::OneInput, None),
        ];
        let jg = JobGraph::from_stream_graph(&graph(&specs, &[edge(0, 1, None), edge(0, 2, None)]));
        assert_eq!(jg.vertices[0].name, "src -> (a, b)");
        assert_eq!(jg.vertices[0].operators, [NodeId(0), NodeId(1), NodeId(2)]);
    }

    #[test]
    fn slots_are_summed_over_sharing_groups() {
        let mut specs = vec![
            spec("src", NodeKind::Source, Some(3)),
            spec("a", NodeKind::OneInput, Some(2)),
        ];
        specs[1].slot_sharing_group = Some("g".into());
        let jg = JobGraph::from_stream_graph(&graph(&specs, &[edge(0, 1, None)]));
        assert_eq!(jg.required_slots(), 5);
    }
}
