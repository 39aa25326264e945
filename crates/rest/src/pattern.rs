//! Path patterns, shared by the [`Router`](crate::Router) and the bearer-token
//! allow-list: `/jobs/overview` (literal), `/jobs/:jobid` (one segment captured as
//! `jobid`), `/assets/*file` or `/assets/*` (any rest, possibly empty).
//!
//! Patterns match the *decoded* segments of a request path, so `%2F` inside a
//! segment never splits it. A trailing slash is ignored on both sides.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// Matches the rest of the path; captured under the name unless it is empty.
    Rest(String),
}

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    source: String,
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub(crate) fn parse(source: &str) -> Result<Pattern, String> {
        let Some(rest) = source.strip_prefix('/') else {
            return Err("a path pattern must start with '/'".into());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = if let Some(name) = part.strip_prefix(':') {
                if !is_name(name) {
                    return Err(format!("parameter {part:?} needs a name of [A-Za-z0-9_]"));
                }
                Segment::Param(name.to_owned())
            } else if let Some(name) = part.strip_prefix('*') {
                if i + 1 != parts.len() {
                    return Err(format!("{part:?} must be the last segment"));
                }
                if !name.is_empty() && !is_name(name) {
                    return Err(format!(
                        "rest capture {part:?} needs a name of [A-Za-z0-9_]"
                    ));
                }
                Segment::Rest(name.to_owned())
            } else if part.is_empty() {
                return Err("empty segment ('//')".into());
            } else {
                Segment::Literal((*part).to_owned())
            };
            segments.push(segment);
        }
        let mut names: Vec<&str> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(n) | Segment::Rest(n) if !n.is_empty() => Some(n.as_str()),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("parameter {:?} appears twice", w[0]));
        }
        Ok(Pattern {
            source: source.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// The captured parameters if `path` (decoded segments) matches.
    pub(crate) fn matches(&self, path: &[String]) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if path.get(i) != Some(literal) {
                        return None;
                    }
                }
                Segment::Param(name) => match path.get(i) {
                    Some(value) if !value.is_empty() => {
                        params.push((name.clone(), value.clone()));
                    }
                    _ => return None,
                },
                Segment::Rest(name) => {
                    if !name.is_empty() {
                        params.push((name.clone(), path.get(i..)?.join("/")));
                    }
                    return Some(params);
                }
            }
        }
        (path.len() == self.segments.len()).then_some(params)
    }

    /// Whether both patterns match exactly the same paths (parameter names aside).
    pub(crate) fn same_shape(&self, other: &Pattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_))
                    | (Segment::Rest(_), Segment::Rest(_)) => true,
                    _ => false,
                })
    }

    /// Orders two patterns that match the same path: the more specific one is
    /// greater (a literal beats a parameter, which beats the end of an exact
    /// pattern, which beats a rest capture).
    pub(crate) fn cmp_specificity(&self, other: &Pattern) -> Ordering {
        self.ranks().cmp(other.ranks())
    }

    fn ranks(&self) -> impl Iterator<Item = u8> + '_ {
        let ends_exact = !matches!(self.segments.last(), Some(Segment::Rest(_)));
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 3,
                Segment::Param(_) => 2,
                Segment::Rest(_) => 0,
            })
            .chain(ends_exact.then_some(1))
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        path.split('/').skip(1).map(String::from).collect()
    }

    #[test]
    fn matches_literals_params_and_rest() {
        let p = Pattern::parse("/jobs/:jobid/vertices/:vid").unwrap();
        assert_eq!(
            p.matches(&segs("/jobs/j1/vertices/v2")),
            Some(vec![
                ("jobid".into(), "j1".into()),
                ("vid".into(), "v2".into())
            ])
        );
        assert_eq!(p.matches(&segs("/jobs/j1/vertices")), None);
        assert_eq!(p.matches(&segs("/jobs/j1/other/v2")), None);
        let rest = Pattern::parse("/assets/*file").unwrap();
        assert_eq!(
            rest.matches(&segs("/assets/css/app.css")),
            Some(vec![("file".into(), "css/app.css".into())])
        );
        assert_eq!(
            Pattern::parse("/assets/*").unwrap().matches(&[]),
            None,
            "the literal must still match"
        );
        let root = Pattern::parse("/").unwrap();
        assert_eq!(root.matches(&[]), Some(vec![]));
        assert_eq!(root.matches(&segs("/x")), None);
    }

    #[test]
    fn trailing_slash_is_ignored_in_patterns() {
        let p = Pattern::parse("/config/").unwrap();
        assert!(p.matches(&segs("/config")).is_some());
    }

    #[test]
    fn literal_beats_param_beats_exact_end_beats_rest() {
        let lit = Pattern::parse("/jobs/overview").unwrap();
        let param = Pattern::parse("/jobs/:jobid").unwrap();
        let rest = Pattern::parse("/jobs/*").unwrap();
        let exact_prefix = Pattern::parse("/jobs").unwrap();
        assert_eq!(lit.cmp_specificity(&param), Ordering::Greater);
        assert_eq!(param.cmp_specificity(&rest), Ordering::Greater);
        assert_eq!(exact_prefix.cmp_specificity(&rest), Ordering::Greater);
        assert!(param.same_shape(&Pattern::parse("/jobs/:other/").unwrap()));
        assert!(!param.same_shape(&lit));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["jobs", "/a//b", "/:", "/*x/y", "/:a/:a", "/:a-b"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
