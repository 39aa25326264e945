//! Flink's `AggregateFunction`: incremental aggregation through an accumulator.

/// Aggregates values of type `IN` into an accumulator `ACC` and reads a result
/// `OUT` from it. Used by aggregating state and, later, by window aggregations.
///
/// ```
/// use runnel_state::AggregateFunction;
///
/// /// The average of `i64` values.
/// struct Average;
///
/// impl AggregateFunction<i64, (i64, u64), f64> for Average {
///     fn create_accumulator(&self) -> (i64, u64) {
///         (0, 0)
///     }
///     fn add(&self, value: i64, (sum, n): (i64, u64)) -> (i64, u64) {
///         (sum + value, n + 1)
///     }
///     fn get_result(&self, &(sum, n): &(i64, u64)) -> f64 {
///         sum as f64 / n as f64
///     }
///     fn merge(&self, a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
///         (a.0 + b.0, a.1 + b.1)
///     }
/// }
///
/// let acc = Average.add(4, Average.add(2, Average.create_accumulator()));
/// assert_eq!(Average.get_result(&acc), 3.0);
/// ```
pub trait AggregateFunction<IN, ACC, OUT> {
    /// A new, empty accumulator.
    fn create_accumulator(&self) -> ACC;
    /// Adds `value` to `accumulator`, returning the updated accumulator.
    fn add(&self, value: IN, accumulator: ACC) -> ACC;
    /// The result for the values added to `accumulator`.
    fn get_result(&self, accumulator: &ACC) -> OUT;
    /// Merges two accumulators (for merging windows).
    fn merge(&self, a: ACC, b: ACC) -> ACC;
}
