//! The `let` statements the hunts start with: IOC values as literals (a `dynamic([...])`, or a
//! `datatable` past [`INLINE_MAX`]), CIDR tests, or the same names read from a watchlist.

use std::io::{self, Write};

use super::{INLINE_MAX, PER_LINE};

/// The lets the hunts use (`c2_ips`, and as asked `c2_pairs`, `c2_ports`, `in_c2_net`), read
/// from the watchlist. Its values come back as dynamic, hence the casts.
pub(super) fn write_watchlist_prelude(
    out: &mut dyn Write,
    alias: &str,
    pairs: bool,
    ports: bool,
    nets: bool,
) -> io::Result<()> {
    writeln!(out, "let c2_watchlist = _GetWatchlist('{alias}');")?;
    writeln!(out, "let c2_ips = toscalar(c2_watchlist | where isnotempty(tostring(Address))\n    | summarize make_set(tostring(Address)));")?;
    if pairs {
        writeln!(out, "let c2_pairs = toscalar(c2_watchlist | where isnotempty(tostring(Address)) and isnotempty(tostring(Port))\n    | summarize make_set(strcat(tostring(Address), \":\", tostring(Port))));")?;
    }
    if ports {
        writeln!(out, "let c2_ports = toscalar(c2_watchlist | where isnotempty(tostring(Port))\n    | summarize make_set(toint(Port)));")?;
    }
    if nets {
        writeln!(out, "let c2_nets = toscalar(c2_watchlist | where isnotempty(tostring(Network))\n    | summarize make_set(tostring(Network)));")?;
        // The v4 test is null on IPv6 text and the v6 test reads IPv4 ranges as mapped, so
        // `or` over both is right for either family.
        writeln!(out, "let in_c2_net = (ip: string) {{\n    ipv4_is_in_any_range(ip, c2_nets) or ipv6_is_in_any_range(ip, c2_nets)\n}};")?;
    }
    Ok(())
}

/// `let name = dynamic([...]);` for small lists, else a datatable folded into a set.
pub(super) fn write_list(
    out: &mut dyn Write,
    name: &str,
    column: &str,
    kind: &str,
    values: &[String],
    quoted: bool,
) -> io::Result<()> {
    let literal = |v: &String| match quoted {
        true => format!("\"{v}\""),
        false => v.clone(),
    };
    let body: Vec<String> = values
        .chunks(PER_LINE)
        .map(|c| c.iter().map(literal).collect::<Vec<_>>().join(", "))
        .collect();
    if values.len() <= INLINE_MAX {
        return match body.len() {
            0 | 1 => writeln!(out, "let {name} = dynamic([{}]);", body.join("")),
            _ => writeln!(
                out,
                "let {name} = dynamic([\n    {}\n]);",
                body.join(",\n    ")
            ),
        };
    }
    writeln!(out, "let {name} = toscalar(datatable({column}:{kind}) [\n    {}\n] | summarize make_set({column}));", body.join(",\n    "))
}

/// `in_c2_net(ip)`: true inside any CIDR IOC. The v4 test yields null on IPv6 text and the v6
/// test false-or-null on IPv4 text, so `or` over both is right for either family.
pub(super) fn write_net_function(out: &mut dyn Write, nets: &[ipnet::IpNet]) -> io::Result<()> {
    if nets.is_empty() {
        return Ok(());
    }
    let tests: Vec<String> = nets
        .iter()
        .map(|net| match net {
            ipnet::IpNet::V4(n) => format!("ipv4_is_in_range(ip, \"{n}\")"),
            ipnet::IpNet::V6(n) => format!("ipv6_is_in_range(ip, \"{n}\")"),
        })
        .collect();
    writeln!(
        out,
        "let in_c2_net = (ip: string) {{\n    {}\n}};",
        tests.join("\n    or ")
    )
}
