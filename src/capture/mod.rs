//! Capture: where frames come from — pcap/pcapng files (replay) or live interfaces (libpcap,
//! AF_PACKET fanout). Both hand `(timestamp, link type, frame, wire length)` to the pipeline.
pub mod file;
pub mod live;
pub mod prefilter;
