//! Feed timestamps: the crate's one UTC [`Timestamp`] type lives in `crate::units`, beside the
//! other units settings and formatters share; the feed parsers name it from here.

pub use crate::units::Timestamp;
