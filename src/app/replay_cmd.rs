//! `c2tap replay` from the command line: turns the parsed flags into [`ReplaySettings`] (the
//! IOCs loaded, `--config`'s exclusion rules, severity table and output options applied),
//! serves `--metrics` while it runs, and makes an incomplete replay an error.

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::config;
use crate::exclude::severity::SeverityTable;
use crate::exclude::ExclusionSet;
use crate::ioc::{Filters, Loaded};
use crate::metrics::{self, Metrics, MetricsServer};
use crate::output::format::Format;
use crate::output::{OutputOptions, OutputSpec};
use crate::pipeline::WorkerConfig;
use crate::time::NANOS_PER_MILLI;

use super::replay::{replay_with_metrics, ReplaySettings};

/// The replay flags, parsed but not yet checked against each other or the files.
pub struct ReplayCommand {
    /// `--iocs` (file paths or `builtin`) and the IOC filters.
    pub feeds: Vec<String>,
    pub filters: Filters,
    pub format: Format,
    /// `--syslog` URLs.
    pub syslog: Vec<String>,
    pub syslog_ca: Option<PathBuf>,
    pub syslog_cert: Option<PathBuf>,
    pub syslog_key: Option<PathBuf>,
    pub syslog_server_name: Option<String>,
    pub worker: WorkerConfig,
    pub hostname: Option<String>,
    pub config: Option<PathBuf>,
    pub metrics: Option<SocketAddr>,
    pub metrics_linger: Duration,
    pub pcaps: Vec<PathBuf>,
}

/// The flags that tune the worker, as given.
pub struct WorkerFlags {
    pub alerts_only: bool,
    pub holddown_ms: u64,
    pub max_flows: Option<u64>,
    pub storm_flows: Option<u64>,
    pub storm_window_ms: Option<u64>,
}

impl WorkerFlags {
    /// The worker configuration: defaults with the given flags applied.
    pub fn config(&self) -> Result<WorkerConfig> {
        let mut worker = WorkerConfig {
            track_all: !self.alerts_only,
            holddown: self.holddown_ms.saturating_mul(NANOS_PER_MILLI),
            ..WorkerConfig::default()
        };
        if let Some(n) = self.max_flows {
            worker.flow.max_flows = usize::try_from(n)?;
        }
        if let Some(n) = self.storm_flows {
            worker.storm.flows = u32::try_from(n)?;
        }
        if let Some(ms) = self.storm_window_ms {
            worker.storm.window = ms.saturating_mul(NANOS_PER_MILLI);
        }
        Ok(worker)
    }
}

/// Runs the replay: records on stdout, summary and warnings on stderr.
pub fn replay_command(cmd: ReplayCommand) -> Result<()> {
    let ((exclusions, severity), mut output_options) = match &cmd.config {
        Some(path) => (exclusions(path)?, output_options(path)?),
        None => (Default::default(), OutputOptions::default()),
    };
    let syslog = cmd
        .syslog
        .iter()
        .map(|url| {
            url.parse::<OutputSpec>()
                .with_context(|| format!("--syslog {url}"))
        })
        .collect::<Result<Vec<_>>>()?;
    output_options.tls_ca = cmd.syslog_ca.or(output_options.tls_ca);
    output_options.tls_cert = cmd.syslog_cert.or(output_options.tls_cert);
    output_options.tls_key = cmd.syslog_key.or(output_options.tls_key);
    output_options.tls_server_name = cmd.syslog_server_name.or(output_options.tls_server_name);
    if output_options.tls_ca.is_none() {
        if let Some(url) = cmd.syslog.iter().find(|u| u.starts_with("tls://")) {
            bail!(
                "--syslog {url}: needs the receiver's CA: --syslog-ca FILE (or tls_ca in the \
                 --config file's [outputs.options])"
            );
        }
    }
    // One host name for the printed and the sent records.
    let hostname = cmd
        .hostname
        .or(output_options.hostname.take())
        .unwrap_or_else(super::hostname);
    let load_started = Instant::now();
    let loaded = super::iocs::load(&cmd.feeds, &cmd.filters)?;
    let metrics = match cmd.metrics {
        Some(addr) => Some(serve_metrics(addr, &loaded, load_started.elapsed())?),
        None => None,
    };
    let settings = ReplaySettings {
        pcaps: cmd.pcaps,
        iocs: loaded.set,
        format: cmd.format,
        worker: cmd.worker,
        hostname,
        progress: io::stderr().is_terminal(),
        exclusions,
        severity,
        syslog,
        output_options,
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let stderr = io::stderr();
    let mut err = stderr.lock();
    let registry = metrics.as_ref().map(|(m, _)| m);
    let outcome = replay_with_metrics(settings, registry, &mut out, &mut err)?;
    if let Some((_, server)) = metrics {
        if !cmd.metrics_linger.is_zero() {
            let url = format!("http://{}/metrics", server.local_addr());
            writeln!(
                err,
                "c2tap replay: metrics stay up for {} s at {url}",
                cmd.metrics_linger.as_secs()
            )?;
            std::thread::sleep(cmd.metrics_linger);
        }
        server.shutdown();
    }
    if outcome.unsupported_link > 0 {
        bail!(
            "{} packet(s) on a link type c2tap does not decode; see the warning above",
            outcome.unsupported_link
        );
    }
    if outcome.undelivered > 0 {
        bail!(
            "{} record(s) not delivered to the --syslog output(s); see the warnings above",
            outcome.undelivered
        );
    }
    Ok(())
}

/// `--config`: the `[outputs.options]` table, so `--syslog` sends as the sensor would (TLS
/// files, framing, facility). Its `spool_dir` is left out: the spool belongs to the live
/// sensor, and a replay must neither send what the sensor left there nor add to it.
fn output_options(path: &Path) -> Result<OutputOptions> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{}", path.display()))?;
    let options = match table.get("outputs").and_then(|o| o.get("options")) {
        Some(toml::Value::Table(t)) => OutputOptions::from_table(t.clone())
            .with_context(|| format!("{}: [outputs.options]", path.display()))?,
        Some(_) => bail!("{}: outputs.options must be a table", path.display()),
        None => OutputOptions::default(),
    };
    Ok(OutputOptions {
        spool_dir: None,
        ..options
    })
}

/// `--config`: the rules and the severity table, with the rules' warnings on stderr (a rule
/// that can never match is worth knowing before reading the counts).
fn exclusions(path: &Path) -> Result<(ExclusionSet, SeverityTable)> {
    let (rules, table) = config::load_exclusions(path)?;
    let mut err = io::stderr().lock();
    for w in rules.lint(crate::time::wall_secs()) {
        writeln!(err, "c2tap replay: warning: {}: {w}", path.display())?;
    }
    Ok((rules, table))
}

/// `--metrics`: the registry, with the IOC load recorded, and its endpoint.
fn serve_metrics(
    addr: SocketAddr,
    loaded: &Loaded,
    load_time: Duration,
) -> Result<(Metrics, MetricsServer)> {
    let m = Metrics::new(metrics::DEFAULT_IOC_LABEL_LIMIT);
    m.iocs_loaded(loaded, load_time.as_secs_f64(), crate::time::wall_secs());
    let server =
        metrics::serve(m.clone(), addr).with_context(|| format!("metrics endpoint on {addr}"))?;
    let _ = writeln!(
        io::stderr(),
        "c2tap replay: metrics on http://{}/metrics",
        server.local_addr()
    );
    Ok((m, server))
}
