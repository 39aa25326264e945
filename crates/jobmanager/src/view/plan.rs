//! A job's plan: its vertices and the edges between them, as the web UI draws
//! them (Flink's `JobPlanInfo`).

use crate::ids::vertex_id;
use runnel_runtime::status::{JobStatus, VertexStatus};
use serde::Serialize;

/// An input of a plan node: the upstream vertex and how records travel.
#[derive(Debug, Serialize)]
pub(crate) struct PlanInput {
    num: usize,
    id: String,
    ship_strategy: String,
    exchange: &'static str,
}

/// A job vertex in the plan.
#[derive(Debug, Serialize)]
pub(crate) struct PlanNode {
    id: String,
    parallelism: u32,
    operator: &'static str,
    operator_strategy: &'static str,
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<PlanInput>,
    optimizer_properties: serde_json::Map<String, serde_json::Value>,
}

/// The job graph, as the web UI draws it.
#[derive(Debug, Serialize)]
pub(crate) struct Plan {
    jid: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    nodes: Vec<PlanNode>,
}

/// `GET /jobs/{jid}/plan`.
#[derive(Debug, Serialize)]
pub(crate) struct PlanInfo {
    plan: Plan,
}

pub(crate) fn plan_info(job: &JobStatus) -> PlanInfo {
    PlanInfo { plan: plan(job) }
}

pub(crate) fn plan(job: &JobStatus) -> Plan {
    let id_of = |vertex| {
        job.vertices
            .iter()
            .find(|v| v.id == vertex)
            .map(vertex_id)
            .unwrap_or_default()
    };
    let nodes = job
        .vertices
        .iter()
        .map(|v| PlanNode {
            id: vertex_id(v),
            parallelism: v.parallelism,
            operator: "",
            operator_strategy: "",
            description: description(v),
            inputs: job
                .edges
                .iter()
                .filter(|e| e.target == v.id)
                .enumerate()
                .map(|(num, e)| PlanInput {
                    num,
                    id: id_of(e.source),
                    ship_strategy: e.ship_strategy.clone(),
                    exchange: "pipelined_bounded",
                })
                .collect(),
            optimizer_properties: serde_json::Map::new(),
        })
        .collect();
    Plan {
        jid: job.job_id.clone(),
        name: job.name.clone(),
        kind: "STREAMING",
        nodes,
    }
}

/// The chained operators as Flink describes a chain: the head, then `+- ` and
/// each chained operator, each followed by `<br/>`.
fn description(v: &VertexStatus) -> String {
    if v.operators.is_empty() {
        return format!("{}<br/>", v.name);
    }
    v.operators
        .iter()
        .enumerate()
        .map(|(i, op)| {
            if i == 0 {
                format!("{op}<br/>")
            } else {
                format!("+- {op}<br/>")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::status;
    use serde_json::{Value, json};

    #[test]
    fn the_plan_links_vertices_with_ship_strategies() {
        let job = status();
        let p = serde_json::to_value(plan_info(&job)).unwrap();
        let nodes = p["plan"]["nodes"].as_array().unwrap();
        let ids: Vec<&Value> = nodes.iter().map(|n| &n["id"]).collect();
        assert_eq!(p["plan"]["type"], "STREAMING");
        assert_eq!(nodes[0].get("inputs"), None, "a source has no inputs");
        assert_eq!(
            nodes[0]["description"],
            "Source: Orders<br/>+- Watermarks<br/>"
        );
        assert_eq!(
            nodes[1]["inputs"],
            json!([{"num": 0, "id": ids[0], "ship_strategy": "HASH", "exchange": "pipelined_bounded"}])
        );
        assert_eq!(nodes[2]["inputs"][0]["id"], *ids[1]);
        assert_eq!(nodes[2]["inputs"][0]["ship_strategy"], "REBALANCE");
        assert_eq!(nodes[1]["optimizer_properties"], json!({}));
    }
}
