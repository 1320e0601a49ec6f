//! Test support shared by the oracle tests: start a real `redis-sentinel`
//! on a free loopback port, talk RESP2/RESP3 to it, and turn our `Reply`
//! into the same parsed shape so the two can be compared.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rsentinel_core::reply::Reply;

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

/// A real redis-sentinel, stopped (by its own pid) when dropped.
pub struct Oracle {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

const BINARY: &str = "redis-sentinel";

/// Start redis-sentinel with `extra` config lines. A missing binary fails
/// the test loudly: a comparison that silently skips proves nothing. (The
/// `Option` is kept so callers read naturally; it is always `Some`.)
pub fn start_oracle(extra: &str) -> Option<Oracle> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(BINARY).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "redis-sentinel is not installed; run scripts/install-deps.sh (the README's test command does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\n{extra}")).unwrap();
    let child = Command::new(BINARY)
        .arg(&conf)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let oracle = Oracle { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-sentinel did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(oracle)
}

impl Oracle {
    pub fn connect(&self, resp3: bool) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut c = Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        if resp3 {
            let hello = c.cmd(&["HELLO", "3"]);
            assert!(matches!(hello, Value::Map(_)), "{hello:?}");
        }
        c
    }

    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("sentinel.conf")
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn cmd(&mut self, args: &[&str]) -> Value {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).unwrap();
        self.read()
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let line = line.trim_end_matches("\r\n");
        let (t, rest) = line.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match t {
            "+" => Value::Simple(rest.into()),
            "-" => Value::Error(rest.into()),
            ":" => Value::Int(n()),
            "$" if n() < 0 => Value::Null,
            "$" | "=" => {
                let mut buf = vec![0; n() as usize + 2];
                self.reader.read_exact(&mut buf).unwrap();
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
