//! `kubesage plan fit` (placeholder).

use std::io::Write;

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `plan fit`.
#[derive(Debug, Clone, Args)]
pub struct FitArgs {}

/// Runs `plan fit`.
pub fn run(_config: Option<&std::path::Path>, _args: &FitArgs, _out: &mut dyn Write, _err: &mut dyn Write) -> Result<u8> {
    Err(Error::Usage("plan fit is not implemented yet".into()))
}
