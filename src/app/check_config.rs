//! `c2tap check-config`: checks a config file exactly as `c2tap run` checks it before capture
//! ([`super::startup::check`]) — values, user, TLS files, output paths, feed files — loads the
//! feeds, and prints every problem with its key path, or the counts of what would start.
//! Beside the data path: nothing is captured, no socket opened, no thread started.

use std::io::Write;
use std::path::Path;

use super::run::RunFlags;
use super::startup::{self, Feeds};

/// Prints `ok` with what would start, or the problems; returns whether the file is valid.
pub fn check_config(path: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    let flags = RunFlags {
        config: Some(path.to_path_buf()),
        ..RunFlags::default()
    };
    let now = crate::time::wall_secs();
    match startup::check(&flags, None, Feeds::Load, now) {
        Ok(checked) => {
            let s = &checked.settings;
            let stats = checked.feeds.unwrap_or_default();
            writeln!(
                out,
                "{}: ok ({} interface(s), {} worker(s) each, {} output(s), {} IOCs)",
                path.display(),
                s.capture.interfaces.len(),
                s.capture.workers,
                s.outputs.specs.len(),
                stats.iocs
            )?;
            for f in &stats.files {
                writeln!(
                    out,
                    "{}: feed {}: {} rows, {} loaded, {} duplicates, {} filtered, {} rejected",
                    path.display(),
                    f.file,
                    f.rows,
                    f.loaded,
                    f.duplicates,
                    f.filtered.total(),
                    f.rejected.total()
                )?;
            }
            for source in &s.iocs.fetch.sources {
                writeln!(
                    out,
                    "{}: source {}: {} {}, every {}s, cached in {}",
                    path.display(),
                    source.name,
                    source.kind.label(),
                    source.kind.url(),
                    source.interval.as_secs(),
                    s.iocs.fetch.state_dir.display()
                )?;
            }
            for warning in stats
                .files
                .iter()
                .filter_map(crate::ioc::FileStats::broad_warning)
            {
                writeln!(out, "{}: {warning}", path.display())?;
            }
            Ok(true)
        }
        Err(problems) => {
            for p in &problems {
                match p.key.as_str() {
                    // The file itself: the message names it already.
                    "(file)" => writeln!(out, "{}", p.message)?,
                    _ => writeln!(out, "{}: {p}", path.display())?,
                }
            }
            writeln!(out, "{} problem(s)", problems.len())?;
            Ok(false)
        }
    }
}

/// [`check_config`], then, for a valid file, each exclusion rule's warning judged against
/// today's date.
pub fn check_config_with_warnings(path: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    let valid = check_config(path, out)?;
    if valid {
        // Valid, so this load succeeds.
        if let Ok(settings) = crate::config::load(path) {
            for w in settings.exclusions.lint(crate::time::wall_secs()) {
                writeln!(out, "{}: warning: {w}", path.display())?;
            }
        }
    }
    Ok(valid)
}

/// `c2tap check-config`: the report on `out`, and an error when the file is not valid. The
/// verdict is the exit status, so the report is written in one go at the end: a reader that
/// leaves early (`| head -1`) cannot turn "not valid" into success.
pub fn command(path: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut report = Vec::new();
    let valid = check_config_with_warnings(path, &mut report)?;
    match out.write_all(&report).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    match valid {
        true => Ok(()),
        false => anyhow::bail!("{} is not valid", path.display()),
    }
}
