//! The Sentinel kit and every query c2tap prints, checked offline with Microsoft's own KQL
//! parser: Kusto.Language (npm `@kusto/language-service-next`) under Node, with the
//! CommonSecurityLog and DeviceNetworkEvents schemas declared in `tests/kql/check.js`. A misspelt
//! column, a wrong type or a broken `dynamic([...])` is an error diagnostic and fails here. The
//! analytics rule (YAML and ARM) and the saved queries must also read only columns that c2tap's
//! CEF actually fills.
//!
//! Needs `node` and `npm` (Debian: `apt-get install nodejs npm`); `npm ci` runs once when
//! `tests/kql/node_modules` is missing. `C2TAP_BLESS=1` rewrites the generated hunting pack.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use c2tap::exclude::severity::DEFAULT;
use c2tap::output::format::cef::write_cef;
use c2tap::output::format::cef_parse::parse_cef;
use c2tap::output::format::examples;
use c2tap::record::{Action, Record, SensorContext};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ------------------------------------------------------------------ the Kusto.Language checker

static NPM_READY: Mutex<bool> = Mutex::new(false);

fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Node and the npm package, installed from the committed lock file on first use.
fn checker_dir() -> PathBuf {
    let dir = repo("tests/kql");
    let mut ready = NPM_READY.lock().unwrap_or_else(|e| e.into_inner());
    if *ready {
        return dir;
    }
    let Some(node) = tool_version("node") else {
        panic!(
            "`node` is not installed: the KQL checks run Microsoft's Kusto.Language under Node.js \
             (Debian: apt-get install nodejs npm)"
        );
    };
    let major: u32 = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 18,
        "node {node} is too old; the KQL checks need node 18 or later"
    );
    if !dir
        .join("node_modules/@kusto/language-service-next")
        .is_dir()
    {
        assert!(
            tool_version("npm").is_some(),
            "`npm` is not installed: it fetches @kusto/language-service-next for the KQL checks \
             (Debian: apt-get install npm)"
        );
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("running npm ci");
        assert!(status.success(), "`npm ci` in tests/kql failed");
    }
    *ready = true;
    dir
}

struct Checked {
    name: String,
    errors: Vec<String>,
    /// Columns of each declared table the query reads, as Kusto's binder resolved them.
    columns: BTreeMap<String, BTreeSet<String>>,
}

/// Runs every `(name, query)` through Kusto.Language in one Node process.
fn check(queries: &[(String, String)]) -> Vec<Checked> {
    let dir = checker_dir();
    let input: Vec<Value> = queries
        .iter()
        .map(|(name, query)| serde_json::json!({ "name": name, "query": query }))
        .collect();
    let mut child = Command::new("node")
        .arg("check.js")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting node");
    let stdin = child.stdin.take().expect("node stdin");
    let body = serde_json::to_vec(&input).expect("queries as JSON");
    let writer = std::thread::spawn(move || {
        let mut stdin = stdin;
        stdin.write_all(&body)
    });
    let out = child.wait_with_output().expect("node output");
    writer.join().expect("writer").expect("writing to node");
    assert!(
        out.status.success(),
        "check.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("check.js JSON");
    assert_eq!(results.len(), queries.len());
    results
        .iter()
        .map(|r| {
            let errors = r["diagnostics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["severity"] == "Error")
                .map(|d| format!("{} {} (at {})", d["code"], d["message"], d["start"]))
                .collect();
            let columns = r["columns"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(table, cols)| {
                    let set = cols
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect();
                    (table.clone(), set)
                })
                .collect();
            Checked {
                name: r["name"].as_str().unwrap_or_default().to_string(),
                errors,
                columns,
            }
        })
        .collect()
}

fn assert_no_errors(checked: &[Checked], sources: &[(String, String)]) {
    let failures: Vec<String> = checked
        .iter()
        .zip(sources)
        .filter(|(c, _)| !c.errors.is_empty())
        .map(|(c, (_, q))| format!("{}:\n  {}\n---\n{q}", c.name, c.errors.join("\n  ")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_checker_catches_misspelt_columns_and_broken_literals() {
    let bad = [
        (
            "column",
            "CommonSecurityLog | where SourceIp == \"10.1.2.3\"",
        ),
        ("literal", "let c2_ips = dynamic([\"138.9.223.13\""),
        ("table", "DeviceNetworkEvent | take 1"),
        (
            "type",
            "CommonSecurityLog | where DestinationPort > \"80\" | summarize sum(DeviceAction)",
        ),
    ];
    let sources: Vec<(String, String)> = bad
        .iter()
        .map(|(n, q)| (n.to_string(), q.to_string()))
        .collect();
    for c in check(&sources) {
        assert!(!c.errors.is_empty(), "{} was accepted", c.name);
    }
    let good = vec![(
        "good".to_string(),
        "DeviceNetworkEvents | where RemoteIP in (dynamic([\"138.9.223.13\"])) | project LocalIP"
            .to_string(),
    )];
    let checked = check(&good);
    assert_no_errors(&checked, &good);
    assert_eq!(
        checked[0].columns["DeviceNetworkEvents"],
        BTreeSet::from(["LocalIP".to_string(), "RemoteIP".to_string()])
    );
}

// ------------------------------------------------------------------ what `c2tap kql` prints

fn c2tap_kql(feeds: &[&Path]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_c2tap"));
    cmd.arg("kql");
    for f in feeds {
        cmd.arg("--iocs").arg(f);
    }
    let out = cmd.output().expect("running c2tap kql");
    assert!(
        out.status.success(),
        "c2tap kql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `c2tap kql` separates its queries with blank lines; blocks of comments only are headers.
fn split_queries(name: &str, text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|block| {
            block
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        })
        .enumerate()
        .map(|(i, q)| (format!("{name} #{}", i + 1), q.to_string()))
        .collect()
}

#[test]
fn every_query_c2tap_kql_prints_is_valid_kql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("feed");
        path
    };
    let mixed = write(
        "mixed.txt",
        "198.51.100.0/24\n2001:db8:c2::/48\n[2001:db8:c2::13]:8015\n192.0.2.7\n138.9.223.13:8015\n",
    );
    // Past the inline limit: the sets go into a datatable.
    let big: String = (0..1500u32)
        .map(|i| {
            format!(
                "10.{}.{}.{}:{}\n",
                i / 65536,
                (i / 256) % 256,
                i % 256,
                1000 + i % 7
            )
        })
        .collect();
    let big = write("big.txt", &big);
    let ipv6 = repo("pcaps/iocs/ipv6-c2.txt");
    // Names: exact, suffix, URL and IDN, beside addresses (hunts 1-3 then 4-7) and alone (1-4).
    let names = write(
        "names.txt",
        "evil[.]duckdns[.]org\n*.c2zone.example\nhxxp://evil.example:8080/gate.php?id=1\nbücher.example\n",
    );
    let cases: [(&str, Vec<&Path>, usize); 6] = [
        ("builtin", vec![], 3),
        ("cidr+ipv6", vec![&mixed], 3),
        ("ipv6", vec![&ipv6], 3),
        ("datatable", vec![&big], 3),
        ("names+addresses", vec![&mixed, &names], 7),
        ("names", vec![&names], 4),
    ];
    let mut all = Vec::new();
    for (name, feeds, want) in &cases {
        let text = c2tap_kql(feeds);
        let queries = split_queries(name, &text);
        assert_eq!(queries.len(), *want, "{name}:\n{text}");
        all.extend(queries);
    }
    assert!(
        all.iter().any(|(_, q)| q.contains("datatable")),
        "the large set did not take the datatable path"
    );
    // The same hunts over a watchlist: valid whatever the set, no IOC literal in them.
    let watchlist = dir.path().join("c2tap-iocs.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .arg("kql")
        .arg("--iocs")
        .arg(&big)
        .arg("--watchlist")
        .arg(&watchlist)
        .output()
        .expect("running c2tap kql --watchlist");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let queries = split_queries("watchlist", &text);
    assert_eq!(queries.len(), 3, "{text}");
    assert!(queries
        .iter()
        .all(|(_, q)| q.contains("_GetWatchlist('c2tap_iocs')")));
    assert!(
        !text.contains("10.0.0.1"),
        "IOC literals in the watchlist hunts"
    );
    all.extend(queries);
    // A watchlist holding names: the name hunts read its Domain and Url columns.
    let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(["kql", "--iocs"])
        .arg(&names)
        .arg("--watchlist")
        .arg(&watchlist)
        .output()
        .expect("running c2tap kql --watchlist");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let queries = split_queries("names watchlist", &text);
    assert_eq!(queries.len(), 4, "{text}");
    assert!(
        !text.contains("duckdns"),
        "IOC literals in the watchlist hunts"
    );
    let csv = std::fs::read_to_string(&watchlist).expect("watchlist");
    assert!(
        csv.contains("\"*.c2zone.example\"")
            && csv.contains("\"http://evil.example:8080/gate.php?id=1\""),
        "{csv}"
    );
    all.extend(queries);
    let checked = check(&all);
    assert_no_errors(&checked, &all);
    for c in &checked {
        assert!(
            !c.columns["CommonSecurityLog"].is_empty()
                || !c.columns["DeviceNetworkEvents"].is_empty()
                || !c.columns["DnsEvents"].is_empty(),
            "{} reads no table column",
            c.name
        );
        let csl = &c.columns["CommonSecurityLog"];
        assert!(
            csl.is_empty() || csl.contains("DeviceCustomString6"),
            "{} does not separate replayed records (cs6)",
            c.name
        );
    }
}

#[test]
fn the_watchlist_file_has_the_columns_the_hunts_read_and_big_sets_are_pointed_at_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big: String = (0..1001u32)
        .map(|i| format!("10.9.{}.{}:443\n", i / 256, i % 256))
        .collect();
    let feed = dir.path().join("big.txt");
    std::fs::write(&feed, big).expect("feed");
    let csv = dir.path().join("wl.csv");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
            .arg("kql")
            .arg("--iocs")
            .arg(&feed)
            .args(args)
            .output()
            .expect("running c2tap kql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let warning = run(&[]);
    assert!(
        warning.contains("1001 IOCs") && warning.contains("--watchlist FILE"),
        "{warning}"
    );
    assert_eq!(run(&["--watchlist".as_ref(), csv.as_os_str()]), "");
    let written = std::fs::read_to_string(&csv).expect("watchlist written");
    let mut lines = written.lines();
    assert_eq!(
        lines.next(),
        Some(c2tap::ioc::WATCHLIST_COLUMNS.join(",").as_str())
    );
    assert_eq!(lines.clone().count(), 1001);
    assert!(lines
        .any(|l| l
            == "\"10.9.0.7:443\",\"10.9.0.7\",\"443\",\"\",\"\",\"\",\"\",\"\",\"\",\"big.txt\",\"\",\"\""));
    // The checker's `_GetWatchlist` declares exactly these columns.
    let declared = read("tests/kql/check.js")
        .lines()
        .find_map(|l| {
            l.strip_prefix("const C2TAP_WATCHLIST = ")
                .map(str::to_string)
        })
        .expect("C2TAP_WATCHLIST in check.js");
    let quoted: Vec<String> = c2tap::ioc::WATCHLIST_COLUMNS
        .iter()
        .map(|c| format!("'{c}'"))
        .collect();
    assert_eq!(declared, format!("[{}];", quoted.join(", ")));
}

#[test]
fn the_shipped_hunting_pack_is_what_c2tap_kql_prints() {
    let path = "docs/sentinel/hunting/c2tap-hunts-builtin.kql";
    let now = c2tap_kql(&[]);
    if std::env::var_os("C2TAP_BLESS").is_some() {
        std::fs::write(repo(path), &now).expect("writing the hunting pack");
    }
    assert_eq!(
        read(path),
        now,
        "{path} is stale: regenerate with `c2tap kql > {path}` (or C2TAP_BLESS=1)"
    );
}

const NAME_PACK: &str = "docs/sentinel/hunting/c2tap-name-hunts-watchlist.kql";

/// The name hunts reading the `c2tap_iocs` watchlist: what `c2tap kql --watchlist` prints for a
/// feed of one suffix IOC (the pack carries no IOC, only the watchlist's Domain and Url columns).
fn name_pack() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = dir.path().join("zones.txt");
    std::fs::write(&feed, "*.duckdns.org\n").expect("feed");
    let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(["kql", "--iocs"])
        .arg(&feed)
        .arg("--watchlist")
        .arg(dir.path().join("wl.csv"))
        .output()
        .expect("running c2tap kql --watchlist");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn the_shipped_name_hunts_are_what_c2tap_kql_prints() {
    let now = name_pack();
    assert!(
        !now.contains("duckdns"),
        "an IOC literal in the pack:\n{now}"
    );
    if std::env::var_os("C2TAP_BLESS").is_some() {
        std::fs::write(repo(NAME_PACK), &now).expect("writing the name hunting pack");
    }
    assert_eq!(
        read(NAME_PACK),
        now,
        "{NAME_PACK} is stale: regenerate with C2TAP_BLESS=1"
    );
}

// ------------------------------------------------------------------ the shipped Sentinel kit

const RULE_YAML: &str = "docs/sentinel/analytics-rule/c2tap-c2-contact.yaml";
const RULE_ARM: &str = "docs/sentinel/analytics-rule/c2tap-c2-contact.json";
const SAVED_ARM: &str = "docs/sentinel/queries/saved-searches.json";
const SAVED: [&str; 6] = [
    "docs/sentinel/queries/matches-over-time.kql",
    "docs/sentinel/queries/top-clients.kql",
    "docs/sentinel/queries/sensor-health.kql",
    "docs/sentinel/queries/suppressed-audit.kql",
    "docs/sentinel/queries/contact-storms.kql",
    "docs/sentinel/queries/feeds-stale.kql",
];

fn rule_yaml() -> serde_yaml::Value {
    serde_yaml::from_str(&read(RULE_YAML)).expect("the rule YAML parses")
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

fn rule_arm_properties() -> Value {
    let arm = json(RULE_ARM);
    let resources = arm["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 1);
    let rule = &resources[0];
    assert_eq!(
        rule["type"],
        "Microsoft.OperationalInsights/workspaces/providers/alertRules"
    );
    assert_eq!(rule["kind"], "Scheduled");
    rule["properties"].clone()
}

fn yaml_str<'a>(v: &'a serde_yaml::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("rule YAML: `{key}` missing"))
}

/// Every query the kit ships, by where it comes from.
fn shipped_queries() -> Vec<(String, String)> {
    let mut q = vec![
        (
            format!("{RULE_YAML} query"),
            yaml_str(&rule_yaml(), "query").to_string(),
        ),
        (
            format!("{RULE_ARM} query"),
            rule_arm_properties()["query"]
                .as_str()
                .expect("query")
                .to_string(),
        ),
    ];
    q.extend(split_queries(
        "docs/sentinel/hunting/c2tap-hunts-builtin.kql",
        &read("docs/sentinel/hunting/c2tap-hunts-builtin.kql"),
    ));
    q.extend(split_queries(NAME_PACK, &read(NAME_PACK)));
    for path in SAVED {
        q.push((path.to_string(), read(path)));
    }
    q
}

#[test]
fn every_shipped_query_is_valid_kql() {
    let queries = shipped_queries();
    assert_eq!(queries.len(), 2 + 3 + 4 + SAVED.len());
    let checked = check(&queries);
    assert_no_errors(&checked, &queries);
    // Validation runs must never look like incidents: each CommonSecurityLog query excludes
    // replayed records or shows the mode as a column.
    for c in &checked {
        let csl = &c.columns["CommonSecurityLog"];
        assert!(
            csl.is_empty() || csl.contains("DeviceCustomString6"),
            "{} does not separate replayed records (cs6)",
            c.name
        );
    }
}

#[test]
fn the_rule_yaml_and_its_arm_template_say_the_same() {
    let y = rule_yaml();
    let arm = rule_arm_properties();
    let id = yaml_str(&y, "id");
    assert_eq!(id.len(), 36, "id is a GUID");
    assert_eq!(json(RULE_ARM)["parameters"]["ruleId"]["defaultValue"], id);
    assert_eq!(yaml_str(&y, "kind"), "Scheduled");
    assert_eq!(arm["displayName"], yaml_str(&y, "name"));
    assert_eq!(arm["severity"], yaml_str(&y, "severity"));
    assert_eq!(arm["query"], yaml_str(&y, "query"));
    assert_eq!(
        (yaml_str(&y, "queryFrequency"), yaml_str(&y, "queryPeriod")),
        ("5m", "15m")
    );
    assert_eq!(
        (arm["queryFrequency"].as_str(), arm["queryPeriod"].as_str()),
        (Some("PT5M"), Some("PT15M"))
    );
    assert_eq!(y["triggerOperator"].as_str(), Some("gt"));
    assert_eq!(arm["triggerOperator"], "GreaterThan");
    assert_eq!(
        y["requiredDataConnectors"][0]["dataTypes"][0].as_str(),
        Some("CommonSecurityLog")
    );
    let to_json = |v: &serde_yaml::Value| serde_json::to_value(v).expect("YAML as JSON");
    for key in ["entityMappings", "customDetails", "tactics"] {
        assert_eq!(to_json(&y[key]), arm[key], "{key}");
    }
    assert_eq!(to_json(&y["relevantTechniques"]), arm["techniques"]);
    let overrides = to_json(&y["alertDetailsOverride"]);
    assert_eq!(overrides, arm["alertDetailsOverride"]);
    assert_eq!(
        to_json(&y["incidentConfiguration"]["groupingConfiguration"]["groupByEntities"]),
        arm["incidentConfiguration"]["groupingConfiguration"]["groupByEntities"]
    );
    // Entities: the host's IP and the C2's IP, both columns the query produces.
    let query = yaml_str(&y, "query");
    let mapped: Vec<(String, String)> = to_json(&y["entityMappings"])
        .as_array()
        .expect("entityMappings")
        .iter()
        .map(|m| {
            (
                m["entityType"].as_str().unwrap_or_default().to_string(),
                m["fieldMappings"][0]["columnName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        mapped,
        vec![
            ("IP".into(), "VictimIP".into()),
            ("IP".into(), "C2IP".into())
        ]
    );
    let produced = |column: &str| query.contains(&format!("{column} = "));
    for (_, column) in &mapped {
        assert!(produced(column), "the query does not produce {column}");
    }
    for column in to_json(&y["customDetails"])
        .as_object()
        .expect("customDetails")
        .values()
    {
        assert!(produced(column.as_str().unwrap_or_default()), "{column}");
    }
    assert!(produced(
        arm["alertDetailsOverride"]["alertSeverityColumnName"]
            .as_str()
            .unwrap_or_default()
    ));
}

#[test]
fn the_saved_searches_template_carries_the_shipped_queries() {
    let arm = json(SAVED_ARM);
    let searches = arm["resources"].as_array().expect("resources");
    assert_eq!(searches.len(), SAVED.len());
    for (search, path) in searches.iter().zip(SAVED) {
        assert_eq!(
            search["type"],
            "Microsoft.OperationalInsights/workspaces/savedSearches"
        );
        assert_eq!(search["properties"]["category"], "c2tap");
        assert_eq!(
            search["properties"]["query"].as_str(),
            Some(read(path).as_str()),
            "{path}"
        );
    }
}

// ------------------------------------------------------------------ fields c2tap emits

/// Microsoft's CEF key → CommonSecurityLog column mapping, for the keys c2tap can send;
/// any other key lands in `AdditionalExtensions`.
fn csl_columns(cef_key: &str) -> Vec<String> {
    let fixed = match cef_key {
        "rt" => "ReceiptTime",
        "start" => "StartTime",
        "end" => "EndTime",
        "src" => "SourceIP",
        "spt" => "SourcePort",
        "dst" => "DestinationIP",
        "dpt" => "DestinationPort",
        "proto" => "Protocol",
        "act" => "DeviceAction",
        "deviceDirection" => "CommunicationDirection",
        "cnt" => "EventCount",
        "in" => "ReceivedBytes",
        "out" => "SentBytes",
        "dvchost" => "DeviceName",
        "deviceInboundInterface" => "DeviceInboundInterface",
        "reason" => "Reason",
        _ => "",
    };
    if !fixed.is_empty() {
        return vec![fixed.to_string()];
    }
    let numbered = |prefix: &str, column: &str| {
        let rest = cef_key.strip_prefix(prefix)?;
        let (n, label) = match rest.strip_suffix("Label") {
            Some(n) => (n, "Label"),
            None => (rest, ""),
        };
        (n.len() == 1 && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("{column}{n}{label}"))
    };
    if let Some(c) = numbered("cn", "DeviceCustomNumber") {
        // New data may fill FieldDeviceCustomNumberN instead (unconfirmed which).
        let field = c.replace("DeviceCustomNumber", "FieldDeviceCustomNumber");
        return vec![c, field];
    }
    for (prefix, column) in [
        ("cs", "DeviceCustomString"),
        ("c6a", "DeviceCustomIPv6Address"),
        ("deviceCustomDate", "DeviceCustomDate"),
    ] {
        if let Some(c) = numbered(prefix, column) {
            return vec![c];
        }
    }
    vec!["AdditionalExtensions".into()]
}

/// Columns c2tap's records fill: the header's, the mapped extension keys of every record
/// kind, and what the forwarder adds.
fn emitted_columns(records: &[Record]) -> BTreeSet<String> {
    let mut columns: BTreeSet<String> = [
        "TimeGenerated",
        "Computer",
        "DeviceVendor",
        "DeviceProduct",
        "DeviceVersion",
        "DeviceEventClassID",
        "Activity",
        "LogSeverity",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    let ctx = SensorContext {
        hostname: "sensor01".into(),
        replay: false,
    };
    for rec in records {
        let mut buf = Vec::new();
        write_cef(&mut buf, rec, &ctx, &DEFAULT);
        let line = String::from_utf8(buf).expect("UTF-8");
        let event = parse_cef(&line).expect("c2tap parses its own CEF");
        for (key, _) in &event.extension {
            columns.extend(csl_columns(key));
        }
    }
    columns
}

/// Every record shape: IPv4 and IPv6, VLAN, a summary, health.
fn record_kinds() -> Vec<Record> {
    let mut v6 = examples::flow(examples::ioc());
    v6.client.addr = "2001:db8::10".parse().expect("v6");
    v6.server.addr = "2001:db8:c2::13".parse().expect("v6");
    v6.vlan = 20;
    let mut summary = examples::flow(examples::ioc());
    summary.signature = c2tap::record::Signature::FlowSummary;
    summary.action = Action::Closed;
    let mut storm = examples::flow(examples::ioc());
    storm.signature = c2tap::record::Signature::ContactStorm;
    storm.action = Action::Storm;
    storm.count = 5000;
    storm.clients = 4870;
    vec![
        examples::flow_record(),
        Record::Flow(v6),
        Record::Flow(summary),
        Record::Flow(storm),
        examples::health_record(),
    ]
}

fn suppressed_record() -> Record {
    let mut flow = examples::flow(examples::ioc());
    flow.action = Action::Suppressed;
    flow.suppressed = Some(Arc::from("backup: nightly Veeam job"));
    Record::Flow(flow)
}

fn assert_reads_only(checked: &Checked, emitted: &BTreeSet<String>) {
    let read = &checked.columns["CommonSecurityLog"];
    let foreign: Vec<&String> = read.difference(emitted).collect();
    assert!(
        foreign.is_empty(),
        "{} reads columns c2tap never fills: {foreign:?}",
        checked.name
    );
    assert!(
        checked.columns["DeviceNetworkEvents"].is_empty(),
        "{}",
        checked.name
    );
}

#[test]
fn the_rule_and_saved_queries_read_only_fields_c2tap_emits() {
    let emitted = emitted_columns(&record_kinds());
    for column in [
        "SourceIP",
        "DeviceCustomString6",
        "CommunicationDirection",
        "AdditionalExtensions",
    ] {
        assert!(emitted.contains(column), "{column}: {emitted:?}");
    }
    let mut queries: Vec<(String, String)> = shipped_queries()
        .into_iter()
        .filter(|(name, _)| !name.contains("hunting") && !name.contains("suppressed-audit"))
        .collect();
    assert_eq!(queries.len(), 7);
    queries.dedup_by(|a, b| a.1 == b.1);
    for c in check(&queries) {
        assert_reads_only(&c, &emitted);
    }
}

#[test]
fn the_exclusions_audit_reads_the_reason_c2tap_sends() {
    let mut records = record_kinds();
    records.push(suppressed_record());
    let emitted = emitted_columns(&records);
    let audit = "docs/sentinel/queries/suppressed-audit.kql";
    let queries = vec![(audit.to_string(), read(audit))];
    let checked = check(&queries);
    assert!(checked[0].columns["CommonSecurityLog"].contains("Reason"));
    assert_reads_only(&checked[0], &emitted);
}

// ------------------------------------------------------------------ exclusions, end to end

fn replay_with_config(config: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("exclusions.toml");
    std::fs::write(&path, config).expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(["replay", "--hostname", "sensor01", "--config"])
        .arg(&path)
        .arg(repo("pcaps/demo-remcos.pcap"))
        .output()
        .expect("running c2tap replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

const LAB_RULE: &str = r#"
[[exclude]]
name = "lab"
reason = "malware lab"
client = ["10.1.2.0/24"]
server = ["138.9.223.13"]
ports = [8015]
window = "16:00-17:00"
timezone = "+02:00"
"#;

#[test]
fn replay_with_an_exclusion_config_suppresses_and_counts() {
    let (stdout, stderr) = replay_with_config(LAB_RULE);
    assert_eq!(stdout, "", "dropped by default");
    assert!(
        stderr.contains("\n  exclusions (1 rule(s)):\n    lab: alerts=1 summaries=1 (dropped)\n"),
        "{stderr}"
    );
    let (stdout, stderr) = replay_with_config(&format!("exclude_action = \"report\"\n{LAB_RULE}"));
    let events: Vec<_> = stdout.lines().map(|l| parse_cef(l).expect("CEF")).collect();
    let seen: Vec<(&str, &str, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.signature_id.as_str(),
                e.severity.as_str(),
                e.get("act"),
                e.get("reason"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("1001", "1", Some("suppressed"), Some("lab: malware lab")),
            ("1003", "1", Some("suppressed"), Some("lab: malware lab")),
        ]
    );
    assert!(
        stderr.contains("    lab: alerts=1 summaries=1 (reported as act=suppressed)"),
        "{stderr}"
    );
    // Outside the window nothing is suppressed: the demo's alert and summary go out as usual.
    let (stdout, _) = replay_with_config(&LAB_RULE.replace("16:00-17:00", "14:00-15:00"));
    assert_eq!(stdout.lines().count(), 2);
    assert!(stdout.contains("|1001|Remcos C2 connection|8|") && stdout.contains("act=established"));
}
