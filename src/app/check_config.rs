//! `c2tap check-config`: validates a config file the way `c2tap run` reads it and prints every
//! problem with its key path. Beside the data path: nothing is opened or started.

use std::io::Write;
use std::path::Path;

use crate::config::{self, ConfigError};

/// Prints `ok` or the problems; returns whether the file is valid.
pub fn check_config(path: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    match config::load(path) {
        Ok(s) => {
            writeln!(
                out,
                "{}: ok ({} interface(s), {} worker(s) each, {} output(s))",
                path.display(),
                s.capture.interfaces.len(),
                s.capture.workers,
                s.outputs.urls.len()
            )?;
            Ok(true)
        }
        Err(ConfigError::Invalid(problems)) => {
            for p in &problems {
                writeln!(out, "{}: {p}", path.display())?;
            }
            writeln!(out, "{} problem(s)", problems.len())?;
            Ok(false)
        }
        Err(e) => {
            writeln!(out, "{e}")?;
            Ok(false)
        }
    }
}
