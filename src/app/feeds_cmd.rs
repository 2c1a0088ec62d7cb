//! `c2tap feeds status` and `c2tap feeds fetch`: the operator's view of the fetched feeds
//! (`[[iocs.source]]`). `status` reads the last good copies the sensor keeps in
//! `iocs.state_dir` (age, IOCs, stale or corrupt); `fetch` fetches every source (or one) now,
//! judges each answer exactly as the sensor does and prints what came back. Neither touches
//! the running sensor or its cache: `fetch` stages bodies in a private temporary directory.
//! Both exit non-zero when a source fails, so they fit in a monitoring check.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::feeds::{self, FetchSettings, Fetcher, Report, SourceStatus};
use crate::ioc::IocSet;

#[derive(Args)]
pub struct FeedsArgs {
    #[command(subcommand)]
    command: FeedsCommand,
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Show each source's last good copy: age, IOCs, stale (no success for 2 x interval).
    Status(ConfigArg),
    /// Fetch now and show per source: HTTP status, bytes, IOCs by type, rejected, filtered.
    Fetch(FetchArgs),
}

#[derive(Args)]
struct ConfigArg {
    /// Config file with the `[[iocs.source]]` tables.
    #[arg(long, value_name = "FILE", default_value = "/etc/c2tap/c2tap.toml")]
    config: PathBuf,
}

#[derive(Args)]
struct FetchArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this source.
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
}

/// Runs `c2tap feeds …`; an error when a source failed (the exit code says so).
pub fn main(args: FeedsArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let failed = match args.command {
        FeedsCommand::Status(a) => status(&a.config, &mut out)?,
        FeedsCommand::Fetch(a) => fetch(&a.config.config, a.source.as_deref(), &mut out)?,
    };
    out.flush()?;
    match failed {
        0 => Ok(()),
        n => bail!("{n} source(s) failed"),
    }
}

fn settings(config: &Path) -> Result<(FetchSettings, crate::ioc::Filters)> {
    let settings = crate::config::load(config)?;
    if settings.iocs.fetch.sources.is_empty() {
        bail!("{}: no [[iocs.source]] configured", config.display());
    }
    Ok((settings.iocs.fetch, settings.iocs.filters))
}

/// Prints each source's cached copy; returns how many are stale, missing or corrupt.
pub fn status(config: &Path, out: &mut dyn Write) -> Result<usize> {
    let (fetch, filters) = settings(config)?;
    let now = crate::time::wall_secs();
    let mut fetcher = Fetcher::new(fetch.clone(), filters, false);
    // The cached copies are read where the sensor keeps them; loaded from a private directory.
    let staging = private_dir()?;
    fetcher.stage_in(&staging);
    let reports = fetcher.load_cache(now);
    let _ = std::fs::remove_dir_all(&staging);
    writeln!(out, "state dir: {}", fetch.state_dir.display())?;
    let mut failed = 0;
    for status in fetcher.status() {
        let report = reports.iter().find(|r| r.name == status.name);
        let line = match (report.map(|r| &r.outcome), status.age(now)) {
            (Some(Err((reason, why))), _) => {
                failed += 1;
                format!("FAILED ({}): {why}", reason.label())
            }
            (_, None) => {
                failed += 1;
                "no cached copy (never fetched, or the sensor cannot write its state dir)".into()
            }
            (_, Some(age)) => {
                let stale = status.stale(now);
                failed += usize::from(stale);
                format!(
                    "{} IOCs, last success {} ago{}",
                    status.iocs,
                    show_age(age),
                    if stale {
                        ", STALE (over 2 x interval)"
                    } else {
                        ""
                    }
                )
            }
        };
        let last = match feeds::read_attempt(&fetch.state_dir, &status.name) {
            Some(a) => match a.failure {
                Some((reason, why)) => format!(
                    "; last attempt {} ago FAILED ({reason}): {why}",
                    show_age(now.saturating_sub(a.at))
                ),
                None => format!(
                    "; last attempt {} ago ok",
                    show_age(now.saturating_sub(a.at))
                ),
            },
            None => String::new(),
        };
        writeln!(
            out,
            "{} ({}, every {}): {line}{last}",
            status.name,
            status.kind,
            show_age(status.interval_secs)
        )?;
    }
    Ok(failed)
}

/// Fetches now; returns how many sources failed.
pub fn fetch(config: &Path, only: Option<&str>, out: &mut dyn Write) -> Result<usize> {
    let (mut fetch, filters) = settings(config)?;
    if let Some(name) = only {
        if fetch.source(name).is_none() {
            bail!("no source named `{name}` in {}", config.display());
        }
        fetch.sources.retain(|s| s.name == name);
    }
    // Bodies are staged where the loader reads them: a private directory, never the sensor's.
    let staging = private_dir()?;
    fetch.state_dir = staging.clone();
    let mut fetcher = Fetcher::new(fetch, filters, false);
    let mut failed = 0;
    for i in 0..fetcher.names().len() {
        let Some(report) = fetcher.fetch(i, crate::time::wall_secs()) else {
            continue;
        };
        let status = fetcher.status().get(i).cloned();
        let set = fetcher
            .sets()
            .into_iter()
            .find(|(n, _)| *n == report.name)
            .map(|(_, l)| l);
        failed += usize::from(report.outcome.is_err());
        print_report(
            out,
            &report,
            status.as_ref(),
            set.as_deref().map(|l| &l.set),
        )?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(failed)
}

/// A fresh 0700 directory under the temporary directory for staged bodies.
fn private_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("c2tap-feeds-{}", std::process::id()));
    feeds::prepare_dir(&dir).with_context(|| format!("{}", dir.display()))?;
    Ok(dir)
}

fn print_report(
    out: &mut dyn Write,
    report: &Report,
    status: Option<&SourceStatus>,
    set: Option<&IocSet>,
) -> Result<()> {
    let http = report
        .http_status
        .map_or("no HTTP answer".to_string(), |s| format!("HTTP {s}"));
    match &report.outcome {
        Err((reason, why)) => writeln!(
            out,
            "{}: FAILED ({}): {http}, {} bytes: {why}",
            report.name,
            reason.label(),
            report.bytes
        )?,
        Ok(_) => {
            let (mut ip_port, mut ip, mut cidr) = (0, 0, 0);
            for ioc in set.into_iter().flat_map(IocSet::iter) {
                match (ioc.port, ioc.value.contains('/')) {
                    (Some(_), _) => ip_port += 1,
                    (None, true) => cidr += 1,
                    (None, false) => ip += 1,
                }
            }
            let stats = status.and_then(|s| s.stats.as_ref());
            writeln!(
                out,
                "{}: ok: {http}, {} bytes, {} IOCs (ip:port {ip_port}, ip {ip}, cidr {cidr}), \
                 {} rejected, {} filtered, {} of other types, format {}, age 0s",
                report.name,
                report.bytes,
                ip_port + ip + cidr,
                stats.map_or(0, |s| s.rejected.total()),
                stats.map_or(0, |s| s.filtered.total()),
                stats.map_or(0, |s| s.other_types),
                stats.map_or("-", |s| s.format.label()),
            )?;
        }
    }
    Ok(())
}

fn show_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
