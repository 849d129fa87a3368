//! A robust rolling baseline: distance from the rolling median in units of the rolling
//! median absolute deviation (MAD). Outliers barely move a median, so a spike does not
//! hide the next one, and a level shift is flagged until half the window has moved.

use kubesage_core::Detector;

use super::stats::{RollingWindow, z_to_score};

/// Scale factor that makes the MAD estimate a normal standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Robust z-score against a rolling median and MAD.
#[derive(Debug, Clone)]
pub struct MadDetector {
    window: RollingWindow,
    min_points: usize,
}

impl MadDetector {
    /// A detector over the last `window` points; it scores 0 until it holds a quarter of them.
    pub fn new(window: usize) -> Self {
        MadDetector { window: RollingWindow::new(window), min_points: (window / 4).max(3) }
    }

    /// The robust z-score of `x` against the current window, before `x` joins it.
    pub fn z(&self, x: f64) -> f64 {
        if self.window.len() < self.min_points {
            return 0.0;
        }
        let med = self.window.median();
        let (lo, hi) = self.window.range();
        // A floor on the scale keeps a constant series from turning rounding into alarms,
        // and is relative to the data's own magnitude and spread.
        let floor = 1e-9 + 1e-6 * med.abs() + 1e-3 * (hi - lo);
        let scale = (MAD_TO_SIGMA * self.window.mad()).max(floor);
        (x - med).abs() / scale
    }

    /// Adds a point to the window without scoring it.
    pub fn observe(&mut self, x: f64) {
        self.window.push(x);
    }
}

impl Default for MadDetector {
    fn default() -> Self {
        MadDetector::new(64)
    }
}

impl Detector for MadDetector {
    fn name(&self) -> &'static str {
        "mad"
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
        std::mem::size_of::<Self>() + self.window.memory_bytes()
    }
}
