//! The KubeSage command line (`kubesage`) and HTTP service.
//!
//! The binary is a thin `main` over [`cli::run`], so every command is also callable (and
//! tested) as a library function that returns an exit code instead of exiting. The service
//! is a function too: [`app`] builds the router over an [`AppState`], so it can be served on
//! a socket (`kubesage serve`) or driven in tests with `tower::ServiceExt::oneshot`.

pub mod alerts;
pub mod analysis;
pub mod app;
pub mod auth;
pub mod cli;
pub mod connections;
pub mod error;
pub mod explainer;
pub mod inference;
pub mod metrics;
pub mod render;
pub mod routes;
pub mod state;

pub use app::app;
pub use error::{Error, Result};
pub use state::{AppState, ServeSettings};
