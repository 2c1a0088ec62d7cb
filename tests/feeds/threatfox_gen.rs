//! Generates ThreatFox CSV exports of any size for the load test and the benchmark (included
//! with `#[path]`, so both measure the same shape).

/// The 15-column export shape with `rows` rows; every 10th row is a domain (a name IOC), the
/// rest are `ip:port` IOCs from 11.0.0.0 upwards, ports 1024..61024.
pub fn threatfox_csv(rows: u32) -> String {
    let mut text = String::with_capacity(rows as usize * 190 + 512);
    text.push_str("# ThreatFox IOCs: generated\n# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"is_compromised\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n");
    for i in 0..rows {
        let (value, kind) = match i % 10 {
            9 => (format!("c2-{i}.example"), "domain"),
            _ => (
                format!(
                    "{}:{}",
                    std::net::Ipv4Addr::from(0x0B00_0000 + i),
                    1024 + i % 60_000
                ),
                "ip:port",
            ),
        };
        text.push_str(&format!(
            "\"2026-05-{:02} 10:00:00\", \"{i}\", \"{value}\", \"{kind}\", \"botnet_cc\", \"win.remcos\", \"None\", \"Remcos\", \"\", \"{}\", \"False\", \"None\", \"None\", \"0\", \"abuse_ch\"\n",
            1 + i % 9,
            [50, 75, 100][(i % 3) as usize],
        ));
    }
    text
}
