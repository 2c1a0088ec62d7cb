//! Live capture: one libpcap handle per worker on a network interface, joined into an AF_PACKET
//! fanout group so the kernel spreads flows over the workers. The first stage of the live data
//! path: frames leave here as `(timestamp, link type, frame, wire length)` for the pipeline.
//!
//! Fanout mode is HASH with DEFRAG: the kernel's flow hash is symmetric, so both directions of
//! a flow reach the same worker (checked on this kernel by `tests/live_capture.rs`), and IPv4
//! fragments are reassembled before hashing so they follow their flow. The unsafe code of the
//! crate's capture side lives here: the fanout and socket-filter socket options.
#![allow(unsafe_code)] // socket options libc has no safe wrapper for; each block says why it is sound

use std::os::fd::AsRawFd;
use std::time::Duration;

use pcap::{Active, BreakLoop, Capture, Precision};

use crate::decode::LinkType;
use crate::time::{Nanos, NANOS_PER_SEC};

/// How a handle is opened; from `[capture]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOptions {
    pub snaplen: i32,
    pub buffer_size: i32,
    pub promiscuous: bool,
    pub immediate: bool,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{interface}: cannot open: {reason}")]
    Open { interface: String, reason: String },
    #[error("{interface}: cannot join fanout group {group}: {source}")]
    Fanout {
        interface: String,
        group: u16,
        source: std::io::Error,
    },
    #[error("{interface}: filter `{expr}` rejected: {reason}")]
    Filter {
        interface: String,
        expr: String,
        reason: String,
    },
    #[error("{interface}: capture failed: {reason}")]
    Read { interface: String, reason: String },
    #[error(
        "capture is not permitted: opening a packet socket failed ({source}). c2tap needs \
         CAP_NET_RAW and CAP_NET_ADMIN: run it under the shipped unit \
         (AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN), as root with `user` set, or grant them \
         with `setcap cap_net_raw,cap_net_admin=ep` on the binary"
    )]
    Permission { source: std::io::Error },
}

/// Whether an interface can deliver frames now, as the kernel's interface flags say. A handle
/// on an interface that is administratively down or has lost its carrier opens and reads
/// without error, yet sees nothing: this is how the sensor knows it is blind then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkCondition {
    Up,
    /// Administratively down (`ip link set ... down`).
    AdminDown,
    /// Up, but without carrier (cable pulled, the mirror port or the veth peer is down).
    NoCarrier,
}

/// Reads `interface`'s flags (SIOCGIFFLAGS). An absent interface is an error (ENODEV).
pub fn link_condition(interface: &str) -> std::io::Result<LinkCondition> {
    let name = interface.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: an all-zero `ifreq` is valid (a C struct of integers and arrays).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: plain system calls on an fd this function owns and closes exactly once; the
    // ioctl writes only into `req`, which is valid for its size.
    let flags = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let rc = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc < 0 {
            return Err(err);
        }
        i32::from(req.ifr_ifru.ifru_flags)
    };
    Ok(if flags & libc::IFF_UP == 0 {
        LinkCondition::AdminDown
    } else if flags & libc::IFF_RUNNING == 0 {
        LinkCondition::NoCarrier
    } else {
        LinkCondition::Up
    })
}

/// Whether this process may open packet sockets at all (CAP_NET_RAW), asked of the kernel
/// directly: without it every interface would fail to open and the sensor would wait forever
/// for an interface that is there. Other failures (no AF_PACKET in this kernel) are left to
/// the real open, which reports them per interface.
pub fn check_capture_permission() -> Result<(), LiveError> {
    // SAFETY: plain system calls on an fd this function owns; it is closed before returning.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let source = std::io::Error::last_os_error();
        return match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Err(LiveError::Permission { source }),
            _ => Ok(()),
        };
    }
    // SAFETY: `fd` was returned by socket() above and is closed exactly once.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Where a filter ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterPlacement {
    /// No filter set.
    None,
    /// Attached to the socket: `instructions` cBPF instructions run in the kernel.
    Kernel { instructions: usize },
    /// The kernel refused it (too long, `optmem_max`); libpcap filters in userspace instead.
    Userspace,
}

/// What one `dispatch` call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatched {
    Packets(usize),
    /// `breakloop` was called (shutdown).
    Stopped,
}

/// Cumulative pcap statistics, widened from libpcap's wrapping 32-bit counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelCounters {
    /// Packets the socket accepted (includes `dropped`).
    pub received: u64,
    /// Dropped because the ring was full.
    pub dropped: u64,
    pub if_dropped: u64,
    last: [u32; 3],
}

impl KernelCounters {
    fn update(&mut self, s: pcap::Stat) {
        let now = [s.received, s.dropped, s.if_dropped];
        let [r, d, i] = [0, 1, 2].map(|k| {
            let prev = self.last.get(k).copied().unwrap_or(0);
            u64::from(now.get(k).copied().unwrap_or(0).wrapping_sub(prev))
        });
        self.received = self.received.saturating_add(r);
        self.dropped = self.dropped.saturating_add(d);
        self.if_dropped = self.if_dropped.saturating_add(i);
        self.last = now;
    }
}

/// One capture handle on one interface.
pub struct LiveCapture {
    cap: Capture<Active>,
    link: LinkType,
    interface: String,
    counters: KernelCounters,
}

impl LiveCapture {
    /// Opens and activates a handle. A missing or down interface is an error the caller
    /// retries with backoff.
    pub fn open(interface: &str, opts: &LiveOptions) -> Result<LiveCapture, LiveError> {
        let open_err = |e: pcap::Error| LiveError::Open {
            interface: interface.to_string(),
            reason: e.to_string(),
        };
        let timeout_ms = i32::try_from(opts.timeout.as_millis()).unwrap_or(i32::MAX);
        let cap = Capture::from_device(interface)
            .map_err(open_err)?
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_size)
            .promisc(opts.promiscuous)
            .immediate_mode(opts.immediate)
            .timeout(timeout_ms.max(1))
            .precision(Precision::Nano)
            .open()
            .map_err(open_err)?;
        let link = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        Ok(LiveCapture {
            cap,
            link,
            interface: interface.to_string(),
            counters: KernelCounters::default(),
        })
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    fn fanout_err(&self, group: u16, source: std::io::Error) -> LiveError {
        LiveError::Fanout {
            interface: self.interface.clone(),
            group,
            source,
        }
    }

    /// Joins fanout group `group` (HASH | DEFRAG). Every handle of one interface joins the same
    /// group; groups are per network namespace, so two interfaces need two ids.
    pub fn join_fanout(&self, group: u16) -> Result<(), LiveError> {
        let mode = libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG;
        self.set_fanout(u32::from(group) | (mode << 16))
            .map_err(|e| self.fanout_err(group, e))
    }

    /// Creates a new fanout group with an id no other socket uses (the kernel picks it) and
    /// returns that id for the other handles to join.
    pub fn create_fanout(&self) -> Result<u16, LiveError> {
        let mode = libc::PACKET_FANOUT_HASH
            | libc::PACKET_FANOUT_FLAG_DEFRAG
            | libc::PACKET_FANOUT_FLAG_UNIQUEID;
        self.set_fanout(mode << 16)
            .map_err(|e| self.fanout_err(0, e))?;
        let val = self.fanout_value().map_err(|e| self.fanout_err(0, e))?;
        Ok((val & 0xffff) as u16)
    }

    fn set_fanout(&self, val: u32) -> std::io::Result<()> {
        let val = val as libc::c_int;
        // SAFETY: the fd belongs to `self.cap` and stays open for the call; the option value is
        // a c_int on our stack and its exact size is passed.
        let rc = unsafe {
            libc::setsockopt(
                self.cap.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                (&val as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        match rc {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// The kernel's view of this socket's fanout membership: id | type << 16 | flags << 24.
    fn fanout_value(&self) -> std::io::Result<u32> {
        let mut val: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the fd is open; `val` and `len` are valid for writes of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                self.cap.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                (&mut val as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        match rc {
            0 => Ok(val as u32),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// Instructions of the filter the kernel really has on this socket (0 = none). libpcap
    /// falls back to userspace filtering silently when the kernel refuses a program, so this
    /// is the only proof that a filter runs in the kernel.
    pub fn attached_filter_len(&self) -> std::io::Result<usize> {
        let mut len: libc::socklen_t = 0;
        // SAFETY: with a zero length the kernel writes nothing to the (null) buffer and stores
        // the attached program's instruction count in `len`.
        let rc = unsafe {
            libc::getsockopt(
                self.cap.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_GET_FILTER,
                std::ptr::null_mut(),
                &mut len,
            )
        };
        match rc {
            0 => Ok(len as usize),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// Sets (or clears, with `None`) the filter and reports where it runs.
    pub fn set_filter(&mut self, expr: Option<&str>) -> Result<FilterPlacement, LiveError> {
        let text = expr.unwrap_or("");
        let err = |e: String| LiveError::Filter {
            interface: self.interface.clone(),
            expr: text.to_string(),
            reason: e,
        };
        let expected = self
            .cap
            .compile(text, true)
            .map_err(|e| err(e.to_string()))?
            .get_instructions()
            .len();
        self.cap
            .filter(text, true)
            .map_err(|e| err(e.to_string()))?;
        if expr.is_none() {
            return Ok(FilterPlacement::None);
        }
        let attached = self.attached_filter_len().map_err(|e| err(e.to_string()))?;
        Ok(match attached {
            n if n == expected && n > 0 => FilterPlacement::Kernel { instructions: n },
            _ => FilterPlacement::Userspace,
        })
    }

    /// A handle another thread uses to make a blocked `dispatch` return.
    pub fn breaker(&mut self) -> BreakLoop {
        self.cap.breakloop_handle()
    }

    /// Hands every frame of one ring block to `each(ts, link, frame, wire_len)`. Returns after
    /// the block, on the read timeout (once traffic flowed), or when `breakloop` is called.
    #[inline]
    pub fn dispatch<F>(&mut self, mut each: F) -> Result<Dispatched, LiveError>
    where
        F: FnMut(Nanos, LinkType, &[u8], u32),
    {
        let link = self.link;
        let res = self.cap.dispatch(None, |p| {
            let secs = u64::try_from(p.header.ts.tv_sec).unwrap_or(0);
            // With nanosecond precision libpcap puts nanoseconds in `tv_usec`.
            let frac = u64::try_from(p.header.ts.tv_usec).unwrap_or(0);
            let ts = secs.saturating_mul(NANOS_PER_SEC).saturating_add(frac);
            each(ts, link, p.data, p.header.len);
        });
        match res {
            Ok(n) => Ok(Dispatched::Packets(n)),
            // pcap surfaces the breakloop return (-2) as an error with an empty message.
            Err(pcap::Error::PcapError(m)) if m.is_empty() => Ok(Dispatched::Stopped),
            Err(e) => Err(LiveError::Read {
                interface: self.interface.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Reads pcap statistics and returns the running totals.
    pub fn stats(&mut self) -> Result<KernelCounters, LiveError> {
        let s = self.cap.stats().map_err(|e| LiveError::Read {
            interface: self.interface.clone(),
            reason: e.to_string(),
        })?;
        self.counters.update(s);
        Ok(self.counters)
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
