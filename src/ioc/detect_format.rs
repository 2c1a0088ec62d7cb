//! Format detection from content, never from the file name: feeds get saved as `feed.txt`,
//! `download`, `recent.csv` alike. Also the first line of defence against files that are not
//! feeds at all — an HTML error page, a gzip, a binary — which must fail loudly instead of
//! loading as "zero IOCs".

use super::text::FormatError;

/// Every format c2tap reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// The set embedded in the binary.
    Builtin,
    /// One IOC per line, `#` comments, defanged forms.
    Plain,
    /// A write-up's markdown IOC table.
    Markdown,
    /// ThreatFox CSV export.
    ThreatfoxCsv,
    /// ThreatFox JSON export (object keyed by IOC id).
    ThreatfoxJson,
    /// ThreatFox API reply (`query_status` + `data`).
    ThreatfoxApi,
    /// STIX 2.1 bundle or object array.
    Stix,
    /// abuse.ch Feodo Tracker CSV blocklist (`dst_ip`, `dst_port` columns).
    FeodoCsv,
    /// abuse.ch Feodo Tracker JSON blocklist (array of objects with `ip_address`).
    FeodoJson,
    /// `ip,port[,malware]` CSV, with or without a header.
    AddressCsv,
    /// A ZIP archive; its feed entry is detected in turn.
    Zip,
}

impl FeedFormat {
    pub fn label(self) -> &'static str {
        match self {
            FeedFormat::Builtin => "builtin",
            FeedFormat::Plain => "plain",
            FeedFormat::Markdown => "markdown",
            FeedFormat::ThreatfoxCsv => "threatfox_csv",
            FeedFormat::ThreatfoxJson => "threatfox_json",
            FeedFormat::ThreatfoxApi => "threatfox_api",
            FeedFormat::Stix => "stix",
            FeedFormat::FeodoCsv => "feodo_csv",
            FeedFormat::FeodoJson => "feodo_json",
            FeedFormat::AddressCsv => "address_csv",
            FeedFormat::Zip => "zip",
        }
    }

    /// Feed name recorded as an IOC's `source`: the publisher when the format says who it is.
    pub fn publisher(self) -> Option<&'static str> {
        match self {
            FeedFormat::ThreatfoxCsv | FeedFormat::ThreatfoxJson | FeedFormat::ThreatfoxApi => {
                Some("ThreatFox")
            }
            FeedFormat::FeodoCsv | FeedFormat::FeodoJson => Some("Feodo Tracker"),
            _ => None,
        }
    }
}

/// How far into the file detection looks: ThreatFox's banner is ~10 lines, a STIX bundle names
/// its type in the first object.
const SNIFF_BYTES: usize = 8 * 1024;

/// Decides the format from the first bytes (after a BOM).
pub fn detect(bytes: &[u8]) -> Result<FeedFormat, FormatError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = bytes.get(..SNIFF_BYTES).unwrap_or(bytes);
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(FeedFormat::Zip);
    }
    if head.starts_with(b"\x1f\x8b") {
        return Err(FormatError::NotAFeed("gzip data; unpack it first"));
    }
    if head.contains(&0) {
        return Err(FormatError::NotAFeed("binary data"));
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    let lower = trimmed
        .get(..trimmed.len().min(512))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if lower.starts_with('<') || lower.contains("<html") || lower.contains("<!doctype") {
        return Err(FormatError::NotAFeed(
            "an HTML/XML page (an error page instead of the download?)",
        ));
    }
    // `[2001:db8::1]:443` also starts with a bracket: a JSON array opens with an object.
    let json_array = trimmed
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start().starts_with(['{', ']']));
    if trimmed.starts_with('{') || json_array {
        return Ok(detect_json(trimmed));
    }
    if trimmed.is_empty() {
        return Err(FormatError::NotAFeed("the file is empty"));
    }
    let lines = || text.lines().map(str::trim);
    // Before ThreatFox's test: both are abuse.ch CSVs with quoted fields.
    if lines().any(super::address_csv::is_feodo_header) {
        return Ok(FeedFormat::FeodoCsv);
    }
    if lines().any(|l| l.starts_with('#') && l.contains("ioc_value"))
        || lines().any(|l| l.starts_with('"') && l.contains("\", \""))
    {
        return Ok(FeedFormat::ThreatfoxCsv);
    }
    if lines()
        .any(|l| l.starts_with('|') && l.len() > 1 && l.get(1..).is_some_and(|r| r.contains('|')))
    {
        return Ok(FeedFormat::Markdown);
    }
    // The first data line decides: `ip,port[,malware]` (or its header) is CSV; a plain list's
    // line holds one IOC and no comma.
    let first_data = lines().find(|l| !l.is_empty() && !l.starts_with('#'));
    if first_data.is_some_and(super::address_csv::looks_generic) {
        return Ok(FeedFormat::AddressCsv);
    }
    Ok(FeedFormat::Plain)
}

fn detect_json(head: &str) -> FeedFormat {
    let squeezed: String = head.chars().filter(|c| !c.is_whitespace()).collect();
    if squeezed.contains("\"query_status\":") {
        FeedFormat::ThreatfoxApi
    } else if squeezed.starts_with("[{") && squeezed.contains("\"ip_address\":") {
        FeedFormat::FeodoJson
    } else if head.starts_with('[')
        || squeezed.contains("\"type\":\"bundle\"")
        || squeezed.contains("\"spec_version\":")
        || squeezed.contains("\"stixobjects\":")
        || squeezed.contains("\"objects\":")
    {
        FeedFormat::Stix
    } else {
        FeedFormat::ThreatfoxJson
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(text: &[u8]) -> Result<FeedFormat, String> {
        detect(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_bracketed_ipv6_line_is_plain_not_json() {
        assert_eq!(detected(b"[2001:db8:c2::13]:8015\n"), Ok(FeedFormat::Plain));
        assert_eq!(
            detected(b"  [ {\"type\": \"indicator\"} ]"),
            Ok(FeedFormat::Stix)
        );
    }

    #[test]
    fn detects_each_format_from_content() {
        use FeedFormat::*;
        assert_eq!(
            detected(b"# ThreatFox\n# \"first_seen_utc\",\"ioc_id\",\"ioc_value\"\n"),
            Ok(ThreatfoxCsv)
        );
        assert_eq!(
            detected(b"\"2024-07-16 05:25:36\", \"1\", \"1.2.3.4:80\"\n"),
            Ok(ThreatfoxCsv)
        );
        assert_eq!(
            detected(b"\xEF\xBB\xBF{\"1\": [{\"ioc_value\": \"1.2.3.4:80\"}]}"),
            Ok(ThreatfoxJson)
        );
        assert_eq!(
            detected(b"{ \"query_status\" : \"ok\", \"data\": []}"),
            Ok(ThreatfoxApi)
        );
        assert_eq!(
            detected(b"{\"type\": \"bundle\", \"objects\": []}"),
            Ok(Stix)
        );
        assert_eq!(detected(b"  [{\"type\": \"indicator\"}]"), Ok(Stix));
        assert_eq!(
            detected(b"# notes\n| ip:port | 1.2.3.4:80 |\n"),
            Ok(Markdown)
        );
        assert_eq!(detected(b"# c2\n1.2.3.4:80\n"), Ok(Plain));
        assert_eq!(detected(b"PK\x03\x04rest"), Ok(Zip));
        assert_eq!(
            detected(b"# Feodo\n\"first_seen_utc\",\"dst_ip\",\"dst_port\"\n"),
            Ok(FeodoCsv)
        );
        assert_eq!(
            detected(b"[\n {\"ip_address\": \"1.2.3.4\", \"port\": 443}]"),
            Ok(FeodoJson)
        );
        assert_eq!(
            detected(b"# malware: Remcos\n1.2.3.4,8015\n"),
            Ok(AddressCsv)
        );
        assert_eq!(
            detected(b"ip,port,malware\n1.2.3.4,8015,x\n"),
            Ok(AddressCsv)
        );
        assert_eq!(detected(b"# malware: Remcos\n1.2.3.4:8015\n"), Ok(Plain));
        assert_eq!(
            detected(b"# our dst_ip and dst_port notes\n1.2.3.4:8015\n"),
            Ok(Plain)
        );
    }

    #[test]
    fn refuses_what_is_not_a_feed() {
        for (bytes, why) in [
            (
                &b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"[..],
                "HTML",
            ),
            (b"\n\n  <html>", "HTML"),
            (b"\x1f\x8b\x08\x00", "gzip"),
            (b"ab\x00cd", "binary"),
            (b"   \n", "empty"),
        ] {
            let err = detected(bytes).err().unwrap_or_default();
            assert!(err.contains(why), "{err}");
        }
    }
}
