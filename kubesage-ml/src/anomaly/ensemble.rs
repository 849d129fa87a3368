//! The default detector: context novelty, weighed by how unlikely the current deviation is,
//! or a break in a learned daily or weekly cycle, with a rest period after each alarm.
//!
//! Each part covers what the others miss. Novelty alone fires on any never-seen shape,
//! including harmless flicker between quantisation levels; weighing it by the likelihood
//! of the robust z-score (calibrated against the series' own history of deviations), and
//! by the z-score itself up to 3, keeps only shapes that are also unusual in size. A missing daily peak is a familiar shape at
//! an unfamiliar time, which only the seasonal profile sees. The rest period turns one
//! event into one alarm.
//!
//! Settings were chosen on the NAB subset in `shared/data/nab` (standard profile score 62.3
//! there); neighbouring settings score within a few points, so the choice is not a knife-edge.

use kubesage_core::Detector;

use super::context::{ContextDetector, ContextParams};

/// The default detector's settings.
pub const DEFAULT_PARAMS: ContextParams = ContextParams {
    warmup: 300,
    levels: 3,
    word: 4,
    rest_period: 150,
    quantile: 0.01,
    magnitude_z: 3.0,
    season_z: 8.0,
    likelihood: true,
};

/// The default ensemble detector.
#[derive(Debug, Clone)]
pub struct DefaultDetector(ContextDetector);

impl Default for DefaultDetector {
    fn default() -> Self {
        DefaultDetector(ContextDetector::with_params(DEFAULT_PARAMS))
    }
}

impl Detector for DefaultDetector {
    fn name(&self) -> &'static str {
        "default"
    }

    fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        self.0.score(timestamp, value)
    }

    fn memory_bytes(&self) -> usize {
        self.0.memory_bytes()
    }
}
