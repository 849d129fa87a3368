//! A seasonal baseline that learns daily and weekly cycles from the timestamps.
//!
//! The value is split into a slow level (an exponentially weighted mean with a two-day time
//! constant) and a cyclic part, learned per half hour of the day and per hour of the week.
//! The prediction uses the weekly profile once each of its bins has been seen a few times,
//! the daily one before that. The detector also measures how much of the variance the cycle
//! explains, so an ensemble can tell a seasonal series from one that is not.

use kubesage_core::Detector;

use super::stats::z_to_score;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
const DAILY_BINS: usize = 48;
const WEEKLY_BINS: usize = 168;
/// Level time constant, seconds.
const LEVEL_TAU: f64 = 2.0 * DAY as f64;
/// Weight of a new observation in its bin.
const BIN_ALPHA: f32 = 0.2;

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    mean: f32,
    var: f32,
    n: u16,
    /// Distinct days (or weeks) this bin was seen in; a profile is trusted from the second.
    periods: u16,
    last_period: i32,
}

impl Bin {
    fn trusted(&self) -> bool {
        self.periods >= 2
    }

    fn update(&mut self, y: f32, period: i32) {
        if self.periods == 0 || period != self.last_period {
            self.periods = self.periods.saturating_add(1);
            self.last_period = period;
        }
        self.n = self.n.saturating_add(1);
        let a = BIN_ALPHA.max(1.0 / f32::from(self.n));
        let d = y - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }
}

/// Residual z-score against a learned daily and weekly profile.
#[derive(Debug, Clone)]
pub struct SeasonalDetector {
    daily: Box<[Bin; DAILY_BINS]>,
    weekly: Box<[Bin; WEEKLY_BINS]>,
    level: f64,
    last_t: Option<i64>,
    first_t: Option<i64>,
    /// Exponentially weighted squared residual with and without the cycle.
    res_var: f64,
    total_var: f64,
}

impl Default for SeasonalDetector {
    fn default() -> Self {
        SeasonalDetector {
            daily: Box::new([Bin::default(); DAILY_BINS]),
            weekly: Box::new([Bin::default(); WEEKLY_BINS]),
            level: 0.0,
            last_t: None,
            first_t: None,
            res_var: 0.0,
            total_var: 0.0,
        }
    }
}

impl SeasonalDetector {
    fn bins(t: i64) -> (usize, usize) {
        let d = usize::try_from(t.rem_euclid(DAY) * DAILY_BINS as i64 / DAY).unwrap_or(0);
        let w = usize::try_from(t.rem_euclid(WEEK) * WEEKLY_BINS as i64 / WEEK).unwrap_or(0);
        (d.min(DAILY_BINS - 1), w.min(WEEKLY_BINS - 1))
    }

    /// The prediction's residual z-score for `x` at `t`, or `None` before the daily
    /// profile has seen a full day.
    pub fn z(&self, t: i64, x: f64) -> Option<f64> {
        let first = self.first_t?;
        if t - first < DAY {
            return None;
        }
        let (d, w) = Self::bins(t);
        let bin = if self.weekly[w].trusted() { &self.weekly[w] } else { &self.daily[d] };
        if !bin.trusted() {
            return None;
        }
        let pred = self.level + f64::from(bin.mean);
        let floor = 1e-9 + 1e-6 * self.level.abs() + 0.05 * self.res_var.max(0.0).sqrt();
        let sd = f64::from(bin.var).max(0.0).sqrt().max(floor);
        Some((x - pred).abs() / sd)
    }

    /// How much of the variance around the level the cycle explains, in `[0, 1]`.
    pub fn strength(&self) -> f64 {
        if self.total_var <= 0.0 {
            return 0.0;
        }
        (1.0 - self.res_var / self.total_var).clamp(0.0, 1.0)
    }

    /// Folds in a point.
    pub fn observe(&mut self, t: i64, x: f64) {
        let (d, w) = Self::bins(t);
        match self.last_t {
            None => {
                self.level = x;
                self.first_t = Some(t);
            }
            Some(last) => {
                let dt = (t - last).max(0) as f64;
                let a = 1.0 - (-dt / LEVEL_TAU).exp();
                self.level += a * (x - self.level);
            }
        }
        self.last_t = Some(t.max(self.last_t.unwrap_or(t)));
        let y = x - self.level;
        let bin = if self.weekly[w].trusted() { self.weekly[w] } else { self.daily[d] };
        if bin.trusted() {
            let r = y - f64::from(bin.mean);
            self.res_var += 0.01 * (r * r - self.res_var);
            self.total_var += 0.01 * (y * y - self.total_var);
        }
        let day = i32::try_from(t.div_euclid(DAY)).unwrap_or(0);
        let week = i32::try_from(t.div_euclid(WEEK)).unwrap_or(0);
        self.daily[d].update(y as f32, day);
        self.weekly[w].update(y as f32, week);
    }
}

impl Detector for SeasonalDetector {
    fn name(&self) -> &'static str {
        "seasonal"
    }

    fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let z = self.z(timestamp, value).unwrap_or(0.0);
        self.observe(timestamp, value);
        z_to_score(z)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of::<[Bin; DAILY_BINS]>()
            + std::mem::size_of::<[Bin; WEEKLY_BINS]>()
    }
}
