//! Calibration of raw anomaly scores as a likelihood, in the spirit of Numenta's
//! "anomaly likelihood": how improbable is the recent average raw score, given the
//! distribution of raw scores over a much longer past? A series whose raw scores are
//! always noisy stops alarming; a quiet series alarms on its first real surprise.

use super::stats::{Ewm, normal_tail};

/// Short-term average length, in points.
const SHORT: usize = 6;

/// Turns raw scores into calibrated probabilities that the recent behaviour is abnormal.
#[derive(Debug, Clone)]
pub struct Likelihood {
    long: Ewm,
    alpha: f64,
    short: [f64; SHORT],
    next: usize,
    filled: usize,
    warmup: u32,
}

impl Likelihood {
    /// A calibrator whose long-term memory is about `1/alpha` points, silent for the first
    /// `warmup` points.
    pub fn new(alpha: f64, warmup: u32) -> Self {
        Likelihood { long: Ewm::default(), alpha, short: [0.0; SHORT], next: 0, filled: 0, warmup }
    }

    /// Folds in a raw score and returns the probability, in `[0, 1]`, that the recent raw
    /// scores are higher than the long-term distribution explains.
    pub fn update(&mut self, raw: f64) -> f64 {
        let raw = if raw.is_finite() { raw } else { 0.0 };
        self.short[self.next] = raw;
        self.next = (self.next + 1) % SHORT;
        self.filled = (self.filled + 1).min(SHORT);
        let short_mean = self.short[..self.filled].iter().sum::<f64>() / self.filled as f64;
        let p = if self.long.n < self.warmup {
            0.0
        } else {
            let sd = self.long.std().max(0.01 + 0.05 * self.long.mean.abs());
            1.0 - normal_tail((short_mean - self.long.mean) / sd)
        };
        self.long.update(raw, self.alpha);
        p
    }
}
