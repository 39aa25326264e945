//! Reads `config.yaml` into flat `key → (value, line)` entries.
//!
//! Nested mappings are joined with dots, so `a: {b: 1}` is the key `a.b`. Only
//! scalars are values; sequences, aliases and non-mapping documents are errors.

use crate::ConfigError;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

pub(crate) fn flatten(text: &str, origin: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut collector = Collector::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut collector, false)
        .map_err(|e| ConfigError::Syntax {
            origin: origin.to_string(),
            line: e.marker().line(),
            message: e.info().to_string(),
        })?;
    if let Some((line, message)) = collector.error {
        return Err(ConfigError::Syntax {
            origin: origin.to_string(),
            line,
            message,
        });
    }
    let mut seen = std::collections::HashMap::new();
    for e in &collector.entries {
        if let Some(first) = seen.insert(e.key.clone(), e.line) {
            return Err(ConfigError::Syntax {
                origin: origin.to_string(),
                line: e.line,
                message: format!(
                    "key `{}` is set more than once (first on line {first})",
                    e.key
                ),
            });
        }
    }
    Ok(collector.entries)
}

#[derive(Default)]
struct Collector {
    /// Key path of the mappings we are inside.
    path: Vec<String>,
    /// For each open mapping: the key waiting for its value, if any.
    pending_key: Vec<Option<(String, usize)>>,
    depth_docs: usize,
    entries: Vec<Entry>,
    error: Option<(usize, String)>,
}

impl Collector {
    fn fail(&mut self, mark: Marker, message: &str) {
        if self.error.is_none() {
            self.error = Some((mark.line(), message.to_string()));
        }
    }
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart => self.depth_docs += 1,
            Event::DocumentEnd => {}
            Event::MappingStart(..) => {
                if self.pending_key.is_empty() {
                    self.pending_key.push(None);
                    return;
                }
                match self.pending_key.last_mut().and_then(Option::take) {
                    Some((key, _)) => {
                        self.path.push(key);
                        self.pending_key.push(None);
                    }
                    None => self.fail(mark, "a mapping cannot be used as a key"),
                }
            }
            Event::MappingEnd => {
                self.pending_key.pop();
                self.path.pop();
            }
            Event::Scalar(value, ..) => {
                let Some(slot) = self.pending_key.last_mut() else {
                    if !value.trim().is_empty() {
                        self.fail(
                            mark,
                            "the configuration must be a mapping of keys to values",
                        );
                    }
                    return;
                };
                match slot.take() {
                    None => *slot = Some((value, mark.line())),
                    Some((key, _)) => {
                        let mut full = self.path.join(".");
                        if !full.is_empty() {
                            full.push('.');
                        }
                        full.push_str(&key);
                        self.entries.push(Entry {
                            key: full,
                            value,
                            line: mark.line(),
                        });
                    }
                }
            }
            Event::SequenceStart(..) => self.fail(mark, "lists are not valid configuration values"),
            Event::SequenceEnd => {}
            Event::Alias(_) => self.fail(mark, "YAML aliases are not supported in configuration"),
        }
    }
}
