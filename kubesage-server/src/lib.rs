//! The KubeSage command line (`kubesage`) and, as its issues land, the HTTP service.
//!
//! The binary is a thin `main` over [`cli::run`], so every command is also callable (and
//! tested) as a library function that returns an exit code instead of exiting.

pub mod cli;
pub mod error;
pub mod render;

pub use error::{Error, Result};
