//! The `kubesage` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    kubesage_server::cli::main()
}
