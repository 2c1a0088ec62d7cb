//! The `c2tap` command: parses the command line and hands each subcommand to `c2tap::app`.
// A panic or a stray print is never how c2tap reports: errors are values (clippy.toml lets
// unit tests unwrap, expect and print).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{value_parser, Args, Parser, Subcommand};

use c2tap::app;
use c2tap::detect::storm;
use c2tap::flow::limits;
use c2tap::ioc::{self, Filters};
use c2tap::output::format::Format;

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
    /// Fetched feeds ([[iocs.source]]): `status` of the cached copies, `fetch` now.
    Feeds(c2tap::app::feeds_cmd::FeedsArgs),
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

impl FeedArgs {
    fn filters(&self) -> Filters {
        Filters {
            min_confidence: self.min_confidence,
            max_age_days: self.max_age_days,
            malware: self.malware.clone(),
            allow_broad: self.allow_broad,
            feed_malware: None,
            suffix_names: false,
        }
    }

    fn load(&self) -> Result<ioc::Loaded> {
        app::iocs::load(&self.iocs, &self.filters())
    }
}

fn replay(args: ReplayArgs) -> Result<()> {
    let worker = app::replay_cmd::WorkerFlags {
        alerts_only: args.alerts_only,
        holddown_ms: args.holddown_ms,
        max_flows: args.max_flows,
        storm_flows: args.storm_flows,
        storm_window_ms: args.storm_window_ms,
    };
    app::replay_cmd::replay_command(app::replay_cmd::ReplayCommand {
        filters: args.feeds.filters(),
        feeds: args.feeds.iocs,
        format: args.format,
        syslog: args.syslog,
        syslog_ca: args.syslog_ca,
        syslog_cert: args.syslog_cert,
        syslog_key: args.syslog_key,
        syslog_server_name: args.syslog_server_name,
        worker: worker.config()?,
        hostname: args.hostname,
        config: args.config,
        metrics: args.metrics,
        metrics_linger: std::time::Duration::from_secs(args.metrics_linger),
        pcaps: args.pcaps,
    })
}

fn iocs(args: IocArgs) -> Result<()> {
    let loaded = args.feeds.load()?;
    app::iocs::report(&loaded, args.format == "json", &mut io::stdout().lock())
}

fn kql(args: KqlArgs) -> Result<()> {
    let loaded = args.feeds.load()?;
    let (watchlist, alias) = (args.watchlist.as_deref(), &args.watchlist_alias);
    app::iocs::kql(&loaded, watchlist, alias, &mut io::stdout().lock())
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

fn check_config(args: CheckConfigArgs) -> Result<()> {
    app::check_config::command(&args.config, &mut io::stdout().lock())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(a) => replay(a),
        Command::Iocs(a) => iocs(a),
        Command::Kql(a) => kql(a),
        Command::Run(a) => run(a),
        Command::CheckConfig(a) => check_config(a),
        Command::Feeds(a) => c2tap::app::feeds_cmd::main(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `c2tap kql | head -1`: the reader has what it wanted. Quiet success, as ripgrep does.
        Err(e) if app::exit::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "c2tap: {}", app::exit::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
