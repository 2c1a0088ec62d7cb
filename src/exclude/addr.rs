//! Address terms of an exclusion rule: a list of networks and addresses, each optionally
//! negated with `!`, compiled once. A list matches an address that is inside some positive entry
//! (or any address when it has none) and inside no negated entry, so "the backup subnet except
//! its management host" is `["10.20.0.0/24", "!10.20.0.5"]`.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrList {
    pub include: Vec<IpNet>,
    pub exclude: Vec<IpNet>,
}

impl AddrList {
    /// Parses every entry; the errors name the entry's index.
    pub fn parse(entries: &[String]) -> Result<AddrList, Vec<(usize, String)>> {
        let mut list = AddrList::default();
        let mut errors = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let text = entry.trim();
            let (negated, text) = match text.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, text),
            };
            let net = match text.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match text.parse::<IpAddr>() {
                    Ok(addr) => IpNet::from(addr),
                    Err(_) => {
                        errors.push((
                            i,
                            format!("`{entry}` is not an address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, !10.0.0.5)"),
                        ));
                        continue;
                    }
                },
            };
            match negated {
                true => list.exclude.push(net),
                false => list.include.push(net),
            }
        }
        match errors.is_empty() {
            true => Ok(list),
            false => Err(errors),
        }
    }

    /// No entry at all: the term does not restrict.
    pub fn is_any(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    #[inline]
    pub fn contains(&self, addr: IpAddr) -> bool {
        (self.include.is_empty() || self.include.iter().any(|n| n.contains(&addr)))
            && !self.exclude.iter().any(|n| n.contains(&addr))
    }

    /// Every positive entry lies inside a negated one: the list can match nothing.
    pub fn contradicts_itself(&self) -> bool {
        !self.include.is_empty()
            && self
                .include
                .iter()
                .all(|p| self.exclude.iter().any(|n| n.contains(p)))
    }

    /// Whether every address this list matches is also matched by `self`. Conservative: it may
    /// answer false for some lists that are covered, never true for one that is not.
    pub fn covers(&self, other: &AddrList) -> bool {
        if self.is_any() {
            return true;
        }
        if other.include.is_empty() {
            // `other` matches everything but its negations; `self` must not restrict more.
            return self.include.is_empty()
                && self
                    .exclude
                    .iter()
                    .all(|n| other.exclude.iter().any(|o| o.contains(n)));
        }
        other.include.iter().all(|p| {
            let inside = self.include.is_empty() || self.include.iter().any(|s| s.contains(p));
            let unharmed = self
                .exclude
                .iter()
                .all(|n| !overlaps(n, p) || other.exclude.iter().any(|o| o.contains(n)));
            inside && unharmed
        })
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AddrList {
        let owned: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AddrList::parse(&owned).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn entries_and_negations() {
        let l = list(&["10.20.0.0/24", "!10.20.0.5", "2001:db8::/32", "192.0.2.7"]);
        assert!(l.contains(ip("10.20.0.4")));
        assert!(!l.contains(ip("10.20.0.5")));
        assert!(!l.contains(ip("10.20.1.1")));
        assert!(l.contains(ip("192.0.2.7")));
        assert!(!l.contains(ip("192.0.2.8")));
        assert!(l.contains(ip("2001:db8::9")));
        let only_not = list(&["!10.0.0.0/8"]);
        assert!(only_not.contains(ip("192.0.2.1")));
        assert!(!only_not.contains(ip("10.1.1.1")));
        assert!(AddrList::default().contains(ip("10.1.1.1")));
    }

    #[test]
    fn bad_entries_are_reported_by_index() {
        let entries = vec![
            "10.0.0.0/8".to_string(),
            "10.0.0.300".into(),
            "!host".into(),
        ];
        let errors = AddrList::parse(&entries).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2]);
        // Host bits are cleared rather than refused.
        assert_eq!(
            list(&["10.1.2.3/8"]).include,
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn self_contradiction() {
        assert!(list(&["10.1.0.0/16", "!10.0.0.0/8"]).contradicts_itself());
        assert!(list(&["10.0.0.5", "!10.0.0.5"]).contradicts_itself());
        assert!(!list(&["10.1.0.0/16", "!10.1.2.0/24"]).contradicts_itself());
        assert!(!list(&["!10.0.0.0/8"]).contradicts_itself());
    }

    #[test]
    fn coverage() {
        let wide = list(&["10.0.0.0/8"]);
        assert!(wide.covers(&list(&["10.1.0.0/16", "10.2.3.4"])));
        assert!(!wide.covers(&list(&["10.1.0.0/16", "192.0.2.1"])));
        assert!(!wide.covers(&AddrList::default()));
        assert!(AddrList::default().covers(&wide));
        let holed = list(&["10.0.0.0/8", "!10.1.2.0/24"]);
        assert!(!holed.covers(&list(&["10.1.0.0/16"])));
        assert!(holed.covers(&list(&["10.1.0.0/16", "!10.1.0.0/20"])));
        assert!(holed.covers(&list(&["10.2.0.0/16"])));
        assert!(list(&["!10.0.0.0/8"]).covers(&list(&["!10.0.0.0/7"])));
        assert!(!list(&["!10.0.0.0/7"]).covers(&list(&["!10.0.0.0/8"])));
    }
}
