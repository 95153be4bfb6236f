//! Scores of a model on the test period: AUC, accuracy, precision, recall and F1 for occupancy;
//! MAPE (on positive targets), MSD, MAE and RMSE for energy. A metric that does not apply, or
//! has no defined value (precision without a positive prediction), is `None`.

use serde::Serialize;

/// One row of scores; every metric of both targets, `None` where it does not apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub auc: Option<f64>,
    pub accuracy: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub mape: Option<f64>,
    pub msd: Option<f64>,
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
}

/// The probability from which a slot is predicted occupied.
pub const DECISION_THRESHOLD: f64 = 0.5;

/// Classification scores of probabilities `scores` against 0/1 `labels`.
pub fn classification(labels: &[f64], scores: &[f64]) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
    for (label, score) in labels.iter().zip(scores) {
        match (*label >= 0.5, *score >= DECISION_THRESHOLD) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    Metrics {
        auc: auc(labels, scores),
        accuracy: ratio(tp + tn, tp + fp + tn + fn_),
        precision,
        recall,
        f1,
        ..Metrics::default()
    }
}

/// Area under the ROC curve (the probability that a random positive scores above a random
/// negative, ties counting a half), by ranks; `None` without both classes.
pub fn auc(labels: &[f64], scores: &[f64]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0u64);
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Tied scores share the mean of their ranks (1-based).
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            if labels[i] >= 0.5 {
                rank_sum += mean_rank;
                positives += 1;
            }
        }
        start = end;
    }
    let negatives = labels.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// The ROC curve of `scores`: (false positive rate, true positive rate) at every threshold,
/// from (0, 0) to (1, 1).
pub fn roc_curve(labels: &[f64], scores: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|l| **l >= 0.5).count().max(1) as f64;
    let negatives = (labels.len() as f64 - positives).max(1.0);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut curve = vec![(0.0, 0.0)];
    for (k, &i) in order.iter().enumerate() {
        if labels[i] >= 0.5 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_tie {
            curve.push((fp / negatives, tp / positives));
        }
    }
    curve
}

/// Regression scores of `predicted` against `actual`. MAPE (in %) counts only positive actual
/// values (a zero target has no percentage error); MSD is the mean signed deviation
/// (predicted − actual), 0 for an unbiased model.
pub fn regression(actual: &[f64], predicted: &[f64]) -> Metrics {
    let n = actual.len() as f64;
    let errors: Vec<f64> = predicted.iter().zip(actual).map(|(p, a)| p - a).collect();
    let mean = |values: &mut dyn Iterator<Item = f64>, count: f64| {
        (count > 0.0).then(|| values.sum::<f64>() / count)
    };
    let positive: Vec<(f64, f64)> = actual
        .iter()
        .zip(predicted)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, p)| (*a, *p))
        .collect();
    Metrics {
        mape: mean(
            &mut positive.iter().map(|(a, p)| 100.0 * (p - a).abs() / a),
            positive.len() as f64,
        ),
        msd: mean(&mut errors.iter().copied(), n),
        mae: mean(&mut errors.iter().map(|e| e.abs()), n),
        rmse: mean(&mut errors.iter().map(|e| e * e), n).map(f64::sqrt),
        ..Metrics::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_a_half() {
        assert_eq!(auc(&[0.0, 1.0], &[0.1, 0.9]), Some(1.0));
        assert_eq!(auc(&[0.0, 1.0], &[0.9, 0.1]), Some(0.0));
        assert_eq!(auc(&[0.0, 1.0, 0.0, 1.0], &[0.5; 4]), Some(0.5));
        // One of the two positives outranks both negatives, the other only one.
        assert_eq!(
            auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]),
            Some(0.75)
        );
        assert_eq!(auc(&[1.0, 1.0], &[0.1, 0.2]), None);
    }

    #[test]
    fn roc_curve_runs_from_origin_to_one() {
        let curve = roc_curve(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]);
        assert_eq!(curve.first(), Some(&(0.0, 0.0)));
        assert_eq!(curve.last(), Some(&(1.0, 1.0)));
        assert_eq!(curve[1], (0.0, 0.5));
    }

    #[test]
    fn classification_scores_at_the_threshold() {
        let m = classification(&[1.0, 1.0, 0.0, 0.0], &[0.9, 0.2, 0.6, 0.1]);
        assert_eq!(m.accuracy, Some(0.5));
        assert_eq!(m.precision, Some(0.5));
        assert_eq!(m.recall, Some(0.5));
        assert_eq!(m.f1, Some(0.5));
        assert_eq!(classification(&[0.0], &[0.1]).precision, None);
    }

    #[test]
    fn regression_mape_ignores_zero_targets() {
        let m = regression(&[100.0, 0.0, 50.0], &[110.0, 5.0, 50.0]);
        assert_eq!(m.mape, Some(5.0));
        assert_eq!(m.msd, Some(5.0));
        assert_eq!(m.mae, Some(5.0));
        assert!((m.rmse.unwrap() - (125.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
