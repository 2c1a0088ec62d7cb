//! Flow: bidirectional flow tracking keyed by a `Copy` [`FlowKey`], on packet time, with a hard
//! bound. Sits between decode and detect: every decoded packet updates one flow.

mod config;
mod index;
pub mod key;
pub mod names;
pub mod state;
pub mod table;
mod timers;

pub use config::limits;
pub use key::{Dir, FlowKey};
pub use names::{NameMatch, NameVia};
pub use state::{AlertState, ClientBasis, Flow, FlowMatch, Phase};
pub use table::{EndReason, FlowConfig, FlowHash, FlowTable, TableStats, Timeouts};
