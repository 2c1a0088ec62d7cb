//! Defanged notation: analysts paste IOCs as `138[.]9[.]223[.]13:8015` or `hxxp://…` so that
//! nothing turns them into live links. Loose feed formats (plain lines, markdown tables) refang
//! here before the value is validated; the set and every output only hold refanged values.

use std::borrow::Cow;

/// Bracketed forms of `.` and `:` that write-ups use, longest first so `[dot]` is not read as
/// `[d` + `ot]`.
const FANGS: [(&str, &str); 10] = [
    ("[dot]", "."),
    ("(dot)", "."),
    ("{dot}", "."),
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[:]", ":"),
    ("hxxps", "https"),
    ("hxxp", "http"),
    ("[://]", "://"),
];

/// Replaces every defang form with the real character; borrows when there is nothing to do,
/// which is the case for nearly every row of a machine-made feed.
pub fn refang(text: &str) -> Cow<'_, str> {
    if !text
        .bytes()
        .any(|b| matches!(b, b'[' | b'(' | b'{' | b'x' | b'X'))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(c) = rest.chars().next() {
        for (fang, plain) in FANGS {
            if starts_with_ignore_case(rest, fang) {
                out.push_str(plain);
                rest = rest.get(fang.len()..).unwrap_or_default();
                continue 'scan;
            }
        }
        out.push(c);
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    Cow::Owned(out)
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The defanged form analysts share: every dot bracketed. Used by reports and by the
/// round-trip test; never by records going to a SIEM.
pub fn defang(value: &str) -> String {
    value.replace('.', "[.]")
}

/// Quotes, parentheses and trailing punctuation that prose puts around a value.
pub fn trim_noise(text: &str) -> &str {
    let text = text.trim().trim_end_matches([',', ';', '"', '\'', ')']);
    text.trim_start_matches(['"', '\'', '('])
}

/// Strips URL noise around a refanged endpoint: `http://1.2.3.4:80/gate.php` → `1.2.3.4:80`,
/// plus trailing punctuation from prose (`1.2.3.4,`). CIDR slashes survive because only text
/// after a scheme is cut at `/`.
pub fn strip_url(text: &str) -> &str {
    let text = trim_noise(text);
    match text.split_once("://") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or(rest),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::endpoint::Endpoint;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn refangs_each_form() {
        assert_eq!(refang("138[.]9[.]223[.]13:8015"), "138.9.223.13:8015");
        assert_eq!(refang("1(.)1{.}1[DOT]1"), "1.1.1.1");
        assert_eq!(refang("1.2.3.4[:]80"), "1.2.3.4:80");
        assert_eq!(refang("hXXps[://]1.2.3.4"), "https://1.2.3.4");
        assert_eq!(refang("[2001:db8::1]:443"), "[2001:db8::1]:443");
        assert!(matches!(refang("1.2.3.4:80"), Cow::Borrowed(_)));
        assert_eq!(refang("é[.]ü"), "é.ü");
    }

    #[test]
    fn strips_url_noise() {
        assert_eq!(strip_url("hxxp://1.2.3.4/x"), "1.2.3.4");
        assert_eq!(strip_url("http://1.2.3.4:80/gate.php?a=1"), "1.2.3.4:80");
        assert_eq!(strip_url("tcp://[2001:db8::1]:443"), "[2001:db8::1]:443");
        assert_eq!(strip_url("198.51.100.0/24"), "198.51.100.0/24");
        assert_eq!(strip_url("\"1.2.3.4\","), "1.2.3.4");
    }

    fn endpoint() -> impl Strategy<Value = Endpoint> {
        let v4 = any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)));
        let v6 = any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)).to_canonical());
        let addr = prop_oneof![v4, v6];
        prop_oneof![
            addr.clone().prop_map(Endpoint::Addr),
            (addr, 1u16..).prop_map(|(a, p)| Endpoint::AddrPort(a, p)),
        ]
    }

    proptest! {
        #[test]
        fn defang_then_parse_round_trips(e in endpoint(), style in 0usize..5) {
            prop_assume!(Endpoint::parse(&e.to_string()).is_ok());
            let text = e.to_string();
            let fanged = match style {
                0 => defang(&text),
                1 => text.replace('.', "(.)"),
                2 => text.replace('.', "{.}"),
                3 => text.replace('.', "[dot]").replace(':', "[:]"),
                _ => format!("hxxp://{}/gate", defang(&text)),
            };
            let back = refang(&fanged);
            prop_assert_eq!(Endpoint::parse(strip_url(&back)), Ok(e));
        }
    }
}
