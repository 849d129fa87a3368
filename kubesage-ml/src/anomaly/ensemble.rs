//! The default detector: a robust level baseline, corrected by a seasonal profile when the
//! series has one, calibrated as a likelihood so that each series alarms relative to its
//! own normal noise.

use kubesage_core::Detector;
use kubesage_core::anomaly::log_scale;

use super::likelihood::Likelihood;
use super::mad::MadDetector;
use super::seasonal::SeasonalDetector;
use super::stats::normal_tail;

/// Tunable settings of [`DefaultDetector`].
#[derive(Debug, Clone, Copy)]
pub struct DefaultParams {
    /// Rolling window of the robust baseline, in points.
    pub window: usize,
    /// Seasonal strength above which the cycle corrects the baseline.
    pub seasonal_strength: f64,
    /// Long-term memory of the likelihood, as a weight per point.
    pub likelihood_alpha: f64,
    /// Cap on the robust z-score fed to the likelihood.
    pub z_cap: f64,
    /// Weight of a single point's own surprise against the likelihood.
    pub point_weight: f64,
}

impl Default for DefaultParams {
    fn default() -> Self {
        DefaultParams { window: 64, seasonal_strength: 0.5, likelihood_alpha: 0.002, z_cap: 20.0, point_weight: 0.8 }
    }
}

/// The default ensemble detector.
#[derive(Debug, Clone)]
pub struct DefaultDetector {
    params: DefaultParams,
    mad: MadDetector,
    seasonal: SeasonalDetector,
    likelihood: Likelihood,
}

impl Default for DefaultDetector {
    fn default() -> Self {
        DefaultDetector::with_params(DefaultParams::default())
    }
}

impl DefaultDetector {
    /// A detector with these settings.
    pub fn with_params(params: DefaultParams) -> Self {
        DefaultDetector {
            params,
            mad: MadDetector::new(params.window),
            seasonal: SeasonalDetector::default(),
            likelihood: Likelihood::new(params.likelihood_alpha, 50),
        }
    }
}

impl Detector for DefaultDetector {
    fn name(&self) -> &'static str {
        "default"
    }

    fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let level_z = self.mad.z(value);
        let z = match self.seasonal.z(timestamp, value) {
            Some(season_z) if self.seasonal.strength() > self.params.seasonal_strength => level_z.min(season_z),
            _ => level_z,
        };
        self.mad.observe(value);
        self.seasonal.observe(timestamp, value);
        let lik = self.likelihood.update(z.min(self.params.z_cap));
        let point = 1.0 - 2.0 * normal_tail(z);
        log_scale(lik).max(self.params.point_weight * log_scale(point))
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.mad.memory_bytes() - std::mem::size_of::<MadDetector>()
            + self.seasonal.memory_bytes()
            - std::mem::size_of::<SeasonalDetector>()
    }
}
