//! Test fixtures: real `redis-server`, `redis-sentinel` and `rsentinel`
//! processes on loopback, each on a port of its own in a temp dir of its own.
//! Readiness is polled with a deadline; drop kills only the PID it started
//! and, when the test is failing, prints the tail of the process's log.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rsentinel::resp::encode::encode_command;
use rsentinel::resp::reply_parse::ReplyParser;
pub use rsentinel_core::reply::Reply;

pub mod agreement;
pub mod line_proc;
pub mod netns;
pub mod oracle;
pub mod server;
pub mod writer;
pub mod zab_voter;
pub mod zk;

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// `n` distinct free ports: every listener is held until all are bound.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port"))
        .collect();
    held.iter()
        .map(|l| {
            l.local_addr()
                .expect("bound listener has an address")
                .port()
        })
        .collect()
}

/// Whether a child this fixture started is still running (not exited).
pub fn child_running(child: &mut Option<Child>) -> bool {
    child
        .as_mut()
        .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
}

/// Waits up to `timeout` for a child to exit by itself and reaps it; its
/// exit code (-1 for a signal), `None` if it is still running.
pub fn wait_child_exit(child: &mut Option<Child>, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
            *child = None;
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_until`] for async tests: yields to the runtime between polls,
/// so the tasks that are to make `cond` true can run on its one thread.
pub async fn wait_until_async(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A tokio runtime driven by a thread of its own, stopped and joined on
/// drop: for tasks that must keep running while the test's (or bench's)
/// own thread blocks.
pub struct RuntimeThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeThread {
    pub fn start() -> RuntimeThread {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = rt.block_on(stopped);
        });
        RuntimeThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Panics with a clear message when a required binary is missing: these
/// tests must never silently skip.
pub fn require_binary(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed; install the Debian packages redis-server, redis-sentinel and redis-tools (the README's test command does)");
}

/// A synchronous RESP connection for tests.
pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
    parser: ReplyParser,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client {
            stream,
            buf: BytesMut::new(),
            parser: ReplyParser::new(),
        })
    }

    /// Connects to any address with connect and read timeouts (a client
    /// in a test network namespace, where the peer may be partitioned).
    pub fn connect_addr(addr: std::net::SocketAddr, timeout: Duration) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            stream,
            buf: BytesMut::new(),
            parser: ReplyParser::new(),
        })
    }

    /// Connects and switches to RESP3; fails unless `HELLO 3` answers a map.
    pub fn connect_resp3(port: u16) -> std::io::Result<Client> {
        let mut c = Client::connect(port)?;
        match c.cmd(&["HELLO", "3"])? {
            Reply::Map(_) => Ok(c),
            other => Err(std::io::Error::other(format!(
                "HELLO 3 answered {other:?}, not a map"
            ))),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode_command(&refs, &mut out);
        self.stream.write_all(&out)
    }

    /// Reads one reply.
    pub fn read(&mut self) -> std::io::Result<Reply> {
        loop {
            match self.parser.parse(&mut self.buf) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
            self.fill()?;
        }
    }

    /// Reads one raw line and drops its CRLF, for callers that parse RESP
    /// themselves (e.g. to keep RESP3 sets apart from arrays).
    pub fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(i + 2);
                return Ok(line[..i].to_vec());
            }
            self.fill()?;
        }
    }

    /// Reads exactly `n` raw bytes.
    pub fn read_exact_bytes(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.split_to(n).to_vec())
    }

    /// One socket read appended to the buffer; EOF is an error because
    /// every caller is waiting for more bytes.
    fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    pub fn cmd(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        self.send(args)?;
        self.read()
    }

    /// A command whose arguments are any bytes (e.g. a password that is
    /// not UTF-8).
    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut out = BytesMut::new();
        encode_command(args, &mut out);
        self.stream.write_all(&out)?;
        self.read()
    }
}

/// One-shot command on a fresh connection; `None` when nothing answers.
pub fn query(port: u16, args: &[&str]) -> Option<Reply> {
    Client::connect(port).ok()?.cmd(args).ok()
}

/// A bulk/simple string's text.
pub fn text(r: &Reply) -> String {
    r.as_str().map(str::to_string).unwrap_or_default()
}

/// `SENTINEL MASTER`-style map (RESP2 flat array or map) as pairs.
pub fn fields(r: &Reply) -> Vec<(String, String)> {
    match r {
        Reply::Map(pairs) => pairs.iter().map(|(k, v)| (text(k), text(v))).collect(),
        Reply::Array(items) => items
            .chunks(2)
            .map(|c| (text(&c[0]), c.get(1).map(text).unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn field(r: &Reply, name: &str) -> Option<String> {
    fields(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// One `name:value` field of `INFO <section>` on `port`.
pub fn info_value(port: u16, section: &str, name: &str) -> Option<String> {
    let info = text(&query(port, &["INFO", section])?);
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

/// A process we started, killed (only it) on drop.
pub struct Proc {
    pub name: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is
            // a child this fixture spawned and has not reaped.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    pub fn is_running(&mut self) -> bool {
        child_running(&mut self.child)
    }

    /// Waits for the process to exit by itself; its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        wait_child_exit(&mut self.child, timeout)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until PING answers (PONG, or NOAUTH from a server that wants
    /// a password).
    pub fn wait_ready(&mut self, timeout: Duration) {
        let port = self.port;
        let ok = wait_until(timeout, || match query(port, &["PING"]) {
            Some(Reply::Simple(s)) => s == "PONG",
            Some(Reply::Error(e)) => e.starts_with("NOAUTH"),
            _ => false,
        });
        if !ok {
            let tail = self.log_text();
            self.kill();
            panic!(
                "{} on port {port} did not become ready; log:\n{tail}",
                self.name
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- last lines of {} (port {}) ----", self.name, self.port);
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        self.kill();
    }
}

/// Starts `program` in `dir`; stderr goes to `dir/stderr.txt` (a fatal
/// start-up error is the only thing that may appear there).
fn spawn_child(program: &Path, args: &[String], dir: &Path) -> Child {
    spawn_child_env(program, args, dir, &[])
}

/// [`spawn_child`] with extra environment variables; the supervision
/// variables of the test's own environment are never passed on.
fn spawn_child_env(program: &Path, args: &[String], dir: &Path, envs: &[(&str, &str)]) -> Child {
    Command::new(program)
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("UPSTART_JOB")
        .envs(envs.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr.txt")).expect("stderr file"),
        ))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()))
}

fn spawn(
    name: &str,
    program: &Path,
    args: &[String],
    dir: tempfile::TempDir,
    port: u16,
    log: PathBuf,
) -> Proc {
    let child = spawn_child(program, args, dir.path());
    Proc {
        name: name.to_string(),
        port,
        dir,
        log,
        child: Some(child),
    }
}

/// A real `redis-server` on a free port, no persistence.
pub fn redis_server(extra: &[&str]) -> Proc {
    redis_server_with(free_port(), extra)
}

/// A real `redis-server` on `port` (e.g. an old master coming back).
pub fn redis_server_at(port: u16) -> Proc {
    redis_server_with(port, &[])
}

/// A real `redis-server` on `port` with `extra` arguments.
pub fn redis_server_with(port: u16, extra: &[&str]) -> Proc {
    let bin = require_binary("redis-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("redis.log");
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        // Redis 7 waits 5 s before a diskless full sync by default; tests
        // want replicas in sync at once.
        "--repl-diskless-sync-delay".into(),
        "0".into(),
        "--dir".into(),
        dir.path().display().to_string(),
        "--logfile".into(),
        log.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut p = spawn("redis-server", &bin, &args, dir, port, log);
    p.wait_ready(Duration::from_secs(10));
    p
}

/// A replica of `master`.
pub fn redis_replica(master: &Proc) -> Proc {
    let port = master.port.to_string();
    redis_server(&["--replicaof", "127.0.0.1", &port])
}

/// Writes `sentinel.conf` (`port`, `logfile` and `body`) into a new dir.
fn sentinel_dir(body: &str) -> (tempfile::TempDir, u16, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let log = dir.path().join("sentinel.log");
    let conf = dir.path().join("sentinel.conf");
    let text = format!(
        "port {port}\nbind 127.0.0.1\nlogfile \"{}\"\n{body}",
        log.display()
    );
    std::fs::write(&conf, text).expect("write sentinel.conf");
    (dir, port, log, conf)
}

fn rsentinel_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsentinel"))
}

/// A sentinel (`bin`) on a free port with `body` appended to its config.
fn sentinel(name: &str, bin: &Path, body: &str) -> Proc {
    let (dir, port, log, conf) = sentinel_dir(body);
    let mut p = spawn(name, bin, &[conf.display().to_string()], dir, port, log);
    p.wait_ready(Duration::from_secs(10));
    p
}

/// The rsentinel binary under test, with `body` appended to its config.
pub fn rsentinel(body: &str) -> Proc {
    sentinel("rsentinel", &rsentinel_bin(), body)
}

/// rsentinel with `body` appended to its config, `args` after the config
/// file and `envs` added to its environment. Not waited for: call
/// [`Proc::wait_ready`] when it should answer.
pub fn rsentinel_started(body: &str, args: &[&str], envs: &[(&str, &str)]) -> Proc {
    let (dir, port, log, conf) = sentinel_dir(body);
    let mut all = vec![conf.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let child = spawn_child_env(&rsentinel_bin(), &all, dir.path(), envs);
    Proc {
        name: "rsentinel".into(),
        port,
        dir,
        log,
        child: Some(child),
    }
}

impl Proc {
    /// Kills this rsentinel and starts it again on its own (rewritten)
    /// config, same dir and port.
    pub fn restart_rsentinel(&mut self) {
        self.kill();
        let conf = self.path("sentinel.conf").display().to_string();
        self.child = Some(spawn_child(&rsentinel_bin(), &[conf], self.dir.path()));
        self.wait_ready(Duration::from_secs(10));
    }
}

/// The program for `which`: `rsentinel` (under test) or `redis-sentinel`.
pub fn sentinel_program(which: &str) -> PathBuf {
    if which == "rsentinel" {
        rsentinel_bin()
    } else {
        require_binary(which)
    }
}

/// Starts `which` (`rsentinel` or `redis-sentinel`) with `args` in the
/// current directory `cwd` (where the test wrote the config; stderr goes to
/// `cwd/stderr.txt`), holding `dir` as long as the process; its log is
/// `log`. Returns once `port` answers.
pub fn sentinel_in(
    which: &str,
    cwd: &Path,
    dir: tempfile::TempDir,
    args: &[String],
    port: u16,
    log: PathBuf,
) -> Proc {
    let mut p = Proc {
        name: which.to_string(),
        port,
        dir,
        log,
        child: Some(spawn_child(&sentinel_program(which), args, cwd)),
    };
    p.wait_ready(Duration::from_secs(10));
    p
}

impl Proc {
    /// Kills this sentinel and starts it again with `args` from another
    /// current directory `cwd` (its stderr goes to `cwd/stderr.txt`).
    pub fn restart_from(&mut self, cwd: &Path, args: &[String]) {
        self.kill();
        let program = sentinel_program(&self.name);
        self.child = Some(spawn_child(&program, args, cwd));
        self.wait_ready(Duration::from_secs(10));
    }
}

/// The real `redis-sentinel` with `body` appended to its config.
pub fn redis_sentinel(body: &str) -> Proc {
    sentinel("redis-sentinel", &require_binary("redis-sentinel"), body)
}

/// A sentinel (`bin`) started under `prlimit --nofile=N:N`, so only its
/// own open-files limit is lowered, never the test process's.
fn sentinel_with_nofile(name: &str, bin: &Path, body: &str, nofile: u64) -> Proc {
    let (dir, port, log, conf) = sentinel_dir(body);
    let args = vec![
        format!("--nofile={nofile}:{nofile}"),
        bin.display().to_string(),
        conf.display().to_string(),
    ];
    let mut p = spawn(name, &require_binary("prlimit"), &args, dir, port, log);
    p.wait_ready(Duration::from_secs(10));
    p
}

/// rsentinel with an open-files limit of `nofile` (soft and hard).
pub fn rsentinel_with_nofile(body: &str, nofile: u64) -> Proc {
    sentinel_with_nofile("rsentinel", &rsentinel_bin(), body, nofile)
}

/// redis-sentinel with an open-files limit of `nofile` (soft and hard).
pub fn redis_sentinel_with_nofile(body: &str, nofile: u64) -> Proc {
    sentinel_with_nofile(
        "redis-sentinel",
        &require_binary("redis-sentinel"),
        body,
        nofile,
    )
}

/// `GET path` on loopback `port`: (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}
