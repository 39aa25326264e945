//! The StreamGraph: operators and edges as written, with parallelism resolved.
//!
//! The API hands over [`NodeSpec`]s and [`EdgeSpec`]s (what the user asked for);
//! [`StreamGraph::generate`] resolves what was left open (parallelism by Flink's
//! precedence, max parallelism, default partitioners, slot sharing groups) and
//! rejects what cannot run.

use crate::{Partitioner, PlanError};
use runnel_types::{
    EdgeId, MAX_PARALLELISM_UPPER_BOUND, NodeId, OutputTagId, compute_default_max_parallelism,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The slot sharing group of operators that name none.
pub const DEFAULT_SLOT_SHARING_GROUP: &str = "default";

/// What kind of operator a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Produces records; no input.
    Source,
    /// One logical input (possibly the union of several streams).
    OneInput,
    /// Two logical inputs of different types (`connect`).
    TwoInput,
    /// Consumes records; no output.
    Sink,
}

/// Whether an operator may be chained to its neighbours (Flink's `ChainingStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChainingStrategy {
    /// Chains to its predecessor and successors where the edge allows.
    Always,
    /// Starts a new chain: never chained to its predecessor (`start_new_chain`, sources).
    Head,
    /// Never chained (`disable_chaining`).
    Never,
}

/// Where a node's parallelism came from, highest precedence first (A5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParallelismSource {
    /// `set_parallelism` on the operator.
    Operator,
    /// Fixed at 1: a non-parallel source.
    NonParallelSource,
    /// `env.set_parallelism`.
    Environment,
    /// `runnel run -p`.
    CommandLine,
    /// `parallelism.default` in the config file.
    ConfigFile,
}

/// The parallelism settings below the operator level, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelismDefaults {
    /// `env.set_parallelism`, if called.
    pub environment: Option<u32>,
    /// `runnel run -p`, if given.
    pub command_line: Option<u32>,
    /// `parallelism.default` (1 unless the config file says otherwise).
    pub config_file: u32,
    /// The job-wide max parallelism (`env.set_max_parallelism` or
    /// `pipeline.max-parallelism`), if set.
    pub max_parallelism: Option<u32>,
}

impl Default for ParallelismDefaults {
    fn default() -> Self {
        ParallelismDefaults {
            environment: None,
            command_line: None,
            config_file: 1,
            max_parallelism: None,
        }
    }
}

/// A side output an edge consumes instead of the main output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SideOutputRef {
    /// The tag's id.
    pub id: OutputTagId,
    /// The tag's name.
    pub name: String,
}

/// An operator as the API recorded it, before resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Display name (`name(...)` or the operator's default).
    pub name: String,
    /// Operator type, e.g. `Map`, `Keyed Reduce`.
    pub operator: String,
    /// Stable id for state mapping (`uid(...)`).
    pub uid: Option<String>,
    /// Source, one-input, two-input or sink.
    pub kind: NodeKind,
    /// `set_parallelism`, if called.
    pub parallelism: Option<u32>,
    /// `set_max_parallelism`, if called.
    pub max_parallelism: Option<u32>,
    /// Whether the operator can only run with parallelism 1 (non-parallel sources,
    /// `window_all`).
    pub non_parallel: bool,
    /// Chaining strategy.
    pub chaining: ChainingStrategy,
    /// `slot_sharing_group(...)`, if called.
    pub slot_sharing_group: Option<String>,
    /// Whether the operator works on a keyed stream.
    pub keyed: bool,
}

/// An edge as the API recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeSpec {
    /// Upstream node.
    pub source: NodeId,
    /// Downstream node.
    pub target: NodeId,
    /// Explicit partitioning; `None` means forward when parallelism is equal and
    /// rebalance otherwise (Flink's default).
    pub partitioner: Option<Partitioner>,
    /// Which input of the target (0, or 1 for the second input of `connect`).
    pub input: u8,
    /// The side output consumed, if not the main output.
    pub side_output: Option<SideOutputRef>,
}

/// An operator with everything resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamNode {
    /// The node's id (its index).
    pub id: NodeId,
    /// Display name.
    pub name: String,
    /// Operator type.
    pub operator: String,
    /// User-assigned uid.
    pub uid: Option<String>,
    /// Kind of node.
    pub kind: NodeKind,
    /// Resolved parallelism.
    pub parallelism: u32,
    /// Which setting decided the parallelism.
    pub parallelism_source: ParallelismSource,
    /// Resolved max parallelism (number of key groups).
    pub max_parallelism: u32,
    /// Chaining strategy.
    pub chaining: ChainingStrategy,
    /// Slot sharing group.
    pub slot_sharing_group: String,
    /// Keyed operator.
    pub keyed: bool,
    /// Incoming edges, in input order.
    pub in_edges: Vec<EdgeId>,
    /// Outgoing edges.
    pub out_edges: Vec<EdgeId>,
}

/// An edge with its partitioner resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEdge {
    /// The edge's id (its index).
    pub id: EdgeId,
    /// Upstream node.
    pub source: NodeId,
    /// Downstream node.
    pub target: NodeId,
    /// Resolved partitioner.
    pub partitioner: Partitioner,
    /// Input index on the target.
    pub input: u8,
    /// Side output consumed, if any.
    pub side_output: Option<SideOutputRef>,
}

/// The resolved StreamGraph of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamGraph {
    /// The job's name.
    pub job_name: String,
    /// Whether operator chaining is enabled for the job.
    pub chaining_enabled: bool,
    /// Nodes, indexed by `NodeId`.
    pub nodes: Vec<StreamNode>,
    /// Edges, indexed by `EdgeId`.
    pub edges: Vec<StreamEdge>,
}

impl StreamGraph {
    /// Resolves and validates the operators and edges the program defined.
    pub fn generate(
        job_name: &str,
        specs: &[NodeSpec],
        edge_specs: &[EdgeSpec],
        defaults: &ParallelismDefaults,
        chaining_enabled: bool,
    ) -> Result<StreamGraph, PlanError> {
        if specs.is_empty() {
            return Err(PlanError::EmptyGraph {
                job: job_name.to_string(),
            });
        }
        check_defaults(defaults)?;
        let mut nodes = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            nodes.push(resolve_node(NodeId(i as u32), spec, defaults)?);
        }
        check_unique_uids(&nodes)?;

        let mut edges = Vec::with_capacity(edge_specs.len());
        for (i, e) in edge_specs.iter().enumerate() {
            for n in [e.source, e.target] {
                if n.index() >= nodes.len() {
                    return Err(PlanError::UnknownNode { node: n.0 });
                }
            }
            let (up, down) = (&nodes[e.source.index()], &nodes[e.target.index()]);
            let partitioner = match e.partitioner {
                None if up.parallelism == down.parallelism => Partitioner::Forward,
                None => Partitioner::Rebalance,
                Some(Partitioner::Forward) if up.parallelism != down.parallelism => {
                    return Err(PlanError::ForwardParallelismMismatch {
                        upstream: up.name.clone(),
                        upstream_parallelism: up.parallelism,
                        downstream: down.name.clone(),
                        downstream_parallelism: down.parallelism,
                    });
                }
                Some(p) => p,
            };
            let id = EdgeId(i as u32);
            edges.push(StreamEdge {
                id,
                source: e.source,
                target: e.target,
                partitioner,
                input: e.input,
                side_output: e.side_output.clone(),
            });
        }
        // In-edges in input order (input 0 first), then creation order.
        let mut in_edges: Vec<Vec<&StreamEdge>> = vec![Vec::new(); nodes.len()];
        for e in &edges {
            in_edges[e.target.index()].push(e);
            nodes[e.source.index()].out_edges.push(e.id);
        }
        for (node, ins) in nodes.iter_mut().zip(in_edges.iter_mut()) {
            ins.sort_by_key(|e| (e.input, e.id));
            node.in_edges = ins.iter().map(|e| e.id).collect();
        }
        let mut graph = StreamGraph {
            job_name: job_name.to_string(),
            chaining_enabled,
            nodes,
            edges,
        };
        graph.resolve_slot_sharing_groups(specs);
        Ok(graph)
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &StreamNode {
        &self.nodes[id.index()]
    }

    /// The edge with this id.
    pub fn edge(&self, id: EdgeId) -> &StreamEdge {
        &self.edges[id.index()]
    }

    /// Flink's rule: an explicit group wins; otherwise a node inherits its inputs'
    /// group when they all agree, else it is in the default group.
    fn resolve_slot_sharing_groups(&mut self, specs: &[NodeSpec]) {
        for id in self.topological_order() {
            let i = id.index();
            let group = match &specs[i].slot_sharing_group {
                Some(g) => g.clone(),
                None => {
                    let mut inputs = self.nodes[i].in_edges.iter().map(|e| {
                        &self.nodes[self.edges[e.index()].source.index()].slot_sharing_group
                    });
                    match inputs.next() {
                        Some(first) if inputs.all(|g| g == first) => first.clone(),
                        _ => DEFAULT_SLOT_SHARING_GROUP.to_string(),
                    }
                }
            };
            self.nodes[i].slot_sharing_group = group;
        }
    }

    /// Nodes in an order where every node comes after all its inputs.
    pub fn topological_order(&self) -> Vec<NodeId> {
        let mut indegree: Vec<usize> = self.nodes.iter().map(|n| n.in_edges.len()).collect();
        let mut ready: std::collections::VecDeque<NodeId> = self
            .nodes
            .iter()
            .filter(|n| n.in_edges.is_empty())
            .map(|n| n.id)
            .collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        while let Some(n) = ready.pop_front() {
            order.push(n);
            for e in &self.node(n).out_edges {
                let t = self.edge(*e).target;
                indegree[t.index()] -= 1;
                if indegree[t.index()] == 0 {
                    ready.push_back(t);
                }
            }
        }
        order
    }
}

fn check_defaults(d: &ParallelismDefaults) -> Result<(), PlanError> {
    for (what, v) in [
        ("the environment", d.environment),
        ("the command line (-p)", d.command_line),
        ("parallelism.default", Some(d.config_file)),
    ] {
        if v == Some(0) {
            return Err(PlanError::InvalidParallelism {
                what: what.to_string(),
                value: 0,
            });
        }
    }
    if let Some(m) = d
        .max_parallelism
        .filter(|m| *m == 0 || *m > MAX_PARALLELISM_UPPER_BOUND)
    {
        return Err(PlanError::InvalidMaxParallelism {
            what: "the job".to_string(),
            value: m,
        });
    }
    Ok(())
}

fn resolve_node(
    id: NodeId,
    spec: &NodeSpec,
    d: &ParallelismDefaults,
) -> Result<StreamNode, PlanError> {
    let what = || format!("operator `{}`", spec.name);
    if spec.parallelism == Some(0) {
        return Err(PlanError::InvalidParallelism {
            what: what(),
            value: 0,
        });
    }
    let (parallelism, parallelism_source) = if spec.non_parallel {
        match spec.parallelism {
            Some(p) if p != 1 => {
                return Err(PlanError::NonParallelSource {
                    operator: spec.name.clone(),
                    requested: p,
                });
            }
            _ => (1, ParallelismSource::NonParallelSource),
        }
    } else if let Some(p) = spec.parallelism {
        (p, ParallelismSource::Operator)
    } else if let Some(p) = d.environment {
        (p, ParallelismSource::Environment)
    } else if let Some(p) = d.command_line {
        (p, ParallelismSource::CommandLine)
    } else {
        (d.config_file, ParallelismSource::ConfigFile)
    };
    if let Some(m) = spec
        .max_parallelism
        .filter(|m| *m == 0 || *m > MAX_PARALLELISM_UPPER_BOUND)
    {
        return Err(PlanError::InvalidMaxParallelism {
            what: what(),
            value: m,
        });
    }
    let max_parallelism = spec
        .max_parallelism
        .or(d.max_parallelism)
        .unwrap_or_else(|| compute_default_max_parallelism(parallelism));
    if parallelism > max_parallelism {
        return Err(PlanError::ParallelismExceedsMax {
            operator: spec.name.clone(),
            parallelism,
            max_parallelism,
        });
    }
    Ok(StreamNode {
        id,
        name: spec.name.clone(),
        operator: spec.operator.clone(),
        uid: spec.uid.clone(),
        kind: spec.kind,
        parallelism,
        parallelism_source,
        max_parallelism,
        chaining: spec.chaining,
        slot_sharing_group: DEFAULT_SLOT_SHARING_GROUP.to_string(),
        keyed: spec.keyed,
        in_edges: Vec::new(),
        out_edges: Vec::new(),
    })
}

fn check_unique_uids(nodes: &[StreamNode]) -> Result<(), PlanError> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for n in nodes {
        if let Some(uid) = &n.uid
            && let Some(first) = seen.insert(uid, &n.name)
        {
            return Err(PlanError::DuplicateUid {
                uid: uid.clone(),
                first: first.to_string(),
                second: n.name.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn spec(name: &str, kind: NodeKind, parallelism: Option<u32>) -> NodeSpec {
        NodeSpec {
            name: name.to_string(),
            operator: name.to_string(),
            uid: None,
            kind,
            parallelism,
            max_parallelism: None,
            non_parallel: false,
            chaining: if kind == NodeKind::Source {
                ChainingStrategy::Head
            } else {
                ChainingStrategy::Always
            },
            slot_sharing_group: None,
            keyed: false,
        }
    }

    pub(crate) fn edge(source: u32, target: u32, partitioner: Option<Partitioner>) -> EdgeSpec {
        EdgeSpec {
            source: NodeId(source),
            target: NodeId(target),
            partitioner,
            input: 0,
            side_output: None,
        }
    }

    fn build(
        specs: &[NodeSpec],
        edges: &[EdgeSpec],
        d: ParallelismDefaults,
    ) -> Result<StreamGraph, PlanError> {
        StreamGraph::generate("test", specs, edges, &d, true)
    }

    #[test]
    fn parallelism_precedence_operator_env_cli_config() {
        let specs = [
            spec("op", NodeKind::OneInput, Some(7)),
            spec("plain", NodeKind::OneInput, None),
        ];
        let all = ParallelismDefaults {
            environment: Some(5),
            command_line: Some(3),
            config_file: 2,
            max_parallelism: None,
        };
        let g = build(&specs, &[], all).unwrap();
        assert_eq!(
            (g.nodes[0].parallelism, g.nodes[0].parallelism_source),
            (7, ParallelismSource::Operator)
        );
        assert_eq!(
            (g.nodes[1].parallelism, g.nodes[1].parallelism_source),
            (5, ParallelismSource::Environment)
        );
        let no_env = ParallelismDefaults {
            environment: None,
            ..all
        };
        let g = build(&specs, &[], no_env).unwrap();
        assert_eq!(
            (g.nodes[1].parallelism, g.nodes[1].parallelism_source),
            (3, ParallelismSource::CommandLine)
        );
        let only_file = ParallelismDefaults {
            environment: None,
            command_line: None,
            ..all
        };
        let g = build(&specs, &[], only_file).unwrap();
        assert_eq!(
            (g.nodes[1].parallelism, g.nodes[1].parallelism_source),
            (2, ParallelismSource::ConfigFile)
        );
        let g = build(&specs, &[], ParallelismDefaults::default()).unwrap();
        assert_eq!(g.nodes[1].parallelism, 1);
    }

    #[test]
    fn non_parallel_sources_stay_at_one() {
        let mut s = spec("socket", NodeKind::Source, None);
        s.non_parallel = true;
        let d = ParallelismDefaults {
            environment: Some(4),
            ..Default::default()
        };
        assert_eq!(build(&[s.clone()], &[], d).unwrap().nodes[0].parallelism, 1);
        s.parallelism = Some(2);
        assert_eq!(
            build(&[s], &[], d).unwrap_err(),
            PlanError::NonParallelSource {
                operator: "socket".into(),
                requested: 2
            }
        );
    }

    #[test]
    fn invalid_parallelism_is_rejected() {
        let err = build(
            &[spec("m", NodeKind::OneInput, Some(0))],
            &[],
            Default::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`m`"), "{err}");
        let d = ParallelismDefaults {
            command_line: Some(0),
            ..Default::default()
        };
        assert!(build(&[spec("m", NodeKind::OneInput, None)], &[], d).is_err());
        let mut s = spec("m", NodeKind::OneInput, Some(8));
        s.max_parallelism = Some(4);
        assert!(matches!(
            build(&[s], &[], Default::default()),
            Err(PlanError::ParallelismExceedsMax { .. })
        ));
    }

    #[test]
    fn default_partitioner_is_forward_or_rebalance() {
        let specs = [
            spec("a", NodeKind::Source, Some(2)),
            spec("b", NodeKind::OneInput, Some(2)),
            spec("c", NodeKind::OneInput, Some(3)),
        ];
        let g = build(
            &specs,
            &[edge(0, 1, None), edge(1, 2, None)],
            Default::default(),
        )
        .unwrap();
        assert_eq!(g.edges[0].partitioner, Partitioner::Forward);
        assert_eq!(g.edges[1].partitioner, Partitioner::Rebalance);
        let err = build(
            &specs,
            &[edge(1, 2, Some(Partitioner::Forward))],
            Default::default(),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::ForwardParallelismMismatch { .. }));
    }

    #[test]
    fn max_parallelism_defaults_from_parallelism() {
        let g = build(
            &[spec("a", NodeKind::OneInput, Some(100))],
            &[],
            Default::default(),
        )
        .unwrap();
        assert_eq!(g.nodes[0].max_parallelism, 256);
        let d = ParallelismDefaults {
            max_parallelism: Some(64),
            ..Default::default()
        };
        assert_eq!(
            build(&[spec("a", NodeKind::OneInput, None)], &[], d)
                .unwrap()
                .nodes[0]
                .max_parallelism,
            64
        );
    }

    #[test]
    fn duplicate_uids_are_rejected() {
        let mut a = spec("a", NodeKind::Source, None);
        a.uid = Some("x".into());
        let mut b = spec("b", NodeKind::OneInput, None);
        b.uid = Some("x".into());
        assert!(matches!(
            build(&[a, b], &[], Default::default()),
            Err(PlanError::DuplicateUid { .. })
        ));
    }

    #[test]
    fn slot_sharing_group_is_inherited_when_inputs_agree() {
        let mut a = spec("a", NodeKind::Source, None);
        a.slot_sharing_group = Some("g".into());
        let b = spec("b", NodeKind::OneInput, None);
        let c = spec("c", NodeKind::Source, None);
        let d = spec("d", NodeKind::OneInput, None);
        let g = build(
            &[a, b, c, d],
            &[edge(0, 1, None), edge(0, 3, None), edge(2, 3, None)],
            Default::default(),
        )
        .unwrap();
        assert_eq!(g.nodes[1].slot_sharing_group, "g");
        assert_eq!(g.nodes[3].slot_sharing_group, DEFAULT_SLOT_SHARING_GROUP);
    }

    #[test]
    fn empty_graph_is_an_error() {
        assert!(matches!(
            build(&[], &[], Default::default()),
            Err(PlanError::EmptyGraph { .. })
        ));
    }
}
