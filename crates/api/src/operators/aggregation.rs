//! The built-in aggregations of a keyed stream: `sum`, `min`, `max`, `min_by`,
//! `max_by`, as reduce functions with Flink's semantics (`SumAggregator`,
//! `ComparableAggregator`).
//!
//! `sum`, `min` and `max` update one field of the *first* record of the key and
//! keep its other fields: only the aggregated field is right ("max keeps only the
//! value right"). `min_by` and `max_by` keep the whole record holding the extreme
//! value; on ties the earlier record stays.

use crate::functions::ReduceFunction;
use std::cmp::Ordering;
use std::ops::Add;

/// Sums a field.
#[derive(Clone)]
pub struct Sum<F>(pub F);

impl<T, V, F> ReduceFunction<T> for Sum<F>
where
    F: Fn(&mut T) -> &mut V + Send + 'static,
    V: Add<Output = V> + Clone,
{
    #[inline]
    fn reduce(&mut self, mut accumulator: T, mut value: T) -> T {
        let add = (self.0)(&mut value).clone();
        let field = (self.0)(&mut accumulator);
        *field = field.clone() + add;
        accumulator
    }
}

/// The smallest value of a field, in the first record of the key.
#[derive(Clone)]
pub struct Min<F>(pub F);

impl<T, V, F> ReduceFunction<T> for Min<F>
where
    F: Fn(&mut T) -> &mut V + Send + 'static,
    V: PartialOrd + Clone,
{
    #[inline]
    fn reduce(&mut self, mut accumulator: T, mut value: T) -> T {
        let candidate = (self.0)(&mut value).clone();
        let field = (self.0)(&mut accumulator);
        // Flink: keep the accumulator's value only if it is strictly smaller.
        if (*field).partial_cmp(&candidate) != Some(Ordering::Less) {
            *field = candidate;
        }
        accumulator
    }
}

/// The largest value of a field, in the first record of the key.
#[derive(Clone)]
pub struct Max<F>(pub F);

impl<T, V, F> ReduceFunction<T> for Max<F>
where
    F: Fn(&mut T) -> &mut V + Send + 'static,
    V: PartialOrd + Clone,
{
    #[inline]
    fn reduce(&mut self, mut accumulator: T, mut value: T) -> T {
        let candidate = (self.0)(&mut value).clone();
        let field = (self.0)(&mut accumulator);
        // Flink: keep the accumulator's value only if it is strictly larger.
        if (*field).partial_cmp(&candidate) != Some(Ordering::Greater) {
            *field = candidate;
        }
        accumulator
    }
}

/// The whole record with the smallest field value (the earlier one on ties).
#[derive(Clone)]
pub struct MinBy<F>(pub F);

impl<T, V, F> ReduceFunction<T> for MinBy<F>
where
    F: Fn(&T) -> V + Send + 'static,
    V: PartialOrd,
{
    #[inline]
    fn reduce(&mut self, accumulator: T, value: T) -> T {
        match (self.0)(&accumulator).partial_cmp(&(self.0)(&value)) {
            Some(Ordering::Less | Ordering::Equal) => accumulator,
            _ => value,
        }
    }
}

/// The whole record with the largest field value (the earlier one on ties).
#[derive(Clone)]
pub struct MaxBy<F>(pub F);

impl<T, V, F> ReduceFunction<T> for MaxBy<F>
where
    F: Fn(&T) -> V + Send + 'static,
    V: PartialOrd,
{
    #[inline]
    fn reduce(&mut self, accumulator: T, value: T) -> T {
        match (self.0)(&accumulator).partial_cmp(&(self.0)(&value)) {
            Some(Ordering::Greater | Ordering::Equal) => accumulator,
            _ => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = (&'static str, i64, i64);

    fn fold<F: ReduceFunction<R>>(mut f: F, records: &[R]) -> Vec<R> {
        let mut acc: Option<R> = None;
        records
            .iter()
            .map(|r| {
                let next = match acc.take() {
                    None => *r,
                    Some(a) => f.reduce(a, *r),
                };
                acc = Some(next);
                next
            })
            .collect()
    }

    /// Gives a field closure its higher-ranked signature (as the API's bounds do).
    fn field<F: Fn(&mut R) -> &mut i64>(f: F) -> F {
        f
    }

    const IN: [R; 4] = [("a", 1, 5), ("b", 2, 9), ("c", 3, 9), ("d", 4, 2)];

    #[test]
    fn max_keeps_only_the_value_right() {
        let out = fold(Max(field(|r| &mut r.2)), &IN);
        assert_eq!(out, [("a", 1, 5), ("a", 1, 9), ("a", 1, 9), ("a", 1, 9)]);
    }

    #[test]
    fn max_by_keeps_the_whole_record_and_the_first_on_ties() {
        let out = fold(MaxBy(|r: &R| r.2), &IN);
        assert_eq!(out, [("a", 1, 5), ("b", 2, 9), ("b", 2, 9), ("b", 2, 9)]);
    }

    #[test]
    fn min_and_min_by() {
        assert_eq!(
            fold(Min(field(|r| &mut r.2)), &IN).last(),
            Some(&("a", 1, 2))
        );
        assert_eq!(fold(MinBy(|r: &R| r.2), &IN).last(), Some(&("d", 4, 2)));
        let ties = [("x", 0, 1), ("y", 0, 1)];
        assert_eq!(fold(MinBy(|r: &R| r.2), &ties).last(), Some(&("x", 0, 1)));
    }

    #[test]
    fn sum_accumulates_into_the_first_record() {
        let out = fold(Sum(field(|r| &mut r.1)), &IN);
        assert_eq!(out.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 3, 6, 10]);
        assert!(out.iter().all(|r| r.0 == "a" && r.2 == 5));
    }
}
