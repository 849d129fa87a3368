//! `kubesage plan resources` (placeholder).

use std::io::Write;

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `plan resources`.
#[derive(Debug, Clone, Args)]
pub struct ResourcesArgs {}

/// Runs `plan resources`.
pub fn run(_config: Option<&std::path::Path>, _args: &ResourcesArgs, _out: &mut dyn Write, _err: &mut dyn Write) -> Result<u8> {
    Err(Error::Usage("plan resources is not implemented yet".into()))
}
