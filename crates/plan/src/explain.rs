//! `explain`: the three graphs of a job as readable text and as JSON.

use crate::{ExecutionGraph, JobGraph, PlanError, StreamGraph};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A job's StreamGraph, JobGraph and ExecutionGraph together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Operators as written.
    pub stream_graph: StreamGraph,
    /// Operators chained into vertices.
    pub job_graph: JobGraph,
    /// Vertices expanded into subtasks.
    pub execution_graph: ExecutionGraph,
}

impl Plan {
    /// Derives the JobGraph and ExecutionGraph of a StreamGraph.
    pub fn new(stream_graph: StreamGraph) -> Plan {
        let job_graph = JobGraph::from_stream_graph(&stream_graph);
        let execution_graph = ExecutionGraph::from_job_graph(&job_graph);
        Plan {
            stream_graph,
            job_graph,
            execution_graph,
        }
    }

    /// The plan as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans contain only JSON-representable data")
    }

    /// Reads a plan back from JSON.
    pub fn from_json(text: &str) -> Result<Plan, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sg = &self.stream_graph;
        writeln!(
            f,
            "== StreamGraph of `{}`: {} operators ==",
            sg.job_name,
            sg.nodes.len()
        )?;
        for n in &sg.nodes {
            write!(
                f,
                "{}  {}  [{}] p={} ({:?}) max_p={}",
                n.id, n.name, n.operator, n.parallelism, n.parallelism_source, n.max_parallelism
            )?;
            if let Some(uid) = &n.uid {
                write!(f, " uid={uid}")?;
            }
            writeln!(
                f,
                " chaining={:?} slot_group={}",
                n.chaining, n.slot_sharing_group
            )?;
            for e in &n.out_edges {
                let e = sg.edge(*e);
                let side = e
                    .side_output
                    .as_ref()
                    .map(|s| format!(" side-output `{}`", s.name))
                    .unwrap_or_default();
                writeln!(
                    f,
                    "    -> {} {}{} (input {})",
                    e.target, e.partitioner, side, e.input
                )?;
            }
        }
        let jg = &self.job_graph;
        writeln!(
            f,
            "== JobGraph: {} vertices, {} task slots ==",
            jg.vertices.len(),
            jg.required_slots()
        )?;
        for v in &jg.vertices {
            let ops: Vec<String> = v.operators.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "{}  {}  p={} operators=[{}] slot_group={}",
                v.id,
                v.name,
                v.parallelism,
                ops.join(", "),
                v.slot_sharing_group
            )?;
            for e in &v.outputs {
                let e = &jg.edges[*e];
                writeln!(
                    f,
                    "    -> {} {} {:?}",
                    e.target, e.partitioner, e.distribution
                )?;
            }
        }
        let eg = &self.execution_graph;
        let channels: usize = eg.edges.iter().map(|e| e.channels.len()).sum();
        writeln!(
            f,
            "== ExecutionGraph: {} subtasks, {} channels ==",
            eg.subtask_count(),
            channels
        )?;
        for v in &eg.vertices {
            let names: Vec<&str> = v.subtasks.iter().map(|s| s.name.as_str()).collect();
            writeln!(f, "{}  {}", v.vertex, names.join(", "))?;
        }
        Ok(())
    }
}

impl From<StreamGraph> for Plan {
    fn from(g: StreamGraph) -> Plan {
        Plan::new(g)
    }
}

/// Convenience for callers that build a StreamGraph and want the plan or the error.
pub fn plan(graph: Result<StreamGraph, PlanError>) -> Result<Plan, PlanError> {
    graph.map(Plan::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream_graph::tests::{edge, spec};
    use crate::{NodeKind, ParallelismDefaults, Partitioner};

    fn seeds_plan() -> Plan {
        let specs = [
            spec("Source", NodeKind::Source, Some(1)),
            spec("Flat Map", NodeKind::OneInput, Some(2)),
            spec("Keyed Reduce", NodeKind::OneInput, Some(2)),
            spec("Sink", NodeKind::Sink, Some(2)),
        ];
        let edges = [
            edge(0, 1, None),
            edge(1, 2, Some(Partitioner::Hash)),
            edge(2, 3, None),
        ];
        Plan::new(
            StreamGraph::generate("wc", &specs, &edges, &ParallelismDefaults::default(), true)
                .unwrap(),
        )
    }

    #[test]
    fn seeds_example_has_five_subtasks() {
        let p = seeds_plan();
        assert_eq!(p.job_graph.vertices.len(), 3);
        assert_eq!(p.execution_graph.subtask_count(), 5);
        let text = p.to_string();
        assert!(text.contains("Keyed Reduce -> Sink (2/2)"), "{text}");
        assert!(text.contains("3 vertices"), "{text}");
    }

    #[test]
    fn json_round_trips() {
        let p = seeds_plan();
        assert_eq!(Plan::from_json(&p.to_json()).unwrap(), p);
    }
}
