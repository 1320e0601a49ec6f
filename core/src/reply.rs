//! A protocol-neutral reply value. The core answers commands with a [`Reply`];
//! the shell encodes it as RESP2 or RESP3 for the client that asked.

/// One reply. `Map` is a RESP3 map, sent to RESP2 clients as a flat array of
/// alternating keys and values, exactly as Redis does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`; the text includes the error code (`ERR`, `NOQUORUM`, ...).
    Error(String),
    /// `:1`
    Int(i64),
    /// `$3\r\nfoo`
    Bulk(Vec<u8>),
    /// `$-1` (RESP3 `_`)
    Null,
    /// `*-1` (RESP3 `_`)
    NullArray,
    Array(Vec<Reply>),
    /// A RESP3 set (`~`); RESP2 clients get a plain array.
    Set(Vec<Reply>),
    /// A RESP3 double (`,`), kept as its text; RESP2 clients get a bulk
    /// string of the same text, as Redis sends it.
    Double(String),
    Map(Vec<(Reply, Reply)>),
    /// An out-of-band message (pub/sub); RESP3 `>`, RESP2 a plain array.
    Push(Vec<Reply>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An `ERR`-coded error: `Reply::err("no such key")` → `-ERR no such key`.
    pub fn err(msg: impl AsRef<str>) -> Reply {
        Reply::Error(format!("ERR {}", msg.as_ref()))
    }

    pub fn bulk(s: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(s.as_ref().to_vec())
    }

    /// A number rendered as a bulk string, the way Redis's
    /// `addReplyBulkLongLong` does (every value of an instance map).
    pub fn bulk_int(n: i64) -> Reply {
        Reply::Bulk(n.to_string().into_bytes())
    }

    /// A map whose keys are bulk strings.
    pub fn map_of<K: AsRef<str>>(pairs: Vec<(K, Reply)>) -> Reply {
        Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::bulk(k.as_ref()), v))
                .collect(),
        )
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Bulk or simple string content, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Simple(s) | Reply::Error(s) => Some(s),
            Reply::Bulk(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}
