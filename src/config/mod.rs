//! Configuration: one TOML file, validated into typed settings with every problem reported.
//! Sits beside the data path: `c2tap run` reads it once at start (and `check-config` reads it
//! for the operator); the packet path only ever sees the typed [`Settings`].
//!
//! Two stages. Serde structs with `deny_unknown_fields` hold what the file says, as written
//! (durations and sizes stay text); [`RawConfig::validate`] turns them into [`Settings`] and
//! collects every problem with its key path, so one run of `check-config` lists them all. Each
//! section is deserialized on its own, so an unknown key in one section does not hide the
//! problems of another.
//!
//! Files: `raw` (the sections as written), `lenient` (parsing that reports every bad key with
//! its path), `settings` (the typed result), `check` and `validate` (stage two).

mod check;
mod lenient;
mod raw;
mod settings;
#[cfg(test)]
mod tests;
mod validate;

use std::path::{Path, PathBuf};

use crate::exclude::severity::SeverityTable;
use crate::exclude::ExclusionSet;

pub use crate::problem::Problem;
pub use crate::units::{DurationText, SizeText};
pub use check::log_filter;
pub use raw::*;
pub use settings::*;

/// Largest config file read; a config is a few KiB, anything near this is a wrong path.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_CONFIG_BYTES} bytes; not a config file", path = path.display())]
    TooLarge { path: PathBuf },
    /// A config anyone but its owner may rewrite could steer the sensor.
    #[error(transparent)]
    Untrusted(#[from] crate::privilege::PrivilegeError),
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

impl ConfigError {
    /// The individual problems (one for an unreadable file).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::Invalid(p) => p.clone(),
            other => vec![Problem {
                key: "(file)".into(),
                message: other.to_string(),
            }],
        }
    }
}

/// The file's text, refusing anything too large to be a config before reading it.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    crate::privilege::check_file_trust(path)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut crate::privilege::open_regular(path).map_err(io)?,
        &mut text,
    )
    .map_err(io)?;
    Ok(text)
}

/// Reads, parses and validates a file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    RawConfig::check(path)
}

/// What `replay --config` takes from a file: the exclusion rules and the severity table. The
/// file may be the sensor's full config or only `[[exclude]]`/`[severity]`; problems elsewhere
/// in it are not `replay`'s business and are left to `check-config`.
pub fn load_exclusions(path: &Path) -> Result<(ExclusionSet, SeverityTable), ConfigError> {
    let text = read_text(path)?;
    let (raw, problems) = RawConfig::parse_lenient(&text).map_err(ConfigError::Invalid)?;
    let ours = |p: &Problem| {
        let section = p.key.split(['.', '[']).next().unwrap_or("");
        matches!(section, "exclude" | "exclude_action" | "severity")
    };
    let mut problems: Vec<Problem> = problems.into_iter().filter(ours).collect();
    let mut c = check::Check::default();
    let (exclusions, severity) = raw.validate_exclusions(&mut c);
    problems.extend(c.problems);
    match problems.is_empty() {
        true => Ok((exclusions, severity)),
        false => Err(ConfigError::Invalid(problems)),
    }
}
