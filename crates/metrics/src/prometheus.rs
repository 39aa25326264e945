//! The Prometheus text exposition format (version 0.0.4), named as Flink's
//! `PrometheusReporter` names metrics.
//!
//! - A metric's family is `runnel_` + its group's logical scope joined with `_` +
//!   `_` + its name, characters outside `[a-zA-Z0-9:_]` replaced by `_`:
//!   `runnel_taskmanager_job_task_operator_numRecordsIn`.
//! - The group's variables are the labels, without the brackets (`job_id`,
//!   `subtask_index`, …); label values are escaped (`\\`, `\"`, `\n`).
//! - Counters are exported as `gauge`, as Flink does: a Runnel counter may be
//!   decremented, and Prometheus would read a decrease of a `counter` as a reset.
//!   Gauges are `gauge`; meters are a `gauge` of their rate per second;
//!   histograms are a `summary` with `quantile` labels 0.5 … 0.999 and `_count`
//!   (every value ever recorded), without `_sum`, as Flink.
//! - Output is sorted (families by name, series by labels) so equal registries
//!   render equal text. A series that repeats one already rendered (same family
//!   and labels), or a family whose type conflicts with an earlier one, is skipped.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::histogram::QUANTILES;
use crate::{GaugeValue, Metric, MetricRegistry, RegisteredMetric};

const PREFIX: &str = "runnel_";

/// One family: its type, help text and series by rendered label set.
struct Family {
    kind: &'static str,
    help: String,
    series: BTreeMap<String, Vec<(String, String)>>,
}

/// Renders every metric of `registry` in the Prometheus text format.
pub fn render_prometheus(registry: &MetricRegistry) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for m in registry.metrics() {
        let name = family_name(&m);
        let kind = match m.metric() {
            Metric::Histogram(_) => "summary",
            _ => "gauge",
        };
        let family = families.entry(name.clone()).or_insert_with(|| Family {
            kind,
            help: format!("{} (scope: {})", m.name(), logical_scope(&m)),
            series: BTreeMap::new(),
        });
        if family.kind != kind {
            log::debug!(
                "prometheus: skipping {}: family {name} is a {}",
                m.identifier(),
                family.kind
            );
            continue;
        }
        let labels = labels(&m);
        let key = render_labels(&labels, None);
        if family.series.contains_key(&key) {
            log::debug!("prometheus: skipping duplicate series {name}{key}");
            continue;
        }
        family
            .series
            .insert(key, samples(&name, &labels, m.metric()));
    }
    let mut out = String::new();
    for (name, family) in &families {
        let _ = writeln!(out, "# HELP {name} {}", escape(&family.help, false));
        let _ = writeln!(out, "# TYPE {name} {}", family.kind);
        for (sample, value) in family.series.values().flatten() {
            let _ = writeln!(out, "{sample} {value}");
        }
    }
    out
}

/// The lines (`name{labels}`, value) of one series.
fn samples(name: &str, labels: &[(String, String)], metric: &Metric) -> Vec<(String, String)> {
    let plain = |value: String| vec![(format!("{name}{}", render_labels(labels, None)), value)];
    match metric {
        Metric::Counter(c) => plain(c.count().to_string()),
        Metric::Gauge(g) => plain(match g.value() {
            GaugeValue::Int(v) => v.to_string(),
            GaugeValue::Float(v) => number(v),
        }),
        Metric::Meter(m) => plain(number(m.rate())),
        Metric::Histogram(h) => {
            let stats = h.statistics();
            let mut lines: Vec<_> = QUANTILES
                .iter()
                .map(|&q| {
                    let labels = render_labels(labels, Some(q));
                    (format!("{name}{labels}"), number(stats.quantile(q)))
                })
                .collect();
            let labels = render_labels(labels, None);
            lines.push((format!("{name}_count{labels}"), stats.count().to_string()));
            lines
        }
    }
}

fn family_name(m: &RegisteredMetric) -> String {
    format!("{PREFIX}{}_{}", logical_scope(m), sanitize(m.name(), true))
}

/// The logical scope, components sanitized and joined with `_`.
fn logical_scope(m: &RegisteredMetric) -> String {
    let components: Vec<String> = m
        .logical_scope()
        .iter()
        .map(|c| sanitize(c, true))
        .collect();
    components.join("_")
}

/// The labels of a metric: its variables without brackets, sorted by label name.
fn labels(m: &RegisteredMetric) -> Vec<(String, String)> {
    let labels: BTreeMap<String, String> = m
        .variables()
        .iter()
        .map(|(k, v)| (label_name(k), v.clone()))
        .collect();
    labels.into_iter().collect()
}

fn label_name(variable: &str) -> String {
    let bare = variable.strip_prefix('<').unwrap_or(variable);
    let bare = bare.strip_suffix('>').unwrap_or(bare);
    let name = sanitize(bare, false);
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        format!("_{name}")
    } else {
        name
    }
}

fn render_labels(labels: &[(String, String)], quantile: Option<f64>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v, true)))
        .collect();
    if let Some(q) = quantile {
        parts.push(format!("quantile=\"{q}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Replaces characters Prometheus does not allow in a metric (`colon_ok`) or
/// label name with `_`.
fn sanitize(s: &str, colon_ok: bool) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colon_ok && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Escapes a label value (`\`, `"`, newline) or help text (`\`, newline).
fn escape(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as Prometheus (Go's `ParseFloat`) reads it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricError;

    #[test]
    fn golden_text_with_escaping_and_a_summary() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let jm = registry.job_manager_group("jm-host");
        jm.gauge_i64("numRegisteredTaskManagers", 3)?;
        let job = jm.add_job("j1", "say \"hi\"\\\n");
        job.counter("numRestarts")?.inc_by(2);
        job.gauge_f64("lastCheckpointDuration", 1.5)?;
        let meter = job.meter("checkpointsPerSecond")?;
        meter.mark_events(30);
        meter.tick();
        let latency = job
            .add_group("my-group")?
            .histogram_with_size("latency", 4)?;
        (1..=5).for_each(|v| latency.update(v));

        let labels = r#"host="jm-host",job_id="j1",job_name="say \"hi\"\\\n""#;
        let family = "runnel_jobmanager_job_my_group_latency";
        let expected = format!(
            r#"# HELP runnel_jobmanager_job_checkpointsPerSecond checkpointsPerSecond (scope: jobmanager_job)
# TYPE runnel_jobmanager_job_checkpointsPerSecond gauge
runnel_jobmanager_job_checkpointsPerSecond{{{labels}}} 0.5
# HELP runnel_jobmanager_job_lastCheckpointDuration lastCheckpointDuration (scope: jobmanager_job)
# TYPE runnel_jobmanager_job_lastCheckpointDuration gauge
runnel_jobmanager_job_lastCheckpointDuration{{{labels}}} 1.5
# HELP {family} latency (scope: jobmanager_job_my_group)
# TYPE {family} summary
{family}{{{labels},quantile="0.5"}} 3.5
{family}{{{labels},quantile="0.75"}} 4.75
{family}{{{labels},quantile="0.95"}} 5
{family}{{{labels},quantile="0.98"}} 5
{family}{{{labels},quantile="0.99"}} 5
{family}{{{labels},quantile="0.999"}} 5
{family}_count{{{labels}}} 5
# HELP runnel_jobmanager_job_numRestarts numRestarts (scope: jobmanager_job)
# TYPE runnel_jobmanager_job_numRestarts gauge
runnel_jobmanager_job_numRestarts{{{labels}}} 2
# HELP runnel_jobmanager_numRegisteredTaskManagers numRegisteredTaskManagers (scope: jobmanager)
# TYPE runnel_jobmanager_numRegisteredTaskManagers gauge
runnel_jobmanager_numRegisteredTaskManagers{{host="jm-host"}} 3
"#
        );
        assert_eq!(render_prometheus(&registry), expected);
        Ok(())
    }

    #[test]
    fn operator_metrics_carry_every_variable_as_a_label() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let task = registry
            .task_manager_group("h", "tm-1")
            .add_job("j1", "WordCount")
            .add_task("v1", "Map", 1, 0);
        task.add_operator("op1", "Map")
            .counter("numRecordsIn")?
            .inc_by(7);
        let text = render_prometheus(&registry);
        let line = "runnel_taskmanager_job_task_operator_numRecordsIn{host=\"h\",job_id=\"j1\",\
            job_name=\"WordCount\",operator_id=\"op1\",operator_name=\"Map\",subtask_index=\"1\",\
            task_attempt_num=\"0\",task_id=\"v1\",task_name=\"Map\",tm_id=\"tm-1\"} 7\n";
        assert!(text.ends_with(line), "{text}");
        Ok(())
    }

    #[test]
    fn sorted_deduplicated_and_sanitized() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let job = registry.task_manager_group("h", "tm").add_job("j", "job");
        // Two groups with equal labels render one series, the first registered.
        job.gauge_f64("bytes.in/s", f64::NAN)?;
        let twin = registry.task_manager_group("h", "tm").add_job("j", "job");
        twin.gauge_i64("bytes.in/s", 1)?;
        // A family's type is its first registration's; a clashing type is skipped.
        job.add_task("v1", "Map", 0, 0).counter("x")?.inc();
        job.add_task("v2", "Sink", 0, 0).histogram("x")?;
        job.add_task("v0", "Agg", 0, 0).counter("x")?;
        job.add_key_value_group("1st key", "v")?.counter("c")?;

        let text = render_prometheus(&registry);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let task = |id: &str, name: &str| {
            format!(
                "host=\"h\",job_id=\"j\",job_name=\"job\",subtask_index=\"0\",\
                 task_attempt_num=\"0\",task_id=\"{id}\",task_name=\"{name}\",tm_id=\"tm\""
            )
        };
        let expected = [
            "runnel_taskmanager_job_1st_key_c{_1st_key=\"v\",host=\"h\",job_id=\"j\",\
             job_name=\"job\",tm_id=\"tm\"} 0"
                .to_string(),
            "runnel_taskmanager_job_bytes_in_s{host=\"h\",job_id=\"j\",job_name=\"job\",\
             tm_id=\"tm\"} NaN"
                .to_string(),
            format!("runnel_taskmanager_job_task_x{{{}}} 0", task("v0", "Agg")),
            format!("runnel_taskmanager_job_task_x{{{}}} 1", task("v1", "Map")),
        ];
        assert_eq!(samples, expected);
        assert_eq!(render_prometheus(&MetricRegistry::new()), "");
        Ok(())
    }

    #[test]
    fn numbers_render_as_prometheus_reads_them() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(label_name("<tm_id>"), "tm_id");
        assert_eq!(escape("a\\b\"c\nd", true), "a\\\\b\\\"c\\nd");
        assert_eq!(escape("\"", false), "\"");
    }
}
