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
    /// A decimal number.
    Float,
    /// A path or URI.
    Path,
    /// Free text (a name).
    Text,
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
            ValueKind::Float => "a number",
            ValueKind::Path => "a path",
            ValueKind::Text => "a name",
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
        description: "Where keyed state is kept: `hashmap` (objects in memory, the default) or `rocksdb` (alias `lsm`: serialized in an embedded RocksDB instance on local disk, so state can exceed memory; needs Runnel built with the `rocksdb` feature).",
    },
    ConfigOption {
        key: "state.backend.rocksdb.localdir",
        kind: ValueKind::Path,
        default: "(system temporary directory)",
        description: "Working directory of the `rocksdb` state backend: each keyed operator subtask gets a fresh directory under it, deleted when the subtask ends.",
    },
    ConfigOption {
        key: "state.backend.rocksdb.memory.fixed-per-slot",
        kind: ValueKind::MemorySize,
        default: "64mb",
        description: "Memory budget of the `rocksdb` state backend per keyed operator subtask: half for write buffers (memtables), half for the block cache with index and filter blocks.",
    },
    ConfigOption {
        key: "pipeline.auto-watermark-interval",
        kind: ValueKind::Duration,
        default: "200 ms",
        description: "Period at which periodic watermark generators emit; 0 disables periodic emission.",
    },
    ConfigOption {
        key: "execution.checkpointing.interval",
        kind: ValueKind::Duration,
        default: "0 ms",
        description: "Time between checkpoints; 0 (the default) disables checkpointing.",
    },
    ConfigOption {
        key: "execution.checkpointing.mode",
        kind: ValueKind::Choice,
        default: "EXACTLY_ONCE",
        description: "`EXACTLY_ONCE` (aligned barriers) or `AT_LEAST_ONCE` (no alignment; records may be replayed twice after a restore).",
    },
    ConfigOption {
        key: "execution.checkpointing.timeout",
        kind: ValueKind::Duration,
        default: "10 min",
        description: "A checkpoint not complete after this long is aborted.",
    },
    ConfigOption {
        key: "execution.checkpointing.min-pause",
        kind: ValueKind::Duration,
        default: "0 ms",
        description: "Least time between the end of one checkpoint and the start of the next.",
    },
    ConfigOption {
        key: "execution.checkpointing.max-concurrent-checkpoints",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "Checkpoints that may be in progress at once.",
    },
    ConfigOption {
        key: "execution.checkpointing.num-retained",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "Completed checkpoints kept; older ones are deleted.",
    },
    ConfigOption {
        key: "execution.checkpointing.tolerable-failed-checkpoints",
        kind: ValueKind::NonNegativeInt,
        default: "0",
        description: "Failed checkpoints in a row tolerated before the job fails.",
    },
    ConfigOption {
        key: "execution.checkpointing.unaligned.enabled",
        kind: ValueKind::Bool,
        default: "false",
        description: "Unaligned checkpoints: barriers overtake buffered records, which are stored with the checkpoint.",
    },
    ConfigOption {
        key: "execution.checkpointing.aligned-checkpoint-timeout",
        kind: ValueKind::Duration,
        default: "0 ms",
        description: "With unaligned checkpoints: start aligned and switch to unaligned after this long (0: unaligned at once).",
    },
    ConfigOption {
        key: "execution.checkpointing.dir",
        kind: ValueKind::Path,
        default: "",
        description: "Directory checkpoints are written to; unset keeps them in the memory of the process.",
    },
    ConfigOption {
        key: "execution.checkpointing.savepoint-dir",
        kind: ValueKind::Path,
        default: "",
        description: "Default directory for savepoints.",
    },
    ConfigOption {
        key: "execution.checkpointing.incremental",
        kind: ValueKind::Bool,
        default: "false",
        description: "Accepted for Flink compatibility; not implemented yet: every checkpoint is a full snapshot in the backend-independent format.",
    },
    ConfigOption {
        key: "restart-strategy.type",
        kind: ValueKind::Choice,
        default: "none",
        description: "`none`, `fixed-delay`, `failure-rate` or `exponential-delay`. Unset: `none` without checkpointing, `fixed-delay` (unlimited attempts, 1 s) with it.",
    },
    ConfigOption {
        key: "restart-strategy.fixed-delay.attempts",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "Restarts before the job fails. The standalone JobManager restarts a failed attempt of a job submitted to it as often (3 when its file sets no `restart-strategy.*` key).",
    },
    ConfigOption {
        key: "restart-strategy.fixed-delay.delay",
        kind: ValueKind::Duration,
        default: "1 s",
        description: "Wait before each restart (the standalone JobManager's too, before it places a failed job again).",
    },
    ConfigOption {
        key: "restart-strategy.failure-rate.max-failures-per-interval",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "The job fails at the failure that makes this many within the interval (Flink's rule).",
    },
    ConfigOption {
        key: "restart-strategy.failure-rate.failure-rate-interval",
        kind: ValueKind::Duration,
        default: "1 min",
        description: "The window failures are counted in.",
    },
    ConfigOption {
        key: "restart-strategy.failure-rate.delay",
        kind: ValueKind::Duration,
        default: "1 s",
        description: "Wait before each restart.",
    },
    ConfigOption {
        key: "restart-strategy.exponential-delay.initial-backoff",
        kind: ValueKind::Duration,
        default: "1 s",
        description: "Wait before the first restart.",
    },
    ConfigOption {
        key: "restart-strategy.exponential-delay.max-backoff",
        kind: ValueKind::Duration,
        default: "1 min",
        description: "Longest wait.",
    },
    ConfigOption {
        key: "restart-strategy.exponential-delay.backoff-multiplier",
        kind: ValueKind::Float,
        default: "1.5",
        description: "Growth of the wait per failure.",
    },
    ConfigOption {
        key: "restart-strategy.exponential-delay.reset-backoff-threshold",
        kind: ValueKind::Duration,
        default: "1 h",
        description: "Running this long without failure resets the wait.",
    },
    ConfigOption {
        key: "restart-strategy.exponential-delay.jitter-factor",
        kind: ValueKind::Float,
        default: "0.1",
        description: "Random spread of each wait, as a fraction of it.",
    },
    ConfigOption {
        key: "restart-strategy.exponential-delay.attempts-before-reset-backoff",
        kind: ValueKind::PositiveInt,
        default: "2147483647",
        description: "Restarts allowed before the wait resets.",
    },
    ConfigOption {
        key: "execution.fault-injection.operator",
        kind: ValueKind::Text,
        default: "",
        description: "Inject a failure: the name of the operator to fail (for testing recovery).",
    },
    ConfigOption {
        key: "execution.fault-injection.subtask",
        kind: ValueKind::NonNegativeInt,
        default: "0",
        description: "Which subtask of that operator fails.",
    },
    ConfigOption {
        key: "execution.fault-injection.after-records",
        kind: ValueKind::PositiveInt,
        default: "1000",
        description: "It fails after receiving this many records in an attempt (with a seed: a random count up to this).",
    },
    ConfigOption {
        key: "execution.fault-injection.failures",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "How many attempts fail; the next one runs clean.",
    },
    ConfigOption {
        key: "execution.fault-injection.seed",
        kind: ValueKind::NonNegativeInt,
        default: "0",
        description: "Draw each failure point at random from this seed.",
    },
    ConfigOption {
        key: "s3.endpoint",
        kind: ValueKind::Text,
        default: "",
        description: "URL of the S3-compatible service holding `s3://` checkpoint directories (needs the `s3` feature); unset: AWS_ENDPOINT_URL, else AWS.",
    },
    ConfigOption {
        key: "s3.access-key",
        kind: ValueKind::Text,
        default: "",
        description: "Access key for `s3://` checkpoint directories; unset: AWS_ACCESS_KEY_ID.",
    },
    ConfigOption {
        key: "s3.secret-key",
        kind: ValueKind::Text,
        default: "",
        description: "Secret key for `s3://` checkpoint directories; unset: AWS_SECRET_ACCESS_KEY.",
    },
    ConfigOption {
        key: "s3.region",
        kind: ValueKind::Text,
        default: "",
        description: "Region of the S3 bucket; unset: AWS_REGION, else us-east-1.",
    },
    ConfigOption {
        key: "s3.path.style.access",
        kind: ValueKind::Bool,
        default: "",
        description: "true: address the bucket in the URL path (`endpoint/bucket`, usual for MinIO); false: in the host name (`bucket.endpoint`). Unset: path style with an endpoint, AWS_VIRTUAL_HOSTED_STYLE_REQUEST else.",
    },
    ConfigOption {
        key: "rest.enabled",
        kind: ValueKind::Bool,
        default: "false",
        description: "Serve the REST API and the web UI while an embedded job runs.",
    },
    ConfigOption {
        key: "rest.bind-address",
        kind: ValueKind::Text,
        default: "127.0.0.1",
        description: "Address the REST API and web UI listen on; another than loopback exposes them to the network.",
    },
    ConfigOption {
        key: "rest.address",
        kind: ValueKind::Text,
        default: "127.0.0.1",
        description: "Alias of rest.bind-address.",
    },
    ConfigOption {
        key: "rest.port",
        kind: ValueKind::Text,
        default: "8081",
        description: "Port of the REST API and web UI (0: any free port).",
    },
    ConfigOption {
        key: "rest.bearer-token",
        kind: ValueKind::Text,
        default: "",
        description: "When set, REST API calls need `Authorization: Bearer <token>` (the UI's own files do not).",
    },
    ConfigOption {
        key: "jobmanager.rpc.address",
        kind: ValueKind::Text,
        default: "127.0.0.1",
        description: "Address of the standalone JobManager's RPC endpoint (TaskManager registration and heartbeats, job binaries, job processes' reports): where it listens and where TaskManagers reach it; another than loopback exposes it to the network.",
    },
    ConfigOption {
        key: "jobmanager.rpc.port",
        kind: ValueKind::NonNegativeInt,
        default: "6123",
        description: "Port of the standalone JobManager's RPC endpoint (0: any free port).",
    },
    ConfigOption {
        key: "heartbeat.interval",
        kind: ValueKind::Duration,
        default: "10 s",
        description: "How often a TaskManager heartbeats to the JobManager.",
    },
    ConfigOption {
        key: "heartbeat.timeout",
        kind: ValueKind::Duration,
        default: "50 s",
        description: "How long a TaskManager may be silent before the JobManager declares it lost.",
    },
    ConfigOption {
        key: "taskmanager.numberOfTaskSlots",
        kind: ValueKind::PositiveInt,
        default: "1",
        description: "Task slots a TaskManager offers (a job needs as many as its highest parallelism).",
    },
    ConfigOption {
        key: "cluster.evenly-spread-out-slots",
        kind: ValueKind::Bool,
        default: "false",
        description: "Take a job's slots round-robin from the TaskManagers with the most free slots instead of filling one TaskManager after the other.",
    },
    ConfigOption {
        key: "task.cancellation.timeout",
        kind: ValueKind::Duration,
        default: "30 s",
        description: "How long the processes of a job cancelled on the standalone JobManager have to exit on their own before it has those still running killed (positive).",
    },
    ConfigOption {
        key: "blob.storage.directory",
        kind: ValueKind::Path,
        default: "",
        description: "Directory where the standalone JobManager keeps the job binaries submitted to it; unset: in its memory.",
    },
    ConfigOption {
        key: "process.taskmanager.working-dir",
        kind: ValueKind::Path,
        default: "",
        description: "Directory where a TaskManager caches job binaries and writes its attempts' logs; unset: a fresh temporary directory removed when it stops.",
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
