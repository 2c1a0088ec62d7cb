//! SOC networks reach the internet through a proxy: `c2tap feeds fetch` with `HTTPS_PROXY`
//! goes through a real tinyproxy (Debian package) on loopback with CONNECT, `NO_PROXY` takes
//! a host around it, and a dead proxy is a failure, not a silent direct connection.

#[path = "support/https_stub.rs"]
mod https_stub;
#[path = "support/require.rs"]
mod require;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use https_stub::{make_pki, Reply, Stub};

const TINYPROXY: &str = "/usr/bin/tinyproxy";

struct Proxy {
    child: Child,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_tinyproxy(dir: &Path, port: u16) -> Proxy {
    require::require(
        Path::new(TINYPROXY).exists(),
        "tinyproxy (Debian package tinyproxy)",
    );
    let conf = dir.join("tinyproxy.conf");
    // No ConnectPort line: CONNECT to any port (the stub's is random).
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 10\n\
             LogLevel Connect\nLogFile \"{}\"\n",
            dir.join("tinyproxy.log").display()
        ),
    )
    .unwrap();
    let child = Command::new(TINYPROXY)
        .args(["-d", "-c"])
        .arg(&conf)
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "tinyproxy did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Proxy { child }
}

/// CONNECT requests the proxy relayed to `port` (its log: `Request (…): CONNECT host:port`).
fn connects(dir: &Path, port: u16) -> usize {
    let wanted = format!(": CONNECT 127.0.0.1:{port} ");
    std::fs::read_to_string(dir.join("tinyproxy.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&wanted))
        .count()
}

#[test]
fn fetches_go_through_https_proxy_and_no_proxy_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(&dir.path().join("pki"));
    let stub = Stub::start(&pki, 0);
    let csv = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feeds/threatfox-recent.csv"),
    )
    .unwrap();
    stub.answer(move |_| Reply::ok("text/csv", csv.clone()));
    let proxy_port = free_port();
    let _proxy = start_tinyproxy(dir.path(), proxy_port);
    let config = dir.path().join("c2tap.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\ninterfaces = [\"eth0\"]\n[outputs]\nurls = [\"udp://127.0.0.1:514\"]\n\
             [iocs]\nstate_dir = \"{}\"\n[[iocs.source]]\nname = \"export\"\nkind = \"https\"\n\
             url = \"{}\"\nca_file = \"{}\"\ntimeout = \"10s\"\n",
            dir.path().join("state").display(),
            stub.url("/export/csv/recent/"),
            pki.ca.display()
        ),
    )
    .unwrap();
    let fetch = |proxy: &str, no_proxy: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_c2tap"));
        cmd.args(["feeds", "fetch", "--config"])
            .arg(&config)
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("https_proxy")
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .env("HTTPS_PROXY", proxy);
        if let Some(n) = no_proxy {
            cmd.env("NO_PROXY", n);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let through = format!("http://127.0.0.1:{proxy_port}");
    let (ok, text) = fetch(&through, None);
    assert!(ok, "{text}");
    assert!(text.contains("export: ok: HTTP 200"), "{text}");
    assert_eq!(
        connects(dir.path(), stub.port),
        1,
        "one CONNECT through the proxy"
    );
    assert_eq!(stub.take_seen().len(), 1);

    // NO_PROXY names the host: straight to it, the proxy sees nothing.
    let (ok, text) = fetch(&through, Some("127.0.0.1"));
    assert!(ok, "{text}");
    assert_eq!(
        connects(dir.path(), stub.port),
        1,
        "NO_PROXY bypasses the proxy"
    );
    assert_eq!(stub.take_seen().len(), 1);

    // A proxy that is not there: a failure with its reason, never a quiet direct fetch.
    let (ok, text) = fetch(&format!("http://127.0.0.1:{}", free_port()), None);
    assert!(!ok, "{text}");
    assert!(text.contains("export: FAILED (connect)"), "{text}");
    assert!(stub.take_seen().is_empty());
}
