//! An adaptive exponentially weighted baseline. Residuals are clipped before they update
//! the mean and variance, so one outlier cannot inflate the variance and mask the next;
//! and when the series sits on one side of the mean for a while (a level shift) the
//! detector adopts the new level quickly instead of alarming for hundreds of points.

use kubesage_core::Detector;

use super::stats::{Ewm, z_to_score};

/// EWMA z-score with clipped updates and level-shift adaptation.
#[derive(Debug, Clone)]
pub struct EwmaDetector {
    stats: Ewm,
    alpha: f64,
    /// Consecutive points beyond 3 sigma on the same side (signed).
    run: i32,
    warmup: u32,
}

/// Points on one side before a shift is accepted as the new normal.
const SHIFT_RUN: i32 = 12;

impl EwmaDetector {
    /// A detector whose memory is about `1/alpha` points.
    pub fn new(alpha: f64) -> Self {
        EwmaDetector { stats: Ewm::default(), alpha: alpha.clamp(1e-4, 1.0), run: 0, warmup: 10 }
    }

    /// The z-score of `x` before it is folded in.
    pub fn z(&self, x: f64) -> f64 {
        if self.stats.n < self.warmup {
            return 0.0;
        }
        let floor = 1e-9 + 1e-6 * self.stats.mean.abs();
        (x - self.stats.mean).abs() / self.stats.std().max(floor)
    }

    /// Folds in a point.
    pub fn observe(&mut self, x: f64) {
        let sd = self.stats.std();
        let d = x - self.stats.mean;
        let beyond = self.stats.n >= self.warmup && d.abs() > 3.0 * sd.max(1e-12);
        self.run = match (beyond, d > 0.0) {
            (false, _) => 0,
            (true, true) => self.run.max(0) + 1,
            (true, false) => self.run.min(0) - 1,
        };
        if self.run.abs() >= SHIFT_RUN {
            // Accept the new level: restart the moments from here.
            self.stats = Ewm { mean: x, var: self.stats.var, n: self.warmup };
            self.run = 0;
            return;
        }
        let clipped = if beyond { self.stats.mean + d.signum() * 3.0 * sd } else { x };
        self.stats.update(clipped, self.alpha);
    }
}

impl Default for EwmaDetector {
    fn default() -> Self {
        EwmaDetector::new(0.02)
    }
}

impl Detector for EwmaDetector {
    fn name(&self) -> &'static str {
        "ewma"
    }

    fn score(&mut self, _timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let z = self.z(value);
        self.observe(value);
        z_to_score(z)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}
