//! `kubesage plan model` (placeholder).

use std::io::Write;

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `plan model`.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {}

/// Runs `plan model`.
pub fn run(_config: Option<&std::path::Path>, _args: &ModelArgs, _out: &mut dyn Write, _err: &mut dyn Write) -> Result<u8> {
    Err(Error::Usage("plan model is not implemented yet".into()))
}
