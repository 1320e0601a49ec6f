//! The rsentinel binary.

fn main() {}
