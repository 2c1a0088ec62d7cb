//! Name IOCs end to end with real parts: in two network namespaces joined by a veth pair, a
//! real dnsmasq answers IOC names (one through a CNAME), an `openssl s_server` and a Python
//! HTTP server listen beside it, and real clients in the other namespace — `dig` over UDP and
//! TCP, `curl` to the resolved address, `openssl s_client -servername`, `curl` with an IOC
//! `Host` — talk across the pair while `c2tap run` captures on the server's end. The records
//! must be exactly the 1010/1011/1012/1013 alerts (with their names, answers and URL) and one
//! 1003 per alert.

#[allow(dead_code)] // the namespaces are talked across by real clients, not tcpreplay
#[path = "support/netns.rs"]
mod netns;
#[path = "support/require.rs"]
mod require;
#[path = "support/sensor.rs"]
mod sensor;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use netns::Lab;
use require::{is_root, require};
use sensor::{Sensor, Setup};

const CLIENT: &str = "10.77.0.1";
const RESOLVER: &str = "10.77.0.2";
/// Where `edge.cdn.example.net` (the CNAME target of `cdn-c2.duckdns.org`) points.
const CDN: &str = "10.77.0.3";
/// TLS and HTTP servers reached by name (not via a DNS answer).
const WEB: &str = "10.77.0.4";
/// What dnsmasq answers for `rmc-c2.duckdns.org` (nothing listens there).
const RMC: &str = "10.77.0.9";

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_ns(ns: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, program]);
    c
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("run client");
    assert!(
        out.status.success(),
        "{c:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Background servers this test started, stopped by their own pid on drop.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(ns: &str, port: u16) {
    for _ in 0..100 {
        let out = in_ns(ns, "ss").args(["-Hltun"]).output().expect("ss");
        if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on port {port} in {ns}");
}

fn start_servers(lab: &Lab, dir: &Path) -> Servers {
    let ns = &lab.sensor;
    let mut servers = Servers(Vec::new());
    let dnsmasq = in_ns(ns, "dnsmasq")
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--user=root",
            "--port=53",
            "--local-ttl=60",
        ])
        .arg(format!("--listen-address={RESOLVER}"))
        .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
        .arg(format!("--address=/rmc-c2.duckdns.org/{RMC}"))
        .arg(format!("--host-record=edge.cdn.example.net,{CDN}"))
        .arg("--cname=cdn-c2.duckdns.org,edge.cdn.example.net")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq");
    servers.0.push(dnsmasq);
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let mut req = Command::new("openssl");
    req.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
    ])
    .args([
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=rmc-c2.duckdns.org",
        "-keyout",
    ])
    .arg(&key)
    .arg("-out")
    .arg(&cert);
    run(req);
    let tls = in_ns(ns, "openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("{WEB}:8443"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    servers.0.push(tls);
    for bind in [CDN, WEB] {
        let http = in_ns(ns, "python3")
            .args(["-m", "http.server", "8080", "--bind", bind, "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server");
        servers.0.push(http);
    }
    wait_port(ns, 53);
    wait_port(ns, 8443);
    wait_port(ns, 8080);
    servers
}

/// An HTTP client that sends its request in three writes, 300 ms apart, with Nagle off (so
/// each write is a segment), and prints the status line. Arguments: address, port.
const SPLIT_CLIENT: &str = "import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for part in [b'GET /split.php HT', b'TP/1.1\\r\\nHost: rmc-c2.duckdns.org:8080\\r\\n', b'\\r\\n']:
    s.sendall(part)
    time.sleep(0.3)
print(s.recv(100).decode(errors='replace').splitlines()[0])
";

/// The record fields compared: signature, act, client address (ports are ephemeral), server,
/// host, URL, DNS answers, TTL.
type Rec = (u64, String, String, String, String, String, String, String);

fn rec(v: &serde_json::Value) -> Rec {
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    (
        v["signature_id"].as_u64().unwrap_or(0),
        s("action"),
        s("src"),
        format!("{}:{}", s("dst"), s("dpt")),
        s("host"),
        s("url"),
        s("dns_answers"),
        s("dns_ttl"),
    )
}

fn want(sig: u64, act: &str, server: &str, host: &str, url: &str, answers: &str, ttl: &str) -> Rec {
    (
        sig,
        act.into(),
        CLIENT.into(),
        server.into(),
        host.into(),
        url.into(),
        answers.into(),
        ttl.into(),
    )
}

/// Stops the sensor (after the last packets had time to be read): its records and its alerts
/// (every record but the 1003 summaries), sorted.
fn stop(sensor: &mut Sensor) -> (Vec<serde_json::Value>, Vec<Rec>) {
    std::thread::sleep(Duration::from_secs(4));
    let status = sensor.stop(Duration::from_secs(30));
    assert!(status.success(), "{status}; log:\n{}", sensor.log());
    let records = sensor.records();
    let mut alerts: Vec<Rec> = records
        .iter()
        .filter(|r| r["signature_id"] != 1003)
        .map(rec)
        .collect();
    alerts.sort();
    (records, alerts)
}

/// The lab, its servers and a capturing sensor, dropped in that field order (sensor first).
struct Rig {
    sensor: Sensor,
    _servers: Servers,
    _dir: tempfile::TempDir,
    lab: Lab,
}

fn rig(workers: u32) -> Rig {
    require(is_root(), "root (network namespaces)");
    for tool in ["dnsmasq", "dig", "openssl", "curl", "python3", "ss"] {
        require(has(tool), tool);
    }
    let lab = sensor::lab(true);
    ip(&[
        "-n",
        &lab.sender,
        "addr",
        "add",
        &format!("{CLIENT}/24"),
        "dev",
        &lab.sender_if,
    ]);
    for a in [RESOLVER, CDN, WEB] {
        ip(&[
            "-n",
            &lab.sensor,
            "addr",
            "add",
            &format!("{a}/24"),
            "dev",
            &lab.sensor_if,
        ]);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let servers = start_servers(&lab, dir.path());
    let iocs = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/iocs/names.txt");
    let sensor = Sensor::start(
        &lab,
        &Setup {
            feeds: format!("[\"{}\"]", iocs.display()),
            health: "0",
            workers,
            ..Setup::default()
        },
    );
    sensor.wait_log("capture started", Duration::from_secs(30));
    Rig {
        sensor,
        _servers: servers,
        _dir: dir,
        lab,
    }
}

#[test]
fn real_resolver_and_clients_give_exactly_the_name_records() {
    let mut rig = rig(1);
    let (lab, sensor) = (&rig.lab, &mut rig.sensor);

    let dig = |extra: &[&str], name: &str| {
        let mut c = in_ns(&lab.sender, "dig");
        c.arg(format!("@{RESOLVER}"))
            .args(["+tries=1", "+time=5", "+short"])
            .args(extra)
            .args([name, "A"]);
        String::from_utf8_lossy(&run(c).stdout).into_owned()
    };
    assert_eq!(dig(&[], "rmc-c2.duckdns.org").trim(), RMC);
    assert_eq!(dig(&["+tcp"], "rmc-c2.duckdns.org").trim(), RMC);
    assert_eq!(dig(&[], "www.example.org").trim(), "");
    let resolved = dig(&[], "cdn-c2.duckdns.org");
    let addr = resolved
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert_eq!(addr, CDN, "{resolved}");
    // The client connects to the address the answer gave: in no feed, only bound by DNS.
    let mut curl = in_ns(&lab.sender, "curl");
    curl.args(["-s", "-o", "/dev/null", "--max-time", "10"])
        .arg(format!("http://{addr}:8080/"));
    run(curl);
    let mut tls = in_ns(&lab.sender, "openssl");
    tls.args(["s_client", "-brief", "-connect"])
        .arg(format!("{WEB}:8443"))
        .args(["-servername", "RMC-C2.duckdns.org"])
        .stdin(Stdio::null());
    run(tls);
    let mut http = in_ns(&lab.sender, "curl");
    http.args(["-s", "-o", "/dev/null", "--max-time", "10", "--resolve"])
        .arg(format!("rmc-c2.duckdns.org:8080:{WEB}"))
        .arg("http://rmc-c2.duckdns.org:8080/panel/gate.php");
    run(http);
    // A client that writes its request in three parts (curl cannot): the request line cut
    // mid-version, then `Host`, then the blank line, each its own segment (TCP_NODELAY and a
    // pause between writes).
    let mut split = in_ns(&lab.sender, "python3");
    split.args(["-c", SPLIT_CLIENT, WEB, "8080"]);
    let reply = run(split);
    assert!(
        String::from_utf8_lossy(&reply.stdout).starts_with("HTTP/1."),
        "{reply:?}"
    );

    let (records, alerts) = stop(sensor);
    let dns = format!("{RESOLVER}:53");
    let mut expected = vec![
        want(1010, "observed", &dns, "rmc-c2.duckdns.org", "", RMC, "60"),
        want(
            1010,
            "established",
            &dns,
            "rmc-c2.duckdns.org",
            "",
            RMC,
            "60",
        ),
        want(1010, "observed", &dns, "cdn-c2.duckdns.org", "", CDN, "60"),
        want(
            1011,
            "established",
            &format!("{CDN}:8080"),
            "cdn-c2.duckdns.org",
            "",
            CDN,
            "60",
        ),
        want(
            1012,
            "established",
            &format!("{WEB}:8443"),
            "rmc-c2.duckdns.org",
            "",
            "",
            "",
        ),
        want(
            1013,
            "established",
            &format!("{WEB}:8080"),
            "rmc-c2.duckdns.org",
            "http://rmc-c2.duckdns.org:8080/panel/gate.php",
            "",
            "",
        ),
        want(
            1013,
            "established",
            &format!("{WEB}:8080"),
            "rmc-c2.duckdns.org",
            "http://rmc-c2.duckdns.org:8080/split.php",
            "",
            "",
        ),
    ];
    expected.sort();
    assert_eq!(
        alerts,
        expected,
        "records:\n{records:#?}\nlog:\n{}",
        sensor.log()
    );
    let mut summaries: Vec<Rec> = records
        .iter()
        .filter(|r| r["signature_id"] == 1003)
        .map(|r| {
            let mut x = rec(r);
            x.0 = 0;
            x.1 = String::new();
            x
        })
        .collect();
    summaries.sort();
    let mut alerted = alerts.clone();
    for a in &mut alerted {
        a.0 = 0;
        a.1 = String::new();
    }
    alerted.sort();
    assert_eq!(
        summaries, alerted,
        "one 1003 per alert, with the same name facts"
    );
}

/// With two workers, AF_PACKET fanout hashes the DNS answer and each connection to the
/// address it returned (different flows) to either worker: every connection is still a 1011.
/// Eight connections from eight ports make it near certain (1 − 2⁻⁸) that some land on the
/// worker that did not see the answer.
#[test]
fn two_workers_share_dns_bindings() {
    let mut rig = rig(2);
    let (lab, sensor) = (&rig.lab, &mut rig.sensor);
    let mut dig = in_ns(&lab.sender, "dig");
    dig.arg(format!("@{RESOLVER}")).args([
        "+tries=1",
        "+time=5",
        "+short",
        "cdn-c2.duckdns.org",
        "A",
    ]);
    let resolved = String::from_utf8_lossy(&run(dig).stdout).into_owned();
    assert_eq!(
        resolved.lines().last().map(str::trim),
        Some(CDN),
        "{resolved}"
    );
    const CONNECTIONS: usize = 8;
    for port in 0..CONNECTIONS {
        let mut curl = in_ns(&lab.sender, "curl");
        curl.args(["-s", "-o", "/dev/null", "--max-time", "10", "--local-port"])
            .arg((41000 + port).to_string())
            .arg(format!("http://{CDN}:8080/"));
        run(curl);
    }
    let (records, alerts) = stop(sensor);
    let conn = want(
        1011,
        "established",
        &format!("{CDN}:8080"),
        "cdn-c2.duckdns.org",
        "",
        CDN,
        "60",
    );
    let mut expected = vec![want(
        1010,
        "observed",
        &format!("{RESOLVER}:53"),
        "cdn-c2.duckdns.org",
        "",
        CDN,
        "60",
    )];
    expected.extend(std::iter::repeat_n(conn, CONNECTIONS));
    expected.sort();
    assert_eq!(
        alerts,
        expected,
        "records:\n{records:#?}\nlog:\n{}",
        sensor.log()
    );
}
