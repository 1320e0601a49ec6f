//! Support for the oracle tests: a real `redis-sentinel` (from the
//! fixtures above), spoken to in RESP2/RESP3 and
//! parsed into a [`Value`] that keeps RESP3 sets apart, and our `Reply` turned
//! into the same shape so the two can be compared.

#![allow(dead_code)]

use rsentinel_core::reply::Reply;

use super::{redis_sentinel, Client, Proc};

/// A parsed RESP value, keeping RESP3's set/map distinctions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1` in RESP2, `_` in RESP3.
    Null,
    /// `*-1` in RESP2.
    NullArray,
    Array(Vec<Value>),
    Set(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

impl Value {
    pub fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    pub fn text(&self) -> String {
        match self {
            Value::Simple(s) | Value::Error(s) => s.clone(),
            Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a string: {other:?}"),
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(v) | Value::Set(v) => v,
            other => panic!("not an array: {other:?}"),
        }
    }
}

/// Our reply as a client of the given protocol would parse it: maps are
/// flat arrays in RESP2 and both nulls are `_` in RESP3.
pub fn from_reply(r: &Reply, resp3: bool) -> Value {
    match r {
        Reply::Simple(s) => Value::Simple(s.clone()),
        Reply::Error(s) => Value::Error(s.clone()),
        Reply::Int(i) => Value::Int(*i),
        Reply::Bulk(b) => Value::Bulk(b.clone()),
        Reply::Null => Value::Null,
        Reply::NullArray if resp3 => Value::Null,
        Reply::NullArray => Value::NullArray,
        Reply::Array(v) | Reply::Push(v) => {
            Value::Array(v.iter().map(|x| from_reply(x, resp3)).collect())
        }
        Reply::Map(pairs) if resp3 => Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (from_reply(k, resp3), from_reply(v, resp3)))
                .collect(),
        ),
        Reply::Map(pairs) => Value::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [from_reply(k, resp3), from_reply(v, resp3)])
                .collect(),
        ),
        Reply::Set(v) if resp3 => Value::Set(v.iter().map(|x| from_reply(x, resp3)).collect()),
        Reply::Set(v) => Value::Array(v.iter().map(|x| from_reply(x, resp3)).collect()),
        // Doubles are compared by their text, however they were framed.
        Reply::Double(d) => Value::Bulk(d.as_bytes().to_vec()),
    }
}

/// Compares sets as arrays (same elements, same order), for replies where
/// only the elements matter.
pub fn sets_as_arrays(v: &Value) -> Value {
    match v {
        Value::Array(x) | Value::Set(x) => Value::Array(x.iter().map(sets_as_arrays).collect()),
        Value::Map(p) => Value::Map(
            p.iter()
                .map(|(k, v)| (sets_as_arrays(k), sets_as_arrays(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A real redis-sentinel (the shared fixture: only its own pid is killed,
/// a missing binary fails loudly, readiness is polled with a deadline).
pub struct Oracle {
    proc: Proc,
    pub port: u16,
}

/// Starts redis-sentinel with `extra` config lines.
pub fn start_oracle(extra: &str) -> Oracle {
    let proc = redis_sentinel(extra);
    Oracle {
        port: proc.port,
        proc,
    }
}

impl Oracle {
    /// A connection in RESP2, or in RESP3 after a `HELLO 3` that must
    /// answer a map.
    pub fn connect(&self, resp3: bool) -> Conn {
        let client = Client::connect(self.port).expect("connect to redis-sentinel");
        let mut c = Conn { client };
        if resp3 {
            let hello = c.cmd(&["HELLO", "3"]);
            assert!(matches!(hello, Value::Map(_)), "{hello:?}");
        }
        c
    }

    pub fn config_path(&self) -> std::path::PathBuf {
        self.proc.path("sentinel.conf")
    }
}

/// A connection that parses replies into [`Value`] (the shared client's
/// parser folds sets into arrays, which these comparisons must not).
pub struct Conn {
    client: Client,
}

impl Conn {
    pub fn cmd(&mut self, args: &[&str]) -> Value {
        self.client.send(args).expect("send to redis-sentinel");
        self.read()
    }

    fn read(&mut self) -> Value {
        let line = self.client.read_line().expect("reply line");
        let line = String::from_utf8_lossy(&line).into_owned();
        let (t, rest) = line.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match t {
            "+" => Value::Simple(rest.into()),
            "-" => Value::Error(rest.into()),
            ":" => Value::Int(n()),
            "$" if n() < 0 => Value::Null,
            "$" | "=" => {
                let mut buf = self
                    .client
                    .read_exact_bytes(n() as usize + 2)
                    .expect("bulk payload");
                buf.truncate(buf.len() - 2);
                Value::Bulk(buf)
            }
            "*" if n() < 0 => Value::NullArray,
            "*" | ">" => Value::Array((0..n()).map(|_| self.read()).collect()),
            "~" => Value::Set((0..n()).map(|_| self.read()).collect()),
            "%" => Value::Map((0..n()).map(|_| (self.read(), self.read())).collect()),
            "_" => Value::Null,
            other => panic!("unexpected RESP type {other:?} in {line:?}"),
        }
    }
}
