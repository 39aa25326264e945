//! StreamGraph → JobGraph → ExecutionGraph (A3) and parallelism precedence (A5),
//! observed through the API's `explain`.

mod common;

use runnel::api::{EnvironmentSettings, ExecutionMode};
use runnel::plan::{ChainingStrategy, ParallelismSource, Partitioner, Plan};
use runnel::prelude::*;

fn words(env: &StreamExecutionEnvironment) -> SingleOutputStreamOperator<String> {
    env.from_elements(vec!["a b".to_string()])
}

#[test]
fn seeds_example_has_three_vertices_and_five_subtasks() {
    // source p=1 -> flat_map p=2 -> key_by -> reduce p=2 -> sink p=2
    let env = StreamExecutionEnvironment::local();
    words(&env)
        .set_parallelism(1)
        .flat_map(|l: String, out: &mut Collector<'_, (String, u64)>| {
            l.split(' ').for_each(|w| out.collect((w.into(), 1)))
        })
        .set_parallelism(2)
        .key_by(|(w, _)| w.clone())
        .reduce(|a, b| (a.0, a.1 + b.1))
        .set_parallelism(2)
        .print()
        .set_parallelism(2);
    let plan = env.explain("seeds").unwrap();
    let names: Vec<&str> = plan
        .job_graph
        .vertices
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Source: Collection Source",
            "Flat Map",
            "Keyed Reduce -> Sink: Print to Std. Out"
        ]
    );
    assert_eq!(plan.execution_graph.subtask_count(), 5);
    let partitioners: Vec<Partitioner> =
        plan.job_graph.edges.iter().map(|e| e.partitioner).collect();
    assert_eq!(partitioners, [Partitioner::Rebalance, Partitioner::Hash]);
    assert_eq!(plan.job_graph.required_slots(), 2);
    let text = plan.to_string();
    for expected in [
        "StreamGraph",
        "JobGraph: 3 vertices",
        "ExecutionGraph: 5 subtasks",
        "Flat Map (2/2)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
}

fn parallelism_of_map(
    settings: EnvironmentSettings,
    env_p: Option<u32>,
    op_p: Option<u32>,
) -> (u32, ParallelismSource) {
    let env = StreamExecutionEnvironment::from_settings(settings);
    if let Some(p) = env_p {
        env.set_parallelism(p);
    }
    let mut mapped = env.from_sequence(0, 10).map(|x| x + 1);
    if let Some(p) = op_p {
        mapped = mapped.set_parallelism(p);
    }
    mapped.print();
    let plan = env.explain("p").unwrap();
    let node = &plan.stream_graph.nodes[1];
    (node.parallelism, node.parallelism_source)
}

#[test]
fn parallelism_precedence_operator_environment_command_line_config_file() {
    let config = Configuration {
        default_parallelism: 2,
        ..Configuration::default()
    };
    let settings = |cli| EnvironmentSettings {
        config: config.clone(),
        command_line_parallelism: cli,
        mode: ExecutionMode::Local,
        restore: None,
        jobs_dir: None,
    };
    assert_eq!(
        parallelism_of_map(settings(Some(3)), Some(4), Some(5)),
        (5, ParallelismSource::Operator)
    );
    assert_eq!(
        parallelism_of_map(settings(Some(3)), Some(4), None),
        (4, ParallelismSource::Environment)
    );
    assert_eq!(
        parallelism_of_map(settings(Some(3)), None, None),
        (3, ParallelismSource::CommandLine)
    );
    assert_eq!(
        parallelism_of_map(settings(None), None, None),
        (2, ParallelismSource::ConfigFile)
    );
    let defaults = EnvironmentSettings::default();
    assert_eq!(
        parallelism_of_map(defaults, None, None),
        (1, ParallelismSource::ConfigFile)
    );
}

#[test]
fn chaining_controls_shape_the_job_graph() {
    let env = StreamExecutionEnvironment::local();
    let s = env.from_sequence(0, 10);
    s.map(|x| x).name("a").map(|x| x).name("b").print();
    let plan = env.explain("j").unwrap();
    assert_eq!(plan.job_graph.vertices.len(), 1, "{plan}");

    let env = StreamExecutionEnvironment::local();
    env.from_sequence(0, 10)
        .map(|x| x)
        .name("a")
        .map(|x| x)
        .name("b")
        .start_new_chain()
        .print();
    let names: Vec<String> = env
        .explain("j")
        .unwrap()
        .job_graph
        .vertices
        .iter()
        .map(|v| v.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "Source: Sequence Source -> a",
            "b -> Sink: Print to Std. Out"
        ]
    );

    let env = StreamExecutionEnvironment::local();
    env.from_sequence(0, 10)
        .map(|x| x)
        .name("a")
        .disable_chaining()
        .map(|x| x)
        .name("b")
        .print();
    let plan = env.explain("j").unwrap();
    assert_eq!(plan.job_graph.vertices.len(), 3);
    assert_eq!(plan.stream_graph.nodes[1].chaining, ChainingStrategy::Never);

    let env = StreamExecutionEnvironment::local();
    env.from_sequence(0, 10)
        .map(|x| x)
        .slot_sharing_group("heavy")
        .print();
    let plan = env.explain("j").unwrap();
    assert_eq!(
        plan.job_graph.vertices.len(),
        2,
        "different slot sharing groups never chain"
    );
    assert_eq!(
        plan.job_graph.vertices[1].slot_sharing_group, "heavy",
        "the sink inherits its input's group"
    );
    assert_eq!(plan.job_graph.required_slots(), 2);

    let env = StreamExecutionEnvironment::local();
    env.disable_operator_chaining();
    env.from_sequence(0, 10).map(|x| x).print();
    assert_eq!(env.explain("j").unwrap().job_graph.vertices.len(), 3);
}

#[test]
fn names_and_uids_reach_the_plan() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 3)
        .name("numbers")
        .uid("src-1")
        .map(|x| x * 2)
        .name("double")
        .uid("double-1")
        .print()
        .name("out");
    let plan = env.explain("named").unwrap();
    let nodes: Vec<(&str, Option<&str>)> = plan
        .stream_graph
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.uid.as_deref()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("numbers", Some("src-1")),
            ("double", Some("double-1")),
            ("out", None)
        ]
    );
    assert_eq!(plan.stream_graph.job_name, "named");
}

#[test]
fn invalid_plans_are_rejected_with_clear_errors() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(0, 1)
        .map(|x| x)
        .name("zero")
        .set_parallelism(0)
        .print();
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("zero") && err.contains("at least 1"), "{err}");

    let env = StreamExecutionEnvironment::local();
    env.from_elements(vec![1u8]).set_parallelism(3).print();
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("not parallel"), "{err}");

    let env = StreamExecutionEnvironment::local();
    env.from_sequence(0, 1)
        .set_parallelism(1)
        .forward()
        .map(|x| x)
        .set_parallelism(2)
        .print();
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("forward partitioning"), "{err}");

    let env = StreamExecutionEnvironment::local();
    env.set_max_parallelism(4);
    env.from_sequence(0, 1).set_parallelism(8).print();
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("max parallelism"), "{err}");

    let env = StreamExecutionEnvironment::local();
    assert!(
        env.execute("empty")
            .unwrap_err()
            .to_string()
            .contains("no operators")
    );
}
