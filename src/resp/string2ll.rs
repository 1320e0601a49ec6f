//! Redis's strict decimal parser, shared with the core (one parser for the
//! whole workspace): re-exported where the RESP code has always found it.

pub use rsentinel_core::string2ll::string2ll;
