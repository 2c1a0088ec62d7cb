//! Each configured interface's [`Link`]: whether it is capturing, or why not, in the words
//! readiness, metrics and the health record use.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::capture::live::{link_condition, LinkCondition, LiveError};

use super::{now_ms, HUNG_AFTER_MS};

/// One configured interface as its supervisor last saw it. Written only when its state
/// changes (open, failure, thread start and end), never per packet.
pub struct Link {
    pub name: String,
    workers: usize,
    /// Each worker's [`WorkerSlot::heartbeat`].
    heartbeats: Vec<Arc<AtomicU64>>,
    /// Capture threads of this interface inside their read loop.
    pub(super) reading: AtomicUsize,
    /// Why it is not capturing; `None` once a handle group is open.
    problem: Mutex<Option<String>>,
}

/// What a [`Link`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Open, and every worker is reading.
    Up,
    /// Not capturing, with the reason in words (absent, down, gone, no permission...).
    Down(String),
}

impl Link {
    /// `heartbeats`: one per worker, the ones its [`WorkerSlot`]s carry.
    pub fn new(name: &str, heartbeats: Vec<Arc<AtomicU64>>) -> Arc<Link> {
        Arc::new(Link {
            name: name.to_string(),
            workers: heartbeats.len(),
            heartbeats,
            reading: AtomicUsize::new(0),
            problem: Mutex::new(Some("not opened yet".into())),
        })
    }

    /// Asks the kernel about the interface too (one ioctl): a handle on an interface that is
    /// down or without carrier reads without error and sees nothing.
    pub fn state(&self) -> LinkState {
        let problem = self
            .problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(why) = problem {
            return LinkState::Down(why);
        }
        if self.reading.load(Ordering::SeqCst) < self.workers {
            return LinkState::Down("starting its capture threads".into());
        }
        let now = now_ms();
        if self
            .heartbeats
            .iter()
            .any(|hb| now.saturating_sub(hb.load(Ordering::Relaxed)) >= HUNG_AFTER_MS)
        {
            return LinkState::Down(format!(
                "stuck: a capture thread has made no progress for {} s",
                HUNG_AFTER_MS / 1000
            ));
        }
        match link_condition(&self.name) {
            Ok(LinkCondition::Up) => LinkState::Up,
            Ok(LinkCondition::AdminDown) => {
                LinkState::Down("down: the interface is administratively down".into())
            }
            Ok(LinkCondition::NoCarrier) => LinkState::Down("down: no carrier (link lost)".into()),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                LinkState::Down("absent: no such interface".into())
            }
            // Flags unreadable for another reason: the open handle is the better witness.
            Err(_) => LinkState::Up,
        }
    }

    pub(super) fn set_problem(&self, why: Option<String>) {
        *self.problem.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }

    /// Records the first failure of an open group (the siblings' follow-ups add nothing).
    pub(super) fn fail(&self, why: String) {
        self.problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(why);
    }
}

/// The operator's words for a libpcap failure: absent and down interfaces are the common
/// cases, the rest keeps libpcap's text.
pub fn describe(e: &LiveError) -> String {
    let text = match e {
        LiveError::Open { reason, .. } => format!("cannot open: {reason}"),
        LiveError::Read { reason, .. } => format!("capture failed: {reason}"),
        other => other.to_string(),
    };
    let lower = text.to_ascii_lowercase();
    let kind = if lower.contains("no such device") || lower.contains("disappeared") {
        "absent"
    } else if lower.contains("went down") || lower.contains("network is down") {
        "down"
    } else if lower.contains("permission") || lower.contains("not permitted") {
        "no permission (CAP_NET_RAW/CAP_NET_ADMIN)"
    } else {
        "cannot capture"
    };
    format!("{kind}: {text}")
}
