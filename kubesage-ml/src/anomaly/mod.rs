//! Anomaly detection for cluster metrics.
//!
//! Detectors ([`kubesage_core::Detector`]) score one point at a time with bounded state:
//! [`mad`] (robust rolling median/MAD), [`ewma`] (adaptive EWMA), [`seasonal`] (daily and
//! weekly profile), [`forest`] (isolation forest on shingles) and the [`ensemble`] default,
//! which combines the baseline and the season and calibrates the result as a likelihood.
//! [`bank`] runs one detector per series for many series; [`csv`] reads and writes series;
//! [`nab`] runs detectors over the Numenta Anomaly Benchmark layout.

pub mod bank;
pub mod context;
pub mod csv;
pub mod ensemble;
pub mod ewma;
pub mod forest;
pub mod likelihood;
pub mod mad;
pub mod nab;
pub mod nab_score;
pub mod seasonal;
pub mod stats;

use kubesage_core::Detector;

use crate::error::{Error, Result};

/// The names of every detector; the first is the default.
pub const DETECTORS: &[&str] = &["default", "context", "mad", "ewma", "seasonal", "forest"];

/// Makes a fresh detector by name.
pub fn detector(name: &str) -> Result<Box<dyn Detector>> {
    Ok(match name {
        "default" => Box::new(ensemble::DefaultDetector::default()),
        "context" => Box::new(context::ContextDetector::default()),
        "mad" => Box::new(mad::MadDetector::default()),
        "ewma" => Box::new(ewma::EwmaDetector::default()),
        "seasonal" => Box::new(seasonal::SeasonalDetector::default()),
        "forest" => Box::new(forest::ForestDetector::default()),
        _ => return Err(Error::UnknownDetector { name: name.to_owned(), known: DETECTORS.join(", ") }),
    })
}
