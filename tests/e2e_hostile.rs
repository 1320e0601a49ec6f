//! No input from the network can stop a sentinel: a fake master, a fake
//! replica registered with a real master, and a fake peer sentinel send
//! malformed, oversized, deeply nested, non-UTF-8 and multibyte INFO
//! fields, replies, pushes and hellos. Afterwards the sentinel still
//! monitors the real master, restarts on its rewritten config (which also
//! loads in redis-sentinel) and still fails the real master over. And a
//! panic anywhere ends the process instead of leaving a zombie.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::*;

/// A run id whose 40th byte falls inside a two-byte character.
fn split_run_id() -> String {
    format!("{}\u{e9}{}", "a".repeat(39), "b".repeat(10))
}

/// Raw replies a hostile instance sends, one per request, in turn.
fn hostile_replies(fake_port: u16) -> Vec<Vec<u8>> {
    let info = |body: &[u8]| {
        let mut out = format!("${}\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    };
    let mut evil_info = format!(
        "# Server\r\nrun_id:{}\r\nrole:master\r\n\
         slave0:ip=evil host,port=6380,state=online,offset=0,lag=0\r\n\
         slave1:ip=127.0.0.1,port=99999,state=online,offset=0,lag=0\r\n\
         slave2:ip=127.0.0.1,port=0,state=online,offset=0,lag=0\r\n\
         slave3:ip=\u{e9}\u{1F600},port=7,state=online\r\n\
         slave4:garbage\r\nslave:ip=1.2.3.4,port=5\r\nslave99999999999999999999:x\r\n\
         master_link_down_since_seconds:99999999999999999999\r\n\
         slave_priority:-99999999999999999999\r\nslave_repl_offset:18446744073709551616\r\n",
        split_run_id()
    )
    .into_bytes();
    evil_info.extend_from_slice(b"slave5:ip=\xff\xfe,port=6381,state=online\r\n\xff\xfe:\xc3\r\n");
    let huge_info = {
        let mut b = b"role:master\r\n".to_vec();
        while b.len() < 2 << 20 {
            b.extend_from_slice(b"field_with_a_long_name:value value value value\r\n");
        }
        b
    };
    let replica_info = format!(
        "run_id:{}\r\nrole:slave\r\nmaster_host:evil host\r\nmaster_port:99999\r\n\
         master_link_status:up\r\nslave_priority:abc\r\nreplica_announced:1\r\n",
        split_run_id()
    );
    vec![
        info(&evil_info),
        info(&huge_info),
        info(replica_info.as_bytes()),
        // Deep nesting, as one reply.
        {
            let mut b = b"*1\r\n".repeat(200_000);
            b.extend_from_slice(b":1\r\n");
            b
        },
        // A RESP3 push frame before the real reply.
        {
            let mut b = b">3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n$3\r\nabc\r\n".to_vec();
            b.extend_from_slice(&info(&evil_info));
            b
        },
        b"-ERR \xc3\xa9\xff\xfe broken\r\n".to_vec(),
        b":99999999999999999999999\r\n".to_vec(),
        b"%1\r\n+run_id\r\n+x\r\n".to_vec(),
        b"$-5\r\n".to_vec(),
        b"=15\r\ntxt:role:master\r\n".to_vec(),
        format!("+PONG\r\n$-1\r\n*-1\r\n_\r\n,inf\r\n#t\r\n(12345678901234567890123\r\n:{fake_port}\r\n")
            .into_bytes(),
        // Oversized length header, then garbage: the link must be dropped.
        b"$99999999999\r\nxx".to_vec(),
        b"\x00\xffnot resp at all\r\n".to_vec(),
    ]
}

/// Hellos a fake peer publishes; none may change anything.
fn hostile_hellos(peer_port: u16) -> Vec<Vec<u8>> {
    let runid = "f".repeat(40);
    let mut v: Vec<Vec<u8>> = [
        format!("not-an-ip,{peer_port},{runid},1,real,127.0.0.1,1,1"),
        format!("127.0.0.1,{peer_port},{runid},1,real,evil host,6379,99"),
        format!(
            "127.0.0.1,{peer_port},{runid},{},fake,127.0.0.1,6379,0",
            u64::MAX
        ),
        format!(
            "127.0.0.1,{peer_port},{runid},1,real,127.0.0.1,6379,{}",
            u64::MAX
        ),
        format!("127.0.0.1,0,{runid},1,fake,127.0.0.1,6379,0"),
        format!(
            "127.0.0.1,{peer_port},{},1,fake,127.0.0.1,6379,0",
            split_run_id()
        ),
        format!("127.0.0.1,{peer_port},has space,1,fake,127.0.0.1,6379,0"),
        format!("\u{e9},{peer_port},{runid},1,fake,127.0.0.1,6379,0"),
        "a,b,c".into(),
        ",,,,,,,".into(),
        format!("127.0.0.1,{peer_port},{runid},-1,fake,127.0.0.1,6379,-1"),
        "x".repeat(1 << 20),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let mut bad_master = format!("127.0.0.1,{peer_port},{runid},1,fake,").into_bytes();
    bad_master.extend_from_slice(b"\xff\xfe,6379,0");
    v.push(bad_master);
    let mut raw = b"127.0.0.1,1,".to_vec();
    raw.extend_from_slice(&[0xff, 0xfe, 0x80]);
    raw.extend_from_slice(b",1,fake,127.0.0.1,6379,0");
    v.push(raw);
    v
}

/// A fake Redis instance (or sentinel): answers every command with the
/// next hostile reply, and SUBSCRIBE with a confirmation followed by
/// hostile pub/sub messages. Stops when dropped.
struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let (stop2, served2) = (Arc::clone(&stop), Arc::clone(&served));
        let accept = std::thread::spawn(move || {
            let replies = Arc::new(hostile_replies(port));
            let mut conns = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (stop, served, replies) = (
                            Arc::clone(&stop2),
                            Arc::clone(&served2),
                            Arc::clone(&replies),
                        );
                        conns.push(std::thread::spawn(move || {
                            serve_hostile(s, &replies, &stop, &served)
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            stop2.store(true, Ordering::Relaxed);
            for c in conns {
                let _ = c.join();
            }
        });
        FakeServer {
            port,
            stop,
            served,
            accept: Some(accept),
        }
    }

    fn served(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

/// Reads one command (multibulk or inline); `None` on EOF, error or stop.
fn read_command(r: &mut BufReader<TcpStream>, stop: &AtomicBool) -> Option<Vec<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        match r.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&line).trim_end().to_string();
    let Some(n) = text.strip_prefix('*') else {
        return Some(text.split(' ').map(|w| w.as_bytes().to_vec()).collect());
    };
    let n: usize = n.parse().ok()?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let mut hdr = Vec::new();
        r.read_until(b'\n', &mut hdr).ok()?;
        let len: usize = String::from_utf8_lossy(&hdr[1..]).trim().parse().ok()?;
        let mut data = vec![0u8; len + 2];
        r.read_exact(&mut data).ok()?;
        data.truncate(len);
        args.push(data);
    }
    Some(args)
}

fn serve_hostile(s: TcpStream, replies: &[Vec<u8>], stop: &AtomicBool, served: &AtomicUsize) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut w = match s.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(s);
    while let Some(args) = read_command(&mut r, stop) {
        let cmd = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default();
        let out: Vec<u8> = match cmd.as_str() {
            "subscribe" => {
                let mut b =
                    b"*3\r\n$9\r\nsubscribe\r\n$18\r\n__sentinel__:hello\r\n:1\r\n".to_vec();
                for hello in hostile_hellos(1) {
                    b.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n");
                    b.extend_from_slice(format!("${}\r\n", hello.len()).as_bytes());
                    b.extend_from_slice(&hello);
                    b.extend_from_slice(b"\r\n");
                }
                // Messages of the wrong shapes.
                b.extend_from_slice(b"*2\r\n$7\r\nmessage\r\n:1\r\n");
                b.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n*1\r\n*1\r\n:1\r\n:5\r\n");
                b.extend_from_slice(b"*3\r\n:1\r\n:2\r\n:3\r\n+hello\r\n");
                b
            }
            _ => {
                let i = served.fetch_add(1, Ordering::Relaxed);
                replies[i % replies.len()].clone()
            }
        };
        if w.write_all(&out).is_err() {
            return;
        }
    }
}

/// A fake replica: registers `listening_port` with the real master over
/// the replication protocol (no credentials needed) and drains what the
/// master streams, until dropped.
struct FakeReplication {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeReplication {
    fn register(master_port: u16, listening_port: u16) -> FakeReplication {
        let mut s = TcpStream::connect(("127.0.0.1", master_port)).expect("connect master");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // PSYNC is refused while a reply is pending: one step at a time.
        s.write_all(format!("REPLCONF listening-port {listening_port}\r\n").as_bytes())
            .expect("REPLCONF");
        let mut ok = [0u8; 5];
        s.read_exact(&mut ok).expect("REPLCONF reply");
        assert_eq!(&ok, b"+OK\r\n");
        s.write_all(b"PSYNC ? -1\r\n").expect("PSYNC");
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut buf = [0u8; 16 * 1024];
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match s.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        });
        FakeReplication {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeReplication {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn master_flags(port: u16, name: &str) -> String {
    query(port, &["SENTINEL", "MASTER", name])
        .and_then(|r| field(&r, "flags"))
        .unwrap_or_default()
}

fn master_addr(port: u16, name: &str) -> Option<(String, String)> {
    match query(port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])? {
        Reply::Array(a) if a.len() == 2 => Some((text(&a[0]), text(&a[1]))),
        _ => None,
    }
}

/// Publishes `payload` as a hello straight to the sentinel, in raw RESP
/// (so it may hold any bytes); the reply is whatever the sentinel says.
fn publish_raw(port: u16, payload: &[u8]) -> Reply {
    let mut c = Client::connect(port).expect("connect sentinel");
    let mut req = b"*3\r\n$7\r\nPUBLISH\r\n$18\r\n__sentinel__:hello\r\n".to_vec();
    req.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
    req.extend_from_slice(payload);
    req.extend_from_slice(b"\r\n");
    c.send_raw(&req).expect("send");
    c.read().expect("reply to PUBLISH")
}

#[test]
fn hostile_instances_and_peers_cannot_stop_a_sentinel() {
    let master = redis_server(&[]);
    let replica = redis_replica(&master);
    let fake_master = FakeServer::start();
    let fake_replica = FakeServer::start();
    let fake_peer = FakeServer::start();
    let _registered = FakeReplication::register(master.port, fake_replica.port);

    let mut s = rsentinel(&format!(
        "sentinel monitor real 127.0.0.1 {} 1\n\
         sentinel down-after-milliseconds real 1000\n\
         sentinel failover-timeout real 5000\n\
         sentinel monitor fake 127.0.0.1 {} 1\n\
         sentinel down-after-milliseconds fake 1000\n",
        master.port, fake_master.port
    ));

    // The fake peer introduces itself with a valid hello for the fake
    // master, so the sentinel connects to it and reads its replies too.
    let peer_hello = format!(
        "127.0.0.1,{},{},0,fake,127.0.0.1,{},0",
        fake_peer.port,
        "f".repeat(40),
        fake_master.port
    );
    assert_eq!(publish_raw(s.port, peer_hello.as_bytes()), Reply::Int(1));
    for hello in hostile_hellos(fake_peer.port) {
        assert_eq!(publish_raw(s.port, &hello), Reply::Int(1));
    }
    // Hostile vote requests.
    for (ip, port, epoch, runid) in [
        ("127.0.0.1", "6379", "99999999999999999999", "x"),
        ("\u{e9}", "1", "1", "\u{e9}\u{1F600}"),
        ("127.0.0.1", "-1", "-5", ""),
    ] {
        let r = query(
            s.port,
            &["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", ip, port, epoch, runid],
        );
        assert!(r.is_some(), "the sentinel answers a malformed vote request");
    }

    // Let every fake serve a good part of its repertoire (each instance
    // is asked PING every second and INFO every 10 s, peers PING + hello).
    let replies = hostile_replies(0).len();
    assert!(
        wait_until(Duration::from_secs(40), || fake_master.served() >= replies
            && fake_replica.served() >= replies
            && fake_peer.served() >= replies),
        "the fakes were asked: master {}, replica {}, peer {}",
        fake_master.served(),
        fake_replica.served(),
        fake_peer.served()
    );
    assert!(s.is_running(), "the sentinel survived");
    assert_eq!(query(s.port, &["PING"]), Some(Reply::Simple("PONG".into())));
    assert_eq!(master_flags(s.port, "real"), "master");
    assert_eq!(
        master_addr(s.port, "real"),
        Some(("127.0.0.1".into(), master.port.to_string()))
    );
    // The forged hellos taught it nothing: no peer of the real master,
    // and the current epoch was not pushed to the end of the range.
    let real = query(s.port, &["SENTINEL", "MASTER", "real"]).expect("MASTER real");
    assert_eq!(field(&real, "num-other-sentinels").as_deref(), Some("0"));
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).expect("config");
    let epoch: u64 = conf
        .lines()
        .find_map(|l| l.strip_prefix("sentinel current-epoch "))
        .and_then(|e| e.trim().parse().ok())
        .unwrap_or(0);
    assert!(epoch < 1000, "current epoch {epoch}");
    assert!(s.log_text().contains("Failed to resolve hostname"));

    // Stop the fakes (the fake replica must not be a candidate), then the
    // sentinel must restart on the config it rewrote...
    drop(_registered);
    drop(fake_replica);
    drop(fake_master);
    drop(fake_peer);
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).expect("config");
    assert!(
        !conf.contains("evil"),
        "no forged address persisted:\n{conf}"
    );
    s.restart_rsentinel();
    assert_eq!(master_flags(s.port, "real"), "master");

    // ...and its file loads in redis-sentinel too.
    let copy = tempfile::tempdir().expect("tempdir");
    let copy_conf = copy.path().join("sentinel.conf");
    std::fs::write(&copy_conf, &conf).expect("copy config");
    let oracle_port = free_port();
    let mut oracle = std::process::Command::new(require_binary("redis-sentinel"))
        .arg(&copy_conf)
        .args(["--port", &oracle_port.to_string(), "--logfile", ""])
        .current_dir(copy.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn redis-sentinel");
    let loaded = wait_until(Duration::from_secs(10), || {
        query(oracle_port, &["PING"]) == Some(Reply::Simple("PONG".into()))
    });
    let _ = oracle.kill();
    let out = oracle.wait_with_output().expect("reap redis-sentinel");
    assert!(
        loaded,
        "redis-sentinel refused our file: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A real failover of the real master still works.
    assert!(
        wait_until(Duration::from_secs(20), || {
            query(s.port, &["SENTINEL", "MASTER", "real"])
                .and_then(|r| field(&r, "num-slaves"))
                .is_some_and(|n| n.parse::<u32>().unwrap_or(0) >= 1)
        }),
        "the real replica is known again"
    );
    let mut answer = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            answer = query(s.port, &["SENTINEL", "FAILOVER", "real"]);
            answer == Some(Reply::Simple("OK".into()))
        }),
        "SENTINEL FAILOVER real: {answer:?}"
    );
    assert!(
        wait_until(Duration::from_secs(30), || master_addr(s.port, "real")
            == Some(("127.0.0.1".into(), replica.port.to_string()))),
        "the real replica was promoted; log:\n{}",
        s.log_text()
    );
}

#[test]
fn a_panic_in_the_driver_ends_the_process() {
    let master = redis_server(&[]);
    let mut s = rsentinel_started(
        &format!("sentinel monitor m 127.0.0.1 {} 1\n", master.port),
        &[],
        &[("RSENTINEL_DEBUG_DRIVER_PANIC_AFTER_MS", "500")],
    );
    s.wait_ready(Duration::from_secs(10));
    let code = s.wait_exit(Duration::from_secs(20));
    assert!(
        code.is_some_and(|c| c != 0),
        "the process exits with a failure status, got {code:?}"
    );
    assert!(s.log_text().contains("PANIC"), "log:\n{}", s.log_text());
    assert_eq!(query(s.port, &["PING"]), None, "nothing answers any more");
}
