//! The program's graph as it is being built: operator specs, edges and the code
//! (node factories) behind each operator.

use runnel_plan::{EdgeSpec, NodeSpec};
use runnel_runtime::environment::NodeFactory;
use runnel_types::{EdgeId, NodeId};
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct GraphBuilder {
    pub(crate) nodes: Vec<NodeSpec>,
    pub(crate) edges: Vec<EdgeSpec>,
    pub(crate) factories: Vec<Arc<dyn NodeFactory>>,
    /// Mistakes found while building that only surface at execution.
    pub(crate) errors: Vec<String>,
}

impl GraphBuilder {
    pub(crate) fn next_node_id(&self) -> NodeId {
        NodeId(self.nodes.len() as u32)
    }

    pub(crate) fn add_node(&mut self, spec: NodeSpec, factory: Arc<dyn NodeFactory>) -> NodeId {
        let id = self.next_node_id();
        self.nodes.push(spec);
        self.factories.push(factory);
        id
    }

    pub(crate) fn add_edge(&mut self, edge: EdgeSpec) -> EdgeId {
        let id = EdgeId(self.edges.len() as u32);
        self.edges.push(edge);
        id
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut NodeSpec {
        &mut self.nodes[id.index()]
    }
}
