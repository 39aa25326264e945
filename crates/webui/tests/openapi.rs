//! `docs/rest-api.yaml` is the contract between the JobManager's handlers and
//! the web UI: it must describe every endpoint of SPEC M1 with its errors, hold
//! no dangling `$ref`, and accept the fixtures the UI is tested against.

use serde_json::Value;
use std::path::PathBuf;
use yaml_rust2::{Yaml, YamlLoader};

fn spec() -> Yaml {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rest-api.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .remove(0)
}

fn key(y: &Yaml) -> &str {
    y.as_str()
        .unwrap_or_else(|| panic!("not a string key: {y:?}"))
}

/// Every `(method, path, operation)` of the spec.
fn operations(spec: &Yaml) -> Vec<(String, String, Yaml)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_hash().expect("paths") {
        for (method, op) in item.as_hash().expect("path item") {
            if key(method) != "parameters" {
                ops.push((key(method).to_owned(), key(path).to_owned(), op.clone()));
            }
        }
    }
    ops
}

#[test]
fn documents_every_endpoint_with_its_errors() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0."))
    );
    let ops = operations(&spec);
    let expected = [
        ("get", "/config"),
        ("get", "/overview"),
        ("get", "/jobs"),
        ("post", "/jobs"),
        ("get", "/jobs/overview"),
        ("get", "/jobs/{jobid}"),
        ("patch", "/jobs/{jobid}"),
        ("get", "/jobs/{jobid}/plan"),
        ("get", "/jobs/{jobid}/exceptions"),
        ("get", "/jobs/{jobid}/checkpoints"),
        ("post", "/jobs/{jobid}/savepoints"),
        ("get", "/jobs/{jobid}/savepoints/{triggerid}"),
        ("post", "/jobs/{jobid}/stop"),
        ("get", "/jobs/{jobid}/metrics"),
        ("get", "/jobs/{jobid}/vertices/{vertexid}/backpressure"),
        ("get", "/jobs/{jobid}/vertices/{vertexid}/metrics"),
        ("get", "/taskmanagers"),
        ("get", "/taskmanagers/{taskmanagerid}"),
        ("get", "/metrics"),
    ];
    for (method, path) in expected {
        assert!(
            ops.iter()
                .any(|(m, p, _)| (m.as_str(), p.as_str()) == (method, path)),
            "{method} {path} is not documented"
        );
    }
    let mut ids = Vec::new();
    for (method, path, op) in &ops {
        let responses = op["responses"].as_hash().expect("responses");
        let codes: Vec<&str> = responses.keys().map(key).collect();
        assert!(
            codes.iter().any(|c| c.starts_with('2')),
            "{method} {path}: no success"
        );
        for code in ["400", "401", "404", "405", "413", "500"] {
            assert!(codes.contains(&code), "{method} {path}: no {code}");
        }
        let id = op["operationId"].as_str().expect("operationId").to_owned();
        assert!(!ids.contains(&id), "duplicate operationId {id}");
        ids.push(id);
    }
}

/// The node a local `$ref` names.
fn resolve<'a>(spec: &'a Yaml, reference: &str) -> &'a Yaml {
    let path = reference.strip_prefix("#/").expect("local $ref");
    let node = path.split('/').fold(spec, |node, part| &node[part]);
    assert!(!node.is_badvalue(), "dangling $ref {reference}");
    node
}

fn check_refs(spec: &Yaml, node: &Yaml) {
    match node {
        Yaml::Hash(h) => h.iter().for_each(|(k, v)| {
            if k.as_str() == Some("$ref") {
                resolve(spec, key(v));
            }
            check_refs(spec, v);
        }),
        Yaml::Array(a) => a.iter().for_each(|v| check_refs(spec, v)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let spec = spec();
    check_refs(&spec, &spec);
}

/// Checks `value` against the OpenAPI 3.0 `schema` (the subset the spec uses);
/// `at` names the place in messages.
fn validate(spec: &Yaml, schema: &Yaml, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        return validate(spec, resolve(spec, reference), value, at);
    }
    if value.is_null() && schema["nullable"].as_bool() == Some(true) {
        return Ok(());
    }
    for s in schema["allOf"].as_vec().into_iter().flatten() {
        validate(spec, s, value, at)?;
    }
    if let Some(any) = schema["oneOf"].as_vec()
        && !any.iter().any(|s| validate(spec, s, value, at).is_ok())
    {
        return Err(format!("{at}: fits no oneOf branch: {value}"));
    }
    let fits_type = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => return Err(format!("{at}: unknown type {other}")),
    };
    if !fits_type {
        return Err(format!("{at}: {value} is not of type {:?}", schema["type"]));
    }
    if let Some(allowed) = schema["enum"].as_vec()
        && !allowed.iter().any(|a| a.as_str() == value.as_str())
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
        validate(spec, &schema["items"], item, &format!("{at}[{i}]"))?;
    }
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    for required in schema["required"].as_vec().into_iter().flatten() {
        if !object.contains_key(key(required)) {
            return Err(format!("{at}: lacks {}", key(required)));
        }
    }
    for (name, v) in object {
        let at = format!("{at}.{name}");
        let property = &schema["properties"][name.as_str()];
        let extra = &schema["additionalProperties"];
        if !property.is_badvalue() {
            validate(spec, property, v, &at)?;
        } else if extra.as_bool() == Some(false) {
            return Err(format!("{at}: not in the schema"));
        } else if extra.as_hash().is_some() {
            validate(spec, extra, v, &at)?;
        }
    }
    Ok(())
}

#[test]
fn fixtures_match_the_documented_responses() {
    let spec = spec();
    let table = [
        ("/config", "config.json"),
        ("/overview", "overview.json"),
        ("/jobs", "jobs.json"),
        ("/jobs/overview", "jobs-overview.json"),
        ("/jobs/{jobid}", "job.json"),
        ("/jobs/{jobid}/plan", "plan.json"),
        ("/jobs/{jobid}/exceptions", "exceptions.json"),
        ("/jobs/{jobid}/checkpoints", "checkpoints.json"),
        (
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            "backpressure-source.json",
        ),
        (
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            "backpressure-window.json",
        ),
        (
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            "backpressure-sink.json",
        ),
        ("/taskmanagers", "taskmanagers.json"),
    ];
    for (path, file) in table {
        let schema = &spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        assert!(!schema.is_badvalue(), "GET {path} has no JSON 200 schema");
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file);
        let value: Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
        if let Err(e) = validate(&spec, schema, &value, file) {
            panic!("{file} does not match GET {path}: {e}");
        }
    }
}
