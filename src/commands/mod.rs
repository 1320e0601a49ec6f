//! The command surface a sentinel serves: the command table and one file per
//! command family.

pub mod table;
