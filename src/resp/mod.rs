//! RESP: the client request decoder, reply encoding and the reply parser used on outbound links.

pub mod client;
pub mod encode;
pub mod reply_parse;
pub mod request;
pub mod split_args;
pub mod string2ll;

pub use client::{RespConnection, RespReader, RespWriter};
pub use encode::{encode, encode_command};
pub use reply_parse::{ReplyLimits, ReplyParseError, ReplyParser};
pub use request::{ProtocolError, RequestDecoder};
