//! What a job process started by a TaskManager gets: its arguments and its
//! `RUNNEL_*` environment (`docs/design/cluster-jobs.md`, *Deployment*).

use crate::protocol::Deployment;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;

/// Inherited variables a child must not see unless its deployment sets them.
const CLEARED: [&str; 12] = [
    "RUNNEL_CONFIG",
    "RUNNEL_CONF_DIR",
    "RUNNEL_PARALLELISM",
    "RUNNEL_SAVEPOINT_PATH",
    "RUNNEL_ALLOW_NON_RESTORED_STATE",
    "RUNNEL_REST_TOKEN",
    "RUNNEL_CLUSTER_JOB",
    "RUNNEL_CLUSTER_ATTEMPT",
    "RUNNEL_CLUSTER_PROCESS",
    "RUNNEL_CLUSTER_PROCESSES",
    "RUNNEL_CLUSTER_SLOTS",
    "RUNNEL_TASKMANAGER_HOST",
];

/// The variables a deployment's process gets (on top of the TaskManager's
/// own, without [`CLEARED`]); `host` is the IP this TaskManager registered
/// with.
pub(crate) fn environment(
    deployment: &Deployment,
    config: Option<&Path>,
    jobmanager: SocketAddr,
    bearer_token: Option<&str>,
    host: IpAddr,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("RUNNEL_EXECUTION_MODE", "local".to_string()),
        ("RUNNEL_JOBMANAGER", jobmanager.to_string()),
        ("RUNNEL_CLUSTER_JOB", deployment.id.job_id.clone()),
        ("RUNNEL_CLUSTER_ATTEMPT", deployment.id.attempt.to_string()),
        ("RUNNEL_CLUSTER_PROCESS", deployment.process.to_string()),
        ("RUNNEL_CLUSTER_PROCESSES", deployment.processes.to_string()),
        ("RUNNEL_CLUSTER_SLOTS", deployment.slot_list()),
        ("RUNNEL_TASKMANAGER_HOST", host.to_string()),
    ];
    if let Some(p) = deployment.parallelism {
        env.push(("RUNNEL_PARALLELISM", p.to_string()));
    }
    if let Some(path) = &deployment.savepoint_path {
        env.push(("RUNNEL_SAVEPOINT_PATH", path.clone()));
    }
    if deployment.allow_non_restored_state {
        env.push(("RUNNEL_ALLOW_NON_RESTORED_STATE", "true".to_string()));
    }
    if let Some(path) = config {
        env.push(("RUNNEL_CONFIG", path.display().to_string()));
    }
    if let Some(token) = bearer_token {
        env.push(("RUNNEL_REST_TOKEN", token.to_string()));
    }
    env
}

/// The command running `binary` with `deployment`'s arguments and `env`, and
/// none of the [`CLEARED`] variables it may inherit that `env` does not set.
pub(crate) fn command(
    binary: &Path,
    deployment: &Deployment,
    env: Vec<(&'static str, String)>,
) -> Command {
    let mut command = Command::new(binary);
    command.args(&deployment.args);
    for name in CLEARED {
        command.env_remove(name);
    }
    command.envs(env);
    command
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::AttemptId;
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));

    /// A deployment of process 0 of 1 (slot 0) of `job`'s `attempt`.
    pub(crate) fn deployment(job: &str, attempt: u32, blob: &str, args: &[&str]) -> Deployment {
        Deployment {
            id: AttemptId {
                job_id: job.into(),
                attempt,
            },
            blob: blob.into(),
            slots: 1,
            name: "test".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            parallelism: None,
            savepoint_path: None,
            allow_non_restored_state: false,
            config: None,
            process: 0,
            processes: 1,
            slot_indices: vec![0],
        }
    }

    #[test]
    fn the_environment_is_the_deployments() {
        let mut d = deployment("j1", 2, "ab", &[]);
        let jm = "10.0.0.2:6123".parse().unwrap();
        let names =
            |env: Vec<(&'static str, String)>| env.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            names(environment(&d, None, jm, None, HOST)),
            [
                "RUNNEL_EXECUTION_MODE",
                "RUNNEL_JOBMANAGER",
                "RUNNEL_CLUSTER_JOB",
                "RUNNEL_CLUSTER_ATTEMPT",
                "RUNNEL_CLUSTER_PROCESS",
                "RUNNEL_CLUSTER_PROCESSES",
                "RUNNEL_CLUSTER_SLOTS",
                "RUNNEL_TASKMANAGER_HOST",
            ]
        );
        d.parallelism = Some(4);
        d.savepoint_path = Some("/sp".into());
        d.allow_non_restored_state = true;
        (d.process, d.processes, d.slots, d.slot_indices) = (1, 3, 2, vec![1, 2]);
        let env = environment(&d, Some(Path::new("/w/j1-2.yaml")), jm, Some("t"), HOST);
        let value = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        let table = [
            ("RUNNEL_EXECUTION_MODE", "local"),
            ("RUNNEL_JOBMANAGER", "10.0.0.2:6123"),
            ("RUNNEL_CLUSTER_JOB", "j1"),
            ("RUNNEL_CLUSTER_ATTEMPT", "2"),
            ("RUNNEL_PARALLELISM", "4"),
            ("RUNNEL_SAVEPOINT_PATH", "/sp"),
            ("RUNNEL_ALLOW_NON_RESTORED_STATE", "true"),
            ("RUNNEL_CONFIG", "/w/j1-2.yaml"),
            ("RUNNEL_REST_TOKEN", "t"),
            ("RUNNEL_CLUSTER_PROCESS", "1"),
            ("RUNNEL_CLUSTER_PROCESSES", "3"),
            ("RUNNEL_CLUSTER_SLOTS", "1,2"),
            ("RUNNEL_TASKMANAGER_HOST", "10.0.0.7"),
        ];
        for (name, expected) in table {
            assert_eq!(value(name), Some(expected), "{name}");
        }
    }

    #[test]
    fn inherited_settings_the_deployment_does_not_make_are_removed() {
        let mut d = deployment("j1", 1, "ab", &["a", "b c"]);
        d.savepoint_path = Some("/sp".into());
        let jm = "10.0.0.2:6123".parse().unwrap();
        let c = command(
            Path::new("/bin/true"),
            &d,
            environment(&d, None, jm, None, HOST),
        );
        let envs: HashMap<String, Option<String>> = c
            .get_envs()
            .map(|(k, v)| {
                let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
                (text(k), v.map(text))
            })
            .collect();
        let table = [
            ("RUNNEL_SAVEPOINT_PATH", Some("/sp")),
            ("RUNNEL_CONFIG", None),
            ("RUNNEL_CONF_DIR", None),
            ("RUNNEL_PARALLELISM", None),
            ("RUNNEL_REST_TOKEN", None),
            ("RUNNEL_CLUSTER_JOB", Some("j1")),
            ("RUNNEL_CLUSTER_SLOTS", Some("0")),
        ];
        for (name, expected) in table {
            assert_eq!(envs[name].as_deref(), expected, "{name}");
        }
        assert_eq!(c.get_args().collect::<Vec<_>>(), ["a", "b c"]);
    }
}
