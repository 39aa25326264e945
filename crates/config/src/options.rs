//! The table of known keys: what each means, its type and its default.

/// The type of a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// An integer ≥ 1.
    PositiveInt,
    /// An integer ≥ 0.
    NonNegativeInt,
    /// `true` or `false`.
    Bool,
    /// A duration such as `100 ms`, `5s` or `1 min`; a bare number is milliseconds.
    Duration,
    /// A size such as `32kb` or `1 mb`; a bare number is bytes.
    MemorySize,
    /// One of a fixed set of names.
    Choice,
}

impl ValueKind {
    /// What a value of this kind looks like, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::PositiveInt => "a positive integer",
            ValueKind::NonNegativeInt => "a non-negative integer",
            ValueKind::Bool => "true or false",
            ValueKind::Duration => "a duration such as `100 ms` or `5 s`",
            ValueKind::MemorySize => "a memory size such as `32kb`",
            ValueKind::Choice => "one of the documented names",
        }
    }
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct ConfigOption {
    /// The key, as written in `config.yaml`.
    pub key: &'static str,
    /// The value type.
    pub kind: ValueKind,
    /// The default, as it would be written in the file.
    pub default: &'static str,
    /// What the key controls.
    pub description: &'static str,
}

/// Every key Runnel accepts.
pub const OPTIONS: &[ConfigOption] = &[
    ConfigOption {
        key: "parallelism.default",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "Parallelism of operators that set none, unless the program or `runnel run -p` sets one.",
    },
    ConfigOption {
        key: "pipeline.max-parallelism",
        kind: ValueKind::PositiveInt,
        default: "128",
        description: "Number of key groups (upper bound for rescaling keyed state). Unset: 1.5 × parallelism rounded up to a power of two, at least 128.",
    },
    ConfigOption {
        key: "execution.buffer-timeout.interval",
        kind: ValueKind::Duration,
        default: "100 ms",
        description: "Longest time a partly filled network buffer waits before it is sent; 0 sends after every record.",
    },
    ConfigOption {
        key: "execution.buffer-timeout.enabled",
        kind: ValueKind::Bool,
        default: "true",
        description: "false: buffers are sent only when full (or at end of input), maximising throughput.",
    },
    ConfigOption {
        key: "taskmanager.memory.segment-size",
        kind: ValueKind::MemorySize,
        default: "32kb",
        description: "Size of one network buffer.",
    },
    ConfigOption {
        key: "taskmanager.network.memory.buffers-per-channel",
        kind: ValueKind::PositiveInt,
        default: "2",
        description: "Buffers in flight per channel between two subtasks (with the floating buffers, the bound that makes backpressure).",
    },
    ConfigOption {
        key: "taskmanager.network.memory.floating-buffers-per-gate",
        kind: ValueKind::NonNegativeInt,
        default: "8",
        description: "Extra buffers shared by all channels of one input.",
    },
    ConfigOption {
        key: "pipeline.operator-chaining.enabled",
        kind: ValueKind::Bool,
        default: "true",
        description: "Chain operators connected by forward edges with equal parallelism into one task.",
    },
    ConfigOption {
        key: "state.backend.type",
        kind: ValueKind::Choice,
        default: "hashmap",
        description: "Where keyed state is kept: `hashmap` (objects in memory, the default).",
    },
    ConfigOption {
        key: "pipeline.auto-watermark-interval",
        kind: ValueKind::Duration,
        default: "200 ms",
        description: "Period at which periodic watermark generators emit; 0 disables periodic emission.",
    },
];

pub(crate) fn find(key: &str) -> Option<&'static ConfigOption> {
    OPTIONS.iter().find(|o| o.key == key)
}

/// The known key closest to `key` by edit distance, if it is plausibly a typo.
pub(crate) fn closest(key: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|o| (edit_distance(key, o.key), o.key))
        .filter(|(d, k)| *d <= 3.max(k.len() / 6))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
