//! The command surface a sentinel serves: the command table and one file per
//! command family.

pub mod command;
pub mod resolve;
pub mod table;
mod table_data;
