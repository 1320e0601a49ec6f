//! End-to-end TLS: rsentinel on `tls-port` (alone with `port 0`, or beside
//! a plain port) serves clients over TLS, requires client certificates as
//! `tls-auth-clients` says, and with `tls-replication yes` monitors a real
//! TLS-only redis-server and its replica. Certificates are made at test time
//! with the openssl CLI.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rsentinel::resp::encode::encode_command;
use rsentinel::resp::reply_parse::ReplyParser;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use support::*;

/// A CA and one leaf certificate (for 127.0.0.1, good for server and
/// client auth) that every process here uses, in a temp dir.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn ca(&self) -> String {
        self.file("ca.crt")
    }
    fn cert(&self) -> String {
        self.file("leaf.crt")
    }
    fn key(&self) -> String {
        self.file("leaf.key")
    }
    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The `tls-*` arguments for a redis-server command line.
    fn redis_args(&self) -> Vec<String> {
        vec![
            "--tls-cert-file".into(),
            self.cert(),
            "--tls-key-file".into(),
            self.key(),
            "--tls-ca-cert-file".into(),
            self.ca(),
            "--tls-replication".into(),
            "yes".into(),
        ]
    }

    /// The `tls-*` lines for a sentinel config.
    fn config_lines(&self) -> String {
        format!(
            "tls-cert-file \"{}\"\ntls-key-file \"{}\"\ntls-ca-cert-file \"{}\"\n",
            self.cert(),
            self.key(),
            self.ca()
        )
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let bin = require_binary("openssl");
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_certs() -> Certs {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca = vec!["req", "-x509", "-new", "-nodes"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=rsentinel test CA",
    ]);
    openssl(d, &ca);
    let mut csr = vec!["req", "-new", "-nodes"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=rsentinel test leaf",
    ]);
    openssl(d, &csr);
    std::fs::write(
        d.join("leaf.ext"),
        "basicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth,clientAuth\n\
         subjectAltName=IP:127.0.0.1\n",
    )
    .expect("write leaf.ext");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.crt",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    Certs { dir }
}

/// A synchronous RESP client over TLS (rustls's blocking stream).
struct TlsClient {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: BytesMut,
    parser: ReplyParser,
}

impl TlsClient {
    /// Connects to 127.0.0.1:`port`, trusting `certs`' CA and presenting
    /// its leaf certificate when `with_cert`.
    fn connect(port: u16, certs: &Certs, with_cert: bool) -> std::io::Result<TlsClient> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(certs.ca()).expect("read ca.crt") {
            roots.add(c.expect("CA PEM")).expect("add CA");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
        let config = if with_cert {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certs.cert())
                .expect("read leaf.crt")
                .map(|c| c.expect("leaf PEM"))
                .collect();
            let key = PrivateKeyDer::from_pem_file(certs.key()).expect("read leaf.key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client cert")
        } else {
            builder.with_no_client_auth()
        };
        let name = ServerName::try_from("127.0.0.1").expect("IP server name");
        let conn =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
        let sock = TcpStream::connect(("127.0.0.1", port))?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(TlsClient {
            stream: rustls::StreamOwned::new(conn, sock),
            buf: BytesMut::new(),
            parser: ReplyParser::new(),
        })
    }

    fn cmd(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        let mut out = BytesMut::new();
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode_command(&refs, &mut out);
        self.stream.write_all(&out)?;
        self.stream.flush()?;
        loop {
            match self.parser.parse(&mut self.buf) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One command on a fresh TLS connection; `None` when nothing answers.
fn tls_query(port: u16, certs: &Certs, with_cert: bool, args: &[&str]) -> Option<Reply> {
    TlsClient::connect(port, certs, with_cert)
        .ok()?
        .cmd(args)
        .ok()
}

fn is_pong(r: &Option<Reply>) -> bool {
    matches!(r, Some(Reply::Simple(s)) if s == "PONG")
}

/// A process listening on TLS only, so the plain-PING readiness of the
/// shared fixtures does not apply; killed (only it) on drop.
struct TlsProc {
    name: &'static str,
    port: u16,
    log: PathBuf,
    dir: tempfile::TempDir,
    child: Child,
}

impl TlsProc {
    /// Starts `program` in `dir`; `log` is where it was told to log.
    fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        port: u16,
        dir: tempfile::TempDir,
        log: PathBuf,
    ) -> TlsProc {
        let child = Command::new(program)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("stderr.txt")).expect("stderr file"),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        TlsProc {
            name,
            port,
            log,
            dir,
            child,
        }
    }

    fn wait_ready(&self, certs: &Certs) {
        let port = self.port;
        assert!(
            wait_until(Duration::from_secs(10), || is_pong(&tls_query(
                port,
                certs,
                true,
                &["PING"]
            ))),
            "{} did not answer PING over TLS on port {port}",
            self.name
        );
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// Waits for the process to exit by itself; its exit code.
    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let mut code = None;
        wait_until(timeout, || match self.child.try_wait() {
            Ok(Some(status)) => {
                code = Some(status.code().unwrap_or(-1));
                true
            }
            _ => false,
        });
        code
    }
}

impl Drop for TlsProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("---- last lines of {} (port {}) ----", self.name, self.port);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS-only redis-server (`port 0`), optionally a replica of `master`.
fn tls_redis(certs: &Certs, replica_of: Option<u16>) -> TlsProc {
    let port = free_port();
    let bin = require_binary("redis-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("redis.log");
    let mut args: Vec<String> = [
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync-delay",
        "0",
        "--dir",
        &dir.path().display().to_string(),
        "--logfile",
        &log.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(certs.redis_args());
    if let Some(master) = replica_of {
        args.extend(["--replicaof".into(), "127.0.0.1".into(), master.to_string()]);
    }
    let p = TlsProc::spawn("redis-server", &bin, &args, port, dir, log);
    p.wait_ready(certs);
    p
}

/// rsentinel with `body` as its whole config (plus the log file), not
/// waited for.
fn spawn_rsentinel(body: &str, port: u16) -> TlsProc {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rsentinel"));
    spawn_sentinel("rsentinel", &bin, body, port)
}

/// A sentinel binary with `body` (plus the log file) as its config.
fn spawn_sentinel(name: &'static str, bin: &Path, body: &str, port: u16) -> TlsProc {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("sentinel.log");
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, format!("logfile \"{}\"\n{body}", log.display()))
        .expect("write sentinel.conf");
    let args = [conf.display().to_string()];
    TlsProc::spawn(name, bin, &args, port, dir, log)
}

#[test]
fn a_tls_only_sentinel_monitors_a_tls_only_master_and_its_replica() {
    let certs = make_certs();
    let master = tls_redis(&certs, None);
    let replica = tls_redis(&certs, Some(master.port));
    let port = free_port();
    let body = format!(
        "port 0\nbind 127.0.0.1\ntls-port {port}\ntls-replication yes\n{}\
         sentinel monitor mymaster 127.0.0.1 {} 1\n\
         sentinel down-after-milliseconds mymaster 2000\n",
        certs.config_lines(),
        master.port
    );
    let sentinel = spawn_rsentinel(&body, port);
    sentinel.wait_ready(&certs);

    // INFO over the TLS link refreshed the master and found the replica.
    let mut state = None;
    let ok = wait_until(Duration::from_secs(20), || {
        state = tls_query(port, &certs, true, &["SENTINEL", "MASTER", "mymaster"]);
        let Some(r) = &state else { return false };
        let refresh: i64 = field(r, "info-refresh")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        refresh != 0 && field(r, "num-slaves").as_deref() == Some("1")
    });
    let seen = state.as_ref().map(fields);
    assert!(ok, "master never refreshed over TLS: {seen:?}");
    let r = state.expect("a reply");
    assert_eq!(field(&r, "flags").as_deref(), Some("master"), "{r:?}");
    let replicas = tls_query(port, &certs, true, &["SENTINEL", "REPLICAS", "mymaster"])
        .expect("SENTINEL REPLICAS answers");
    let Reply::Array(list) = &replicas else {
        panic!("SENTINEL REPLICAS: {replicas:?}");
    };
    assert_eq!(list.len(), 1, "{replicas:?}");
    assert_eq!(
        field(&list[0], "port"),
        Some(replica.port.to_string()),
        "{replicas:?}"
    );

    // The TLS port speaks no clear RESP.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).expect("connect in clear");
    plain
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    plain.write_all(b"PING\r\n").expect("write in clear");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !String::from_utf8_lossy(&got).contains("+PONG"),
        "clear PING on the TLS port answered: {got:?}"
    );
    // A failed handshake closed only that connection.
    assert!(is_pong(&tls_query(port, &certs, true, &["PING"])));
}

/// A TLS-only rsentinel of `master`, ready.
fn tls_sentinel(certs: &Certs, master: u16) -> TlsProc {
    tls_sentinel_of(
        "rsentinel",
        &PathBuf::from(env!("CARGO_BIN_EXE_rsentinel")),
        certs,
        master,
    )
}

/// A TLS-only sentinel (`bin`) of `master`, ready.
fn tls_sentinel_of(name: &'static str, bin: &Path, certs: &Certs, master: u16) -> TlsProc {
    let port = free_port();
    let body = format!(
        "port 0\nbind 127.0.0.1\ntls-port {port}\ntls-replication yes\n{}\
         sentinel monitor mymaster 127.0.0.1 {master} 2\n\
         sentinel down-after-milliseconds mymaster 2000\n",
        certs.config_lines(),
    );
    let s = spawn_sentinel(name, bin, &body, port);
    s.wait_ready(certs);
    s
}

#[test]
fn tls_sentinels_announce_their_tls_port_and_link_to_each_other_over_tls() {
    let certs = make_certs();
    let master = tls_redis(&certs, None);
    let a = tls_sentinel(&certs, master.port);
    let b = tls_sentinel(&certs, master.port);
    assert_linked_peers(&certs, &a, &b);
}

#[test]
fn rsentinel_and_the_real_redis_sentinel_link_to_each_other_over_tls() {
    let certs = make_certs();
    let master = tls_redis(&certs, None);
    let real = require_binary("redis-sentinel");
    let theirs = tls_sentinel_of("redis-sentinel", &real, &certs, master.port);
    let ours = tls_sentinel(&certs, master.port);
    assert_linked_peers(&certs, &ours, &theirs);
}

/// Each of `a` and `b` knows the other at the tls-port it announced, with
/// pings answered over a direct TLS link.
fn assert_linked_peers(certs: &Certs, a: &TlsProc, b: &TlsProc) {
    // Hellos travel through the TLS master, so discovery alone proves
    // little; a peer entry is fresh when made, so it must also still be
    // answering pings (and not be SDOWN) well past down-after-milliseconds.
    const LINK_PROOF: Duration = Duration::from_millis(3000);
    for (me, peer) in [(a, b), (b, a)] {
        let mut last = None;
        let mut healthy = || {
            last = tls_query(me.port, certs, true, &["SENTINEL", "SENTINELS", "mymaster"]);
            let Some(Reply::Array(list)) = &last else {
                return false;
            };
            list.len() == 1
                && field(&list[0], "port") == Some(peer.port.to_string())
                && field(&list[0], "flags").as_deref() == Some("sentinel")
                && field(&list[0], "last-ok-ping-reply")
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|ms| ms < 1500)
        };
        let discovered = wait_until(Duration::from_secs(20), &mut healthy);
        let since = std::time::Instant::now();
        let linked = discovered
            && wait_until(Duration::from_secs(10), || {
                since.elapsed() >= LINK_PROOF && healthy()
            });
        let seen: Option<Vec<_>> = match &last {
            Some(Reply::Array(list)) => Some(list.iter().map(fields).collect()),
            _ => None,
        };
        assert!(
            linked,
            "sentinel on {} never linked to its peer over TLS: {seen:?}",
            me.port
        );
    }
}

#[test]
fn tls_auth_clients_yes_refuses_a_client_without_a_certificate() {
    let certs = make_certs();
    let port = free_port();
    let body = format!(
        "port 0\nbind 127.0.0.1\ntls-port {port}\n{}",
        certs.config_lines()
    );
    let sentinel = spawn_rsentinel(&body, port);
    sentinel.wait_ready(&certs);
    assert!(!is_pong(&tls_query(port, &certs, false, &["PING"])));
    assert!(is_pong(&tls_query(port, &certs, true, &["PING"])));
}

#[test]
fn a_sentinel_with_port_and_tls_port_serves_both() {
    let certs = make_certs();
    let tls_port = free_port();
    let mut ours = rsentinel(&format!(
        "tls-port {tls_port}\ntls-auth-clients optional\n{}",
        certs.config_lines()
    ));
    assert!(is_pong(&query(ours.port, &["PING"])));
    // optional: no certificate is fine, a valid one too.
    assert!(is_pong(&tls_query(tls_port, &certs, false, &["PING"])));
    let mut c = TlsClient::connect(tls_port, &certs, true).expect("TLS connect");
    assert!(is_pong(&c.cmd(&["PING"]).ok()));
    // Same dispatch as a plain connection: the TLS client is listed. Only
    // its own line is looked at: the connections of the steps above close
    // on the server's side at their own pace and may still be listed.
    let Some(Reply::Int(id)) = c.cmd(&["CLIENT", "ID"]).ok() else {
        panic!("CLIENT ID over TLS")
    };
    let list = c.cmd(&["CLIENT", "LIST"]).expect("CLIENT LIST");
    let mine: Vec<String> = text(&list)
        .lines()
        .filter(|l| l.starts_with(&format!("id={id} ")))
        .map(String::from)
        .collect();
    assert_eq!(mine.len(), 1, "{list:?}");
    assert!(mine[0].contains(" cmd=client|list"), "{}", mine[0]);
    assert!(ours.is_running());
}

#[test]
fn an_unreadable_certificate_is_fatal_at_start_up() {
    let certs = make_certs();
    let port = free_port();
    let missing = certs.file("nope.crt");
    let body = format!(
        "port 0\nbind 127.0.0.1\ntls-port {port}\ntls-cert-file \"{missing}\"\n\
         tls-key-file \"{}\"\ntls-ca-cert-file \"{}\"\n",
        certs.key(),
        certs.ca()
    );
    let mut sentinel = spawn_rsentinel(&body, port);
    let code = sentinel.wait_exit(Duration::from_secs(10));
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    let err = sentinel.stderr();
    assert!(err.contains("Failed to configure TLS"), "stderr: {err}");
    assert!(err.contains(&missing), "stderr: {err}");
}

#[test]
fn port_0_without_tls_port_refuses_to_start() {
    let port = free_port();
    let mut sentinel = spawn_rsentinel("port 0\nbind 127.0.0.1\n", port);
    let code = sentinel.wait_exit(Duration::from_secs(10));
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    assert!(
        sentinel.stderr().contains("not listen anywhere"),
        "stderr: {}",
        sentinel.stderr()
    );
}
