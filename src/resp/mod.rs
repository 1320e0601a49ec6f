//! RESP: the client request decoder, reply encoding and the reply parser used on outbound links.

pub mod split_args;
