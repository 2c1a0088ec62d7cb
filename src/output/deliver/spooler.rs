//! The spooler thread (outputs with a `spool_dir`): moves messages from the front of the
//! memory queue to the back of the on-disk spool, in batches with one fsync each, while the
//! receiver is down or the queue runs more than half full.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spool::SpoolError;
use super::worker::{DropReason, Msg, Shared, IDLE_TICK};

/// Messages the spooler moves per disk write (and per fsync).
const SPOOL_BATCH: usize = 8192;
/// While the receiver is up, the spooler moves messages only beyond this share of the queue.
const SPOOL_ABOVE: usize = 2;

/// The spooler thread's loop (outputs with a spool); ends once intake and sender are done.
pub fn run_spooler(shared: Arc<Shared>, name: String) {
    let mut batch: Vec<Msg> = Vec::new();
    let mut synced = Instant::now();
    loop {
        {
            let mut state = shared.lock();
            loop {
                if state.sender_done {
                    return;
                }
                let spool_records = shared.counters.spool_records.load(Ordering::Relaxed);
                let room = state.spool_full_at.is_none_or(|at| spool_records < at);
                let wanted = !state.up || state.mem.len() > state.mem_cap / SPOOL_ABOVE;
                if room && wanted && !state.mem.is_empty() {
                    break;
                }
                if synced.elapsed() >= Duration::from_secs(1) {
                    // Persist the read positions the sender advanced, now and then.
                    drop(state);
                    if let Some(mut spool) = shared.lock_spool() {
                        if let Err(e) = spool.sync() {
                            tracing::error!(output = %name, "spool sync failed: {e}");
                        }
                    }
                    synced = Instant::now();
                    state = shared.lock();
                    state.spool_full_at = None;
                    continue;
                }
                state = match shared.wake.wait_timeout(state, IDLE_TICK) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            let n = state.mem.len().min(SPOOL_BATCH);
            batch.extend(state.mem.drain(..n));
            state.moving = batch.len();
            shared.publish_mem(&state);
            if state.mem.is_empty() && state.mem.capacity() > 4 * SPOOL_BATCH {
                state.mem.shrink_to(SPOOL_BATCH);
            }
        }
        let Some(mut spool) = shared.lock_spool() else {
            return;
        };
        let mut appended = 0u64;
        let mut full = false;
        let mut lost = 0u64;
        for msg in &batch {
            if full {
                break;
            }
            match spool.append(&msg.buf, msg.mark) {
                Ok(()) => appended += 1,
                Err(SpoolError::Full { .. }) => full = true,
                Err(e) => {
                    tracing::error!(output = %name, "spool write failed: {e}");
                    lost += 1;
                }
            }
        }
        if let Err(e) = spool.sync() {
            tracing::error!(output = %name, "spool sync failed: {e}");
        }
        synced = Instant::now();
        shared.publish_spool(&mut spool);
        let spool_records = spool.records();
        drop(spool);
        shared
            .counters
            .spooled
            .fetch_add(appended, Ordering::Relaxed);
        shared.counters.lose(DropReason::SpoolError, lost);
        let mut state = shared.lock();
        // What did not fit goes back to the memory front, still in order; the intake drops
        // (counted) only once memory is full too.
        let rest = batch.split_off((appended + lost) as usize);
        for msg in rest.into_iter().rev() {
            state.mem.push_front(msg);
        }
        if full {
            state.spool_full_at = Some(spool_records);
        }
        state.free.extend(batch.drain(..).map(|m| m.buf));
        state.moving = 0;
        shared.publish_mem(&state);
        drop(state);
        shared.wake.notify_all();
    }
}
