//! The crate graph is the architecture: dependencies between Runnel crates only
//! point downwards (STYLE.md habit 1). This test reads every manifest.

use std::collections::BTreeMap;
use std::path::Path;

/// Each crate and the Runnel crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("runnel-types", &[]),
    ("runnel-config", &[]),
    ("runnel-plan", &["runnel-types"]),
    ("runnel-state", &["runnel-types"]),
    ("runnel-network", &["runnel-types"]),
    ("runnel-metrics", &[]),
    ("runnel-rest", &[]),
    ("runnel-webui", &["runnel-rest"]),
    ("runnel-checkpoint", &["runnel-types", "runnel-state"]),
    (
        "runnel-runtime",
        &[
            "runnel-types",
            "runnel-config",
            "runnel-plan",
            "runnel-network",
            "runnel-checkpoint",
            "runnel-state",
        ],
    ),
    ("runnel-connectors", &["runnel-types", "runnel-runtime"]),
    (
        "runnel-api",
        &[
            "runnel-types",
            "runnel-config",
            "runnel-plan",
            "runnel-state",
            "runnel-runtime",
            "runnel-connectors",
            "runnel-checkpoint",
            "runnel-jobmanager",
            "runnel-rest",
        ],
    ),
    (
        "runnel-cli",
        &[
            "runnel-config",
            "runnel-api",
            "runnel-plan",
            "runnel-rest",
            "runnel-jobmanager",
            "runnel-taskmanager",
        ],
    ),
    (
        "runnel-jobmanager",
        &[
            "runnel-types",
            "runnel-runtime",
            "runnel-rest",
            "runnel-webui",
            "runnel-metrics",
        ],
    ),
    (
        "runnel-taskmanager",
        &[
            "runnel-rest",
            "runnel-types",
            "runnel-config",
            "runnel-network",
            "runnel-runtime",
        ],
    ),
    ("runnel-bench", &["runnel"]),
];

/// The `runnel-*` (and `runnel`) names in the `[dependencies]` table of a manifest.
fn runnel_dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        if name == "runnel" || name.starts_with("runnel-") {
            deps.push(name.to_string());
        }
    }
    deps
}

#[test]
fn dependencies_point_down_the_layers() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut seen = 0;
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"")
                    .and_then(|r| r.strip_suffix('"'))
            })
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        let Some(permitted) = allowed.get(name) else {
            panic!("crate {name} is not placed in the layering of tests/architecture.rs; add it");
        };
        for dep in runnel_dependencies(&text) {
            assert!(
                permitted.contains(&dep.as_str()),
                "{name} must not depend on {dep} (allowed: {permitted:?})"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, ALLOWED.len(), "every crate in the layering exists");
}

#[test]
fn the_manifest_parser_sees_dependencies() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\nrunnel-types.workspace = true\nserde = \"1\"\nrunnel-plan = { path = \"p\" }\n[dev-dependencies]\nrunnel-api.workspace = true\n";
    assert_eq!(
        runnel_dependencies(manifest),
        ["runnel-types", "runnel-plan"]
    );
}
