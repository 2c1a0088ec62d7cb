//! Why a feed row was refused: one closed set for address and name IOCs, so reports, JSON and
//! metrics count every reason in a fixed-size table.

use std::fmt;

use super::names::NameError;

/// Why a feed row was refused. A closed set so the counts stay a fixed-size table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Looks like an address but is not one (`999.1.1.1`, `1.2.3`, `2001:db8:::1`).
    BadAddress,
    /// Port missing, not a number, 0, or above 65535.
    BadPort,
    /// `0.0.0.0` / `::` (or a CIDR starting there): would match every unconfigured socket.
    Unspecified,
    /// `255.255.255.255` (or a CIDR containing it).
    Broadcast,
    /// Multicast addresses never are a C2 peer.
    Multicast,
    /// Loopback traffic never leaves the host; an IOC there is a feed error.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`: never routed, so never a C2 peer.
    LinkLocal,
    /// A network wider than [`MIN_PREFIX_V4`] / [`MIN_PREFIX_V6`] (without `allow_broad`).
    TooBroad,
    /// A network in RFC 1918 or unique-local (`fc00::/7`) space (without `allow_broad`).
    Private,
    /// A network in shared address space, `100.64.0.0/10` (without `allow_broad`).
    Shared,
    /// A network in documentation space (without `allow_broad`).
    Documentation,
    /// A network or host in reserved space: `0.0.0.0/8`, `192.0.0.0/24`, benchmarking
    /// `198.18.0.0/15`, `240.0.0.0/4`, discard-only `100::/64` (without `allow_broad`).
    Reserved,
    /// The row itself could not be read (broken quoting, wrong column count, no value).
    Unparsable,
    /// The row has more columns than its format defines (`ip,port,malware,extra`, or a comma
    /// list in a plain one-IOC-per-line file): which column holds the IOC is a guess, so none
    /// is taken.
    ExtraColumns,
    /// A host name with an empty label (`a..b`), or empty.
    EmptyLabel,
    /// A host-name label longer than 63 characters.
    LabelTooLong,
    /// A host name longer than 253 characters.
    NameTooLong,
    /// A host name with a character outside letters, digits, `-`, `_` (or a label starting or
    /// ending with `-`), or Unicode that IDNA cannot map to punycode.
    BadNameChar,
    /// A single-label name (`localhost`, `com`): never a C2 name, and as a suffix a whole TLD.
    SingleLabel,
    /// A URL without a readable host or port, or with a control character or an over-long path.
    BadUrl,
}

impl RejectReason {
    /// Every reason, in the order reports list them.
    pub const ALL: [RejectReason; 20] = [
        RejectReason::BadAddress,
        RejectReason::BadPort,
        RejectReason::Unspecified,
        RejectReason::Broadcast,
        RejectReason::Multicast,
        RejectReason::Loopback,
        RejectReason::LinkLocal,
        RejectReason::TooBroad,
        RejectReason::Private,
        RejectReason::Shared,
        RejectReason::Documentation,
        RejectReason::Reserved,
        RejectReason::Unparsable,
        RejectReason::ExtraColumns,
        RejectReason::EmptyLabel,
        RejectReason::LabelTooLong,
        RejectReason::NameTooLong,
        RejectReason::BadNameChar,
        RejectReason::SingleLabel,
        RejectReason::BadUrl,
    ];

    /// Stable label for tables, JSON and metrics.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::BadAddress => "bad_address",
            RejectReason::BadPort => "bad_port",
            RejectReason::Unspecified => "unspecified",
            RejectReason::Broadcast => "broadcast",
            RejectReason::Multicast => "multicast",
            RejectReason::Loopback => "loopback",
            RejectReason::LinkLocal => "link_local",
            RejectReason::TooBroad => "too_broad",
            RejectReason::Private => "private",
            RejectReason::Shared => "shared",
            RejectReason::Documentation => "documentation",
            RejectReason::Reserved => "reserved",
            RejectReason::Unparsable => "unparsable",
            RejectReason::ExtraColumns => "extra_columns",
            RejectReason::EmptyLabel => "empty_label",
            RejectReason::LabelTooLong => "label_too_long",
            RejectReason::NameTooLong => "name_too_long",
            RejectReason::BadNameChar => "bad_name_char",
            RejectReason::SingleLabel => "single_label",
            RejectReason::BadUrl => "bad_url",
        }
    }

    /// Whether a feed's `allow_broad = true` lets such an IOC in.
    pub fn is_breadth(self) -> bool {
        matches!(
            self,
            RejectReason::TooBroad
                | RejectReason::Private
                | RejectReason::Shared
                | RejectReason::Documentation
                | RejectReason::Reserved
        )
    }
}

impl From<NameError> for RejectReason {
    fn from(e: NameError) -> RejectReason {
        match e {
            NameError::Empty | NameError::EmptyLabel => RejectReason::EmptyLabel,
            NameError::LabelTooLong => RejectReason::LabelTooLong,
            NameError::NameTooLong => RejectReason::NameTooLong,
            NameError::BadChar | NameError::Idna => RejectReason::BadNameChar,
            NameError::SingleLabel => RejectReason::SingleLabel,
            NameError::BadUrl => RejectReason::BadUrl,
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
