//! Readable type names for error messages.

/// `std::any::type_name` without module paths: `Option<String>` rather than
/// `core::option::Option<alloc::string::String>`. For messages only: type names are
/// not stable across compiler versions, so they are never compared or stored.
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    // Where the path segment being read started in `out`; a `::` drops it.
    let mut segment_start = 0;
    for c in full.chars() {
        if c == ':' {
            out.truncate(segment_start);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                segment_start = out.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn paths_are_dropped() {
        let cases = [
            (short_type_name::<u64>(), "u64"),
            (short_type_name::<String>(), "String"),
            (short_type_name::<Option<String>>(), "Option<String>"),
            (
                short_type_name::<(u64, Vec<String>)>(),
                "(u64, Vec<String>)",
            ),
            (short_type_name::<&str>(), "&str"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
