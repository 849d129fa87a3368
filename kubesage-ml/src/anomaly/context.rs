//! Context novelty: has the recent shape of the series been seen before?
//!
//! Values are quantised into a few levels fixed from a warm-up sample (with extra levels
//! for values beyond it), and each point extends the "words" formed by the last few
//! levels. The score is the share of those words, weighted towards the longer ones, that
//! were never seen before. A regime that repeats (a daily cycle, a square wave, steady
//! noise) stops producing new words; a spike, a shift or a broken pattern produces them at
//! once; optionally, after firing the detector rests for a while, since one alarm per
//! event is what an operator needs. The seen-set is a fixed bitmap, so memory is constant.
//!
//! The idea follows the contextual detectors that score well on NAB (CAD OSE); the design
//! here (fixed-level quantisation, weighted suffix words, a hashed seen-set) is our own.

use kubesage_core::Detector;

/// Extra levels on each side for values outside the warm-up range.
const BEYOND: i64 = 3;
/// Longest word the state can hold.
const WORD: usize = 8;
/// Bits in the seen-set.
const BITS: usize = 1 << 14;

/// Settings of [`ContextDetector`].
#[derive(Debug, Clone, Copy)]
pub struct ContextParams {
    /// Points used to fix the quantisation.
    pub warmup: usize,
    /// Levels across the warm-up range.
    pub levels: i64,
    /// Longest word, in points (at most 8).
    pub word: usize,
    /// Points of silence after an alarm.
    pub rest_period: u32,
    /// Lower quantile of the warm-up range.
    pub quantile: f64,
    /// Robust z-score at which a novel word counts fully; novelty at smaller deviations
    /// from the rolling median is scaled down (0 disables the scaling).
    pub magnitude_z: f64,
    /// Seasonal residual z-score from which a break in a learned daily or weekly cycle
    /// scores (0 disables the seasonal term).
    pub season_z: f64,
    /// Weigh novelty by the likelihood of the recent deviations.
    pub likelihood: bool,
}

impl Default for ContextParams {
    fn default() -> Self {
        ContextParams {
            warmup: 300,
            levels: 4,
            word: 6,
            rest_period: 0,
            quantile: 0.01,
            magnitude_z: 0.0,
            season_z: 0.0,
            likelihood: false,
        }
    }
}

/// Context-novelty detector.
#[derive(Debug, Clone)]
pub struct ContextDetector {
    params: ContextParams,
    warmup: Vec<f64>,
    warmup_len: usize,
    lo: f64,
    width: f64,
    recent: [u8; WORD],
    filled: usize,
    /// The seen-set, allocated when the warm-up ends (the warm-up sample is freed then), so
    /// the two never take memory at the same time.
    seen: Vec<u64>,
    rest: u32,
    rest_period: u32,
    /// The score that started the current rest; only a stronger one breaks it.
    rest_level: f64,
    baseline: super::mad::MadDetector,
    season: super::seasonal::SeasonalDetector,
    calibration: super::likelihood::Likelihood,
}

impl Default for ContextDetector {
    fn default() -> Self {
        ContextDetector::with_params(ContextParams::default())
    }
}

impl ContextDetector {
    /// A detector with these settings.
    pub fn with_params(params: ContextParams) -> Self {
        let params = ContextParams { word: params.word.clamp(1, WORD), levels: params.levels.max(1), ..params };
        ContextDetector {
            params,
            warmup: Vec::with_capacity(params.warmup),
            warmup_len: params.warmup.max(10),
            lo: 0.0,
            width: 0.0,
            recent: [0; WORD],
            filled: 0,
            seen: Vec::new(),
            rest: 0,
            rest_period: params.rest_period,
            rest_level: 0.0,
            baseline: super::mad::MadDetector::new(64),
            season: super::seasonal::SeasonalDetector::default(),
            calibration: super::likelihood::Likelihood::new(0.002, 50),
        }
    }

    fn level(&self, x: f64) -> u8 {
        let raw = if self.width > 0.0 { ((x - self.lo) / self.width).floor() } else { 0.0 };
        let l = (raw as i64).clamp(-BEYOND, self.params.levels - 1 + BEYOND) + BEYOND;
        l as u8
    }

    fn fix_scale(&mut self) {
        let mut s = std::mem::take(&mut self.warmup);
        s.sort_by(f64::total_cmp);
        let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
        let (lo, hi) = (q(self.params.quantile), q(1.0 - self.params.quantile));
        let spread = if hi > lo { hi - lo } else { 1e-9 + 1e-3 * lo.abs() };
        self.lo = lo;
        self.width = spread / self.params.levels as f64;
        self.seen = vec![0; BITS / 64];
    }

    /// Novelty in `[0, 1]` of the newest word suffixes; marks them seen.
    fn novelty(&mut self) -> f64 {
        let n = self.filled.min(self.params.word);
        let (mut new_weight, mut total) = (0.0, 0.0);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for k in 1..=n {
            let level = self.recent[WORD - k];
            h ^= u64::from(level) + 1;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            let bit = ((h ^ (h >> 29)) as usize ^ (k << 11)) % BITS;
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            let weight = k as f64;
            total += weight;
            if self.seen[word] & mask == 0 {
                new_weight += weight;
                self.seen[word] |= mask;
            }
        }
        if total > 0.0 { new_weight / total } else { 0.0 }
    }
}

impl Detector for ContextDetector {
    fn name(&self) -> &'static str {
        "context"
    }

    fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let z = self.baseline.z(value);
        self.baseline.observe(value);
        let season = if self.params.season_z > 0.0 {
            let zs = self.season.z(timestamp, value).filter(|_| self.season.strength() > 0.6).unwrap_or(0.0);
            self.season.observe(timestamp, value);
            ((zs - self.params.season_z) / self.params.season_z).clamp(0.0, 1.0)
        } else {
            0.0
        };
        if !self.warmup.is_empty() || self.width == 0.0 {
            self.warmup.push(value);
            if self.warmup.len() < self.warmup_len {
                return 0.0;
            }
            self.fix_scale();
        }
        self.recent.rotate_left(1);
        self.recent[WORD - 1] = self.level(value);
        self.filled += 1;
        let mut novelty = self.novelty();
        if self.params.likelihood {
            novelty *= self.calibration.update(z.min(20.0));
        }
        if self.params.magnitude_z > 0.0 {
            novelty *= (z / self.params.magnitude_z).min(1.0);
        }
        novelty = novelty.max(season);
        if self.filled < self.params.word {
            return 0.0;
        }
        if self.rest > 0 {
            self.rest -= 1;
            // A rest started by a weak alarm does not hide a certain one.
            if novelty < 0.99 || self.rest_level >= 0.75 {
                return 0.0;
            }
        }
        if novelty >= 0.5 && self.rest_period > 0 {
            self.rest = self.rest_period;
            self.rest_level = novelty;
        }
        novelty
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.seen.capacity() * 8
            + self.warmup.capacity() * 8
            + self.baseline.memory_bytes()
            + if self.params.season_z > 0.0 { self.season.memory_bytes() } else { 0 }
    }
}
