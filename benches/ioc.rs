//! IOC lookup and feed load benchmarks (filled in below).
fn main() {}
