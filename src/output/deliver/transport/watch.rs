//! How a sender waits on a connection: progress by position, with a stall limit, so a receiver
//! that stops reading is noticed without a write blocking forever.

use std::io;
use std::time::{Duration, Instant};

/// Watches one connection's progress while the sender waits on it: how far the receiver has
/// confirmed, when that last moved, and the limits (stall time, shutdown deadline).
#[derive(Debug)]
pub struct Watch {
    /// Highest position the receiver has confirmed.
    pub confirmed: u64,
    last_progress: Instant,
    stall: Duration,
    deadline: Option<Instant>,
    /// Set when the connection was given up for lack of progress (not for an error).
    pub stalled: bool,
}

impl Watch {
    pub fn new(stall: Duration) -> Watch {
        Watch {
            confirmed: 0,
            last_progress: Instant::now(),
            stall,
            deadline: None,
            stalled: false,
        }
    }

    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Takes a new confirmed position; an error once nothing moved for the stall limit while
    /// something was outstanding, or at the shutdown deadline.
    pub fn observe(&mut self, confirmed: u64, sent: u64) -> io::Result<()> {
        let now = Instant::now();
        if confirmed > self.confirmed || confirmed >= sent {
            self.last_progress = now;
        }
        self.confirmed = self.confirmed.max(confirmed);
        if now.duration_since(self.last_progress) >= self.stall {
            self.stalled = true;
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "receiver made no progress for {:?} ({} bytes or messages unconfirmed)",
                    self.stall,
                    sent - self.confirmed
                ),
            ));
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(deadline_error());
        }
        Ok(())
    }
}

pub fn deadline_error() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "shutdown deadline")
}
