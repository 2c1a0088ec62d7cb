//! Two network namespaces joined by a veth pair, for end-to-end capture tests. Names are unique
//! per test and process; everything is removed on drop, also when the test fails. Only
//! link-layer traffic crosses the pair: no address outside the namespaces is touched.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    /// Namespace that sends (tcpreplay) and its veth end.
    pub sender: String,
    pub sender_if: String,
    /// Namespace the sensor captures in and its veth end.
    pub sensor: String,
    pub sensor_if: String,
}

fn ip(args: &[&str]) -> std::io::Result<Output> {
    Command::new("ip")
        .args(args)
        .stderr(Stdio::piped())
        .output()
}

fn ok(args: &[&str]) -> Result<(), String> {
    match ip(args) {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("ip {}: {e}", args.join(" "))),
    }
}

/// A plugged lab, or a panic with the reason: a test that needs one either runs or fails.
#[allow(dead_code)] // not every test binary that includes this file uses it
pub fn lab() -> Lab {
    Lab::new().unwrap_or_else(|e| panic!("this test needs root and network namespaces: {e}"))
}

impl Lab {
    /// `Err` with the reason when this machine does not allow namespaces (the caller skips).
    pub fn new() -> Result<Lab, String> {
        let lab = Lab::unplugged()?;
        lab.plug()?;
        Ok(lab)
    }

    /// The two namespaces without the veth pair between them: the sensor's interface does not
    /// exist until [`Lab::plug`].
    pub fn unplugged() -> Result<Lab, String> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Interface names are limited to 15 bytes.
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let lab = Lab {
            sender: format!("c2ts{tag}"),
            sender_if: format!("c2s{tag}"),
            sensor: format!("c2tr{tag}"),
            sensor_if: format!("c2r{tag}"),
        };
        // From here on a failure drops `lab`, which removes whatever was created.
        lab.setup()?;
        Ok(lab)
    }

    /// Removes the veth pair (the sensor's interface disappears, as a pulled NIC would).
    #[allow(dead_code)]
    pub fn unplug(&self) -> Result<(), String> {
        ok(&["-n", &self.sensor, "link", "del", &self.sensor_if])
    }

    /// Creates the veth pair between the namespaces and brings both ends up.
    pub fn plug(&self) -> Result<(), String> {
        let lab = self;
        ok(&[
            "link",
            "add",
            &lab.sender_if,
            "netns",
            &lab.sender,
            "type",
            "veth",
            "peer",
            "name",
            &lab.sensor_if,
            "netns",
            &lab.sensor,
        ])?;
        for (ns, dev) in [(&lab.sender, &lab.sender_if), (&lab.sensor, &lab.sensor_if)] {
            ok(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(())
    }

    fn setup(&self) -> Result<(), String> {
        let lab = self;
        ok(&["netns", "add", &lab.sender])?;
        ok(&["netns", "add", &lab.sensor])?;
        // No IPv6 on the pair: router solicitations and MLD reports would add flows the
        // tests do not expect.
        for ns in [&lab.sender, &lab.sensor] {
            let sysctl = Command::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-qw"])
                .args([
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ])
                .status();
            if !sysctl.is_ok_and(|s| s.success()) {
                return Err(format!("sysctl in {ns} failed"));
            }
        }
        for ns in [&lab.sender, &lab.sensor] {
            ok(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// A command run inside the sensor's namespace.
    pub fn in_sensor(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.sensor, program]);
        c
    }

    /// Sends a capture file from the other end, at 10 Mbit/s (timing of the file ignored).
    pub fn replay(&self, pcap: &std::path::Path) {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.sender,
                "tcpreplay",
                "-q",
                "--mbps",
                "10",
                "-i",
            ])
            .arg(&self.sender_if)
            .arg(pcap)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!("tcpreplay failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => panic!("tcpreplay: {e}"),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the peer.
        let _ = ip(&["netns", "del", &self.sender]);
        let _ = ip(&["netns", "del", &self.sensor]);
    }
}
