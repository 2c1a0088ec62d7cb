//! The `c2tap` command: parses the command line and hands each subcommand to `c2tap::app`.
// A panic or a stray print is never how c2tap reports: errors are values (clippy.toml lets
// unit tests unwrap, expect and print).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{value_parser, Args, Parser, Subcommand};

use c2tap::app;
use c2tap::config;
use c2tap::detect::storm;
use c2tap::exclude;
use c2tap::flow::limits;
use c2tap::ioc::{self, FeedSource, Filters};
use c2tap::metrics;
use c2tap::output::line::Format;
use c2tap::output::{OutputOptions, OutputSpec};
use c2tap::pipeline::WorkerConfig;
use c2tap::time::NANOS_PER_MILLI;

#[derive(Parser)]
#[command(
    name = "c2tap",
    version,
    about = "Flags every flow that touches a malware C2 endpoint and reports it as CEF for Microsoft Sentinel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay pcap/pcapng files through the detection path; records on stdout, summary on stderr.
    Replay(ReplayArgs),
    /// Print the effective IOC set and its load statistics.
    Iocs(IocArgs),
    /// Print Sentinel hunting queries (KQL) for the effective IOC set.
    Kql(KqlArgs),
    /// Run the live sensor (config file plus overrides); stops on SIGTERM/SIGINT.
    Run(RunArgs),
    /// Validate a config file and print every problem with its key path.
    CheckConfig(CheckConfigArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Config file (TOML); without it, defaults plus the flags below.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Capture interface; repeatable (replaces `capture.interfaces`).
    #[arg(long = "interface", short = 'i', value_name = "IF")]
    interfaces: Vec<String>,
    /// IOC feed file or `builtin`; repeatable (replaces `iocs.feeds`).
    #[arg(long = "iocs", value_name = "FILE")]
    iocs: Vec<String>,
    /// Output URL (udp://, tcp://, tls://, file://); repeatable (replaces `outputs.urls`).
    #[arg(long = "syslog", alias = "output", value_name = "URL")]
    outputs: Vec<String>,
    /// Metrics listen address (`""` turns the endpoint off).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Capture handles (worker threads) per interface.
    #[arg(long, value_name = "N")]
    workers: Option<u32>,
    /// BPF filter expression applied in the kernel.
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Compile the IOC set into the kernel filter (only IOC traffic leaves the kernel).
    #[arg(long)]
    prefilter: bool,
    /// Account to switch to after start as root (replaces `user`); keeps only CAP_NET_RAW and
    /// CAP_NET_ADMIN.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
}

#[derive(Args)]
struct CheckConfigArgs {
    /// Config file to check.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Args)]
struct FeedArgs {
    /// IOC feed file (any supported format, detected from content); repeatable. `builtin`
    /// names the embedded Remcos set. Without any, the embedded set is used.
    #[arg(long = "iocs", value_name = "FILE")]
    iocs: Vec<String>,
    /// Ignore IOCs below this confidence (0-100, like `iocs.filters.min_confidence`).
    #[arg(long, value_parser = value_parser!(u8).range(confidence_range()))]
    min_confidence: Option<u8>,
    /// Ignore IOCs last seen more than this many days ago (0 = off; the built-in set is exempt).
    #[arg(long)]
    max_age_days: Option<u32>,
    /// Only load these malware families (repeatable, case-insensitive).
    #[arg(long = "malware")]
    malware: Vec<String>,
    /// Also load broad IOCs: networks wider than /16 (IPv4) or /32 (IPv6), or in private,
    /// shared, documentation or reserved space. Each one is warned about.
    #[arg(long)]
    allow_broad: bool,
}

#[derive(Args)]
struct KqlArgs {
    #[command(flatten)]
    feeds: FeedArgs,
    /// Write the IOC set as a Sentinel watchlist CSV to FILE and print hunts that read it
    /// with `_GetWatchlist` (the way for sets above 1,000 IOCs).
    #[arg(long, value_name = "FILE")]
    watchlist: Option<PathBuf>,
    /// The alias the watchlist is uploaded under.
    #[arg(long, value_name = "ALIAS", default_value = "c2tap_iocs")]
    watchlist_alias: String,
}

#[derive(Args)]
struct IocArgs {
    #[command(flatten)]
    feeds: FeedArgs,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    feeds: FeedArgs,
    /// Record format on stdout.
    #[arg(long, default_value = "cef")]
    format: Format,
    /// Also send the records to this syslog/file output (udp://, tcp://, tls://, file://);
    /// repeatable. Output options come from `--config`'s `[outputs.options]`, else the
    /// defaults (RFC 3164, local4, LF framing); replay never uses a spool.
    #[arg(long, value_name = "URL")]
    syslog: Vec<String>,
    /// PEM file of the CA(s) that sign the tls:// receiver's certificate (replaces `tls_ca`).
    #[arg(long, value_name = "FILE")]
    syslog_ca: Option<PathBuf>,
    /// PEM client certificate chain, for receivers that authenticate clients (with
    /// --syslog-key; replaces `tls_cert`).
    #[arg(long, value_name = "FILE", requires = "syslog_key")]
    syslog_cert: Option<PathBuf>,
    /// PEM key of --syslog-cert (replaces `tls_key`).
    #[arg(long, value_name = "FILE", requires = "syslog_cert")]
    syslog_key: Option<PathBuf>,
    /// Name checked against the receiver's certificate (default: the URL's host; replaces
    /// `tls_server_name`).
    #[arg(long, value_name = "NAME")]
    syslog_server_name: Option<String>,
    /// Track only flows that touch an IOC (faster; no flow counts for other traffic).
    #[arg(long)]
    alerts_only: bool,
    /// Maximum number of tracked flows (1-100000000, like `flow.max_flows`).
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(limits::MAX_FLOWS))]
    max_flows: Option<u64>,
    /// How long a matched TCP flow's alert waits to learn the outcome, in packet-time ms
    /// (0-86400000, like `flow.holddown`).
    #[arg(long, value_name = "MS", default_value_t = 3000,
          value_parser = value_parser!(u64).range(limits::HOLDDOWN_MS))]
    holddown_ms: u64,
    /// More new flows than this to one IOC per storm window is a contact storm: one 1005
    /// record per IOC and window instead of per-flow records (0 = off; default 100, like
    /// `flow.storm_flows`).
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(storm::limits::FLOWS))]
    storm_flows: Option<u64>,
    /// Storm window in packet-time ms (1000-3600000; default 10000, like `flow.storm_window`).
    #[arg(long, value_name = "MS",
          value_parser = value_parser!(u64).range(storm::limits::WINDOW_MS))]
    storm_window_ms: Option<u64>,
    /// Host name put in records (default: this host's name).
    #[arg(long)]
    hostname: Option<String>,
    /// Config file whose `[[exclude]]` rules, `[severity]` table and `[outputs.options]` apply
    /// (the sensor's own config, or a file with only those); the summary then counts
    /// suppressions per rule.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve Prometheus metrics on this address while replaying (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Keep serving metrics this long after the replay ends, for a final scrape.
    #[arg(long, value_name = "SECS", default_value_t = 0, requires = "metrics")]
    metrics_linger: u64,
    /// Capture files, read in order as one continuous capture; `-` reads standard input
    /// (e.g. `zcat x.pcap.gz | c2tap replay -`).
    #[arg(required = true, value_name = "PCAP")]
    pcaps: Vec<PathBuf>,
}

/// [`ioc::CONFIDENCE`] as clap's ranged parser takes it.
fn confidence_range() -> std::ops::RangeInclusive<i64> {
    let r = ioc::CONFIDENCE;
    i64::from(*r.start())..=i64::from(*r.end())
}

fn load_iocs(args: &FeedArgs) -> Result<ioc::Loaded> {
    let sources: Vec<FeedSource> = args.iocs.iter().map(|s| FeedSource::parse(s)).collect();
    let filters = Filters {
        min_confidence: args.min_confidence,
        max_age_days: args.max_age_days,
        malware: args.malware.clone(),
        allow_broad: args.allow_broad,
        feed_malware: None,
        suffix_names: false,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let loaded = ioc::load(&sources, &filters, now)?;
    for warning in loaded
        .stats
        .files
        .iter()
        .filter_map(ioc::FileStats::broad_warning)
    {
        let _ = writeln!(io::stderr(), "c2tap: {warning}");
    }
    Ok(loaded)
}

fn replay(args: ReplayArgs) -> Result<()> {
    let (exclusions, mut output_options) = match &args.config {
        Some(path) => (replay_exclusions(path)?, replay_output_options(path)?),
        None => (exclude::ExclusionSet::default(), OutputOptions::default()),
    };
    let syslog = args
        .syslog
        .iter()
        .map(|url| {
            url.parse::<OutputSpec>()
                .with_context(|| format!("--syslog {url}"))
        })
        .collect::<Result<Vec<_>>>()?;
    output_options.tls_ca = args.syslog_ca.or(output_options.tls_ca);
    output_options.tls_cert = args.syslog_cert.or(output_options.tls_cert);
    output_options.tls_key = args.syslog_key.or(output_options.tls_key);
    output_options.tls_server_name = args.syslog_server_name.or(output_options.tls_server_name);
    if output_options.tls_ca.is_none() {
        if let Some(url) = args.syslog.iter().find(|u| u.starts_with("tls://")) {
            bail!(
                "--syslog {url}: needs the receiver's CA: --syslog-ca FILE (or tls_ca in the \
                 --config file's [outputs.options])"
            );
        }
    }
    // One host name for the printed and the sent records.
    let hostname = args
        .hostname
        .or(output_options.hostname.take())
        .unwrap_or_else(app::hostname);
    let load_started = std::time::Instant::now();
    let loaded = load_iocs(&args.feeds)?;
    let metrics = match args.metrics {
        Some(addr) => Some(replay_metrics(addr, &loaded, load_started.elapsed())?),
        None => None,
    };
    let mut worker = WorkerConfig {
        track_all: !args.alerts_only,
        holddown: args.holddown_ms.saturating_mul(NANOS_PER_MILLI),
        ..WorkerConfig::default()
    };
    if let Some(n) = args.max_flows {
        worker.flow.max_flows = usize::try_from(n)?;
    }
    if let Some(n) = args.storm_flows {
        worker.storm.flows = u32::try_from(n)?;
    }
    if let Some(ms) = args.storm_window_ms {
        worker.storm.window = ms.saturating_mul(NANOS_PER_MILLI);
    }
    let settings = app::replay::ReplaySettings {
        pcaps: args.pcaps,
        iocs: loaded.set,
        format: args.format,
        worker,
        hostname,
        progress: io::stderr().is_terminal(),
        exclusions,
        syslog,
        output_options,
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let stderr = io::stderr();
    let mut err = stderr.lock();
    let registry = metrics.as_ref().map(|(m, _)| m);
    let outcome = app::replay::replay_with_metrics(settings, registry, &mut out, &mut err)?;
    if let Some((_, server)) = metrics {
        if args.metrics_linger > 0 {
            let url = format!("http://{}/metrics", server.local_addr());
            writeln!(
                err,
                "c2tap replay: metrics stay up for {} s at {url}",
                args.metrics_linger
            )?;
            std::thread::sleep(std::time::Duration::from_secs(args.metrics_linger));
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

/// `replay --config`: the `[outputs.options]` table, so `--syslog` sends as the sensor would
/// (TLS files, framing, facility). Its `spool_dir` is left out: the spool belongs to the live
/// sensor, and a replay must neither send what the sensor left there nor add to it.
fn replay_output_options(path: &std::path::Path) -> Result<OutputOptions> {
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

/// `replay --config`: installs the severity table and returns the rules, with their warnings
/// on stderr (a rule that can never match is worth knowing before reading the counts).
fn replay_exclusions(path: &std::path::Path) -> Result<exclude::ExclusionSet> {
    let (rules, table) = config::load_exclusions(path)?;
    exclude::severity::install(table);
    let mut err = io::stderr().lock();
    for w in rules.lint(epoch_secs()) {
        writeln!(err, "c2tap replay: warning: {}: {w}", path.display())?;
    }
    Ok(rules)
}

fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `replay --metrics`: the registry, with the IOC load recorded, and its endpoint.
fn replay_metrics(
    addr: std::net::SocketAddr,
    loaded: &ioc::Loaded,
    load_time: std::time::Duration,
) -> Result<(metrics::Metrics, metrics::MetricsServer)> {
    let m = metrics::Metrics::new(metrics::DEFAULT_IOC_LABEL_LIMIT);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    m.iocs_loaded(loaded, load_time.as_secs_f64(), now);
    let server =
        metrics::serve(m.clone(), addr).with_context(|| format!("metrics endpoint on {addr}"))?;
    let _ = writeln!(
        io::stderr(),
        "c2tap replay: metrics on http://{}/metrics",
        server.local_addr()
    );
    Ok((m, server))
}

fn iocs(args: IocArgs) -> Result<()> {
    let loaded = load_iocs(&args.feeds)?;
    let mut out = io::stdout().lock();
    ioc::write_report(&mut out, &loaded, args.format == "json")?;
    out.flush()?;
    Ok(())
}

fn kql(args: KqlArgs) -> Result<()> {
    let loaded = load_iocs(&args.feeds)?;
    let mut out = io::stdout().lock();
    let Some(path) = &args.watchlist else {
        if loaded.set.len() > ioc::WATCHLIST_ABOVE {
            eprintln!(
                "warning: {} IOCs make long queries (an analytics rule takes 10,000 characters); \
                 `c2tap kql --watchlist FILE` writes a Sentinel watchlist and hunts that read it",
                loaded.set.len()
            );
        }
        ioc::write_kql(&mut out, &loaded.set)?;
        out.flush()?;
        return Ok(());
    };
    let alias = &args.watchlist_alias;
    if alias.is_empty()
        || !alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        anyhow::bail!("--watchlist-alias {alias:?}: use letters, digits, '_' and '-'");
    }
    let file = std::fs::File::create(path)
        .with_context(|| format!("cannot write the watchlist {}", path.display()))?;
    let mut csv = io::BufWriter::new(file);
    ioc::write_watchlist_csv(&mut csv, &loaded.set)
        .and_then(|()| csv.flush())
        .with_context(|| format!("cannot write the watchlist {}", path.display()))?;
    ioc::write_kql_watchlist(&mut out, &loaded.set, alias)?;
    out.flush()?;
    Ok(())
}

fn run(args: RunArgs) -> Result<()> {
    let flags = app::run::RunFlags {
        config: args.config,
        interfaces: args.interfaces,
        iocs: args.iocs,
        outputs: args.outputs,
        metrics: args.metrics,
        workers: args.workers,
        bpf: args.bpf,
        prefilter: args.prefilter,
        user: args.user,
    };
    let settings = app::run::settings(&flags)?;
    app::run::init_logging(&settings.log_level);
    app::run::run(settings, flags)
}

/// The verdict is the exit status, so the report is written in one go at the end: a reader
/// that leaves early (`| head -1`) cannot turn "not valid" into success.
fn check_config(args: CheckConfigArgs) -> Result<()> {
    let mut report = Vec::new();
    let valid = app::check_config::check_config(&args.config, &mut report)?;
    if valid {
        // Valid, so this load succeeds; its rules are judged against today's date.
        if let Ok(settings) = config::load(&args.config) {
            for w in settings.exclusions.lint(epoch_secs()) {
                writeln!(report, "{}: warning: {w}", args.config.display())?;
            }
        }
    }
    let mut out = io::stdout().lock();
    match out.write_all(&report).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    match valid {
        true => Ok(()),
        false => bail!("{} is not valid", args.config.display()),
    }
}

/// The error and its causes on one line, skipping causes whose text the message above them
/// already includes (many module errors print their source inline).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Whether the error is a write to a pipe whose reader has gone (also when serde_json wrote).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(io::ErrorKind::BrokenPipe);
    e.chain().any(|cause| {
        let json = |j: &serde_json::Error| j.io_error_kind() == broken;
        cause.downcast_ref::<serde_json::Error>().is_some_and(json)
            || cause.downcast_ref::<io::Error>().is_some_and(|io| {
                io.kind() == io::ErrorKind::BrokenPipe
                    || io
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<serde_json::Error>())
                        .is_some_and(json)
            })
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(a) => replay(a),
        Command::Iocs(a) => iocs(a),
        Command::Kql(a) => kql(a),
        Command::Run(a) => run(a),
        Command::CheckConfig(a) => check_config(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `c2tap kql | head -1`: the reader has what it wanted. Quiet success, as ripgrep does.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "c2tap: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}
