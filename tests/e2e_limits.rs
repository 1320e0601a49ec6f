//! Resource limits with real processes: the open-files limit and
//! `maxclients`, idle-client `timeout`, `tcp-keepalive`, the query and
//! pub/sub output buffer limits, and links that stay healthy whatever the
//! network sends (push frames from an instance included).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

const MAX_CLIENTS_ERROR: &[u8] = b"-ERR max number of clients reached\r\n";

/// Monitoring of one master with a down-after far above any scheduling
/// hiccup of a loaded test machine.
fn monitor(master_port: u16) -> String {
    format!(
        "sentinel monitor mymaster 127.0.0.1 {master_port} 1\n\
         sentinel down-after-milliseconds mymaster 3000\n"
    )
}

fn master_field(c: &mut Client, name: &str) -> String {
    c.cmd(&["SENTINEL", "MASTER", "mymaster"])
        .ok()
        .and_then(|r| field(&r, name))
        .unwrap_or_default()
}

fn info_field(port: u16, section: &str, name: &str) -> Option<String> {
    let text = text(&query(port, &["INFO", section])?);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

/// The log lines about the open-files limit, without the pid/time prefix.
fn fd_limit_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("maxclients") || l.contains("maximum open files"))
        .filter_map(|l| l.split_once(" # ").map(|(_, msg)| msg.to_string()))
        .collect()
}

/// Sentinel's outbound links as the master sees them (`sentinel-…` names).
fn sentinel_links_on(master: u16) -> usize {
    query(master, &["CLIENT", "LIST"])
        .map(|r| text(&r).matches("name=sentinel-").count())
        .unwrap_or(0)
}

#[test]
fn low_open_files_limit_lowers_maxclients_and_links_outlive_a_client_flood() {
    let master = redis_server(&[]);
    // The oracle monitors nothing, so that it neither links to rsentinel
    // (taking one of its client slots) nor to the master.
    let oracle = redis_sentinel_with_nofile("", 64);
    let s = rsentinel_with_nofile(&monitor(master.port), 64);

    // Redis's arithmetic and wording: 64 - 32 reserved descriptors.
    let maxclients = info_field(s.port, "clients", "maxclients");
    assert_eq!(maxclients.as_deref(), Some("32"));
    assert_eq!(maxclients, info_field(oracle.port, "clients", "maxclients"));
    let ours = fd_limit_lines(&s.log_text());
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert_eq!(ours, fd_limit_lines(&oracle.log_text()));
    // The flush writes the reduced value, as Redis's rewrite does.
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(s.path("sentinel.conf"))
            .is_ok_and(|c| c.contains("\nmaxclients 32\n"))
    }));

    let mut ctl = Client::connect(s.port).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        master_field(&mut ctl, "role-reported") == "master"
    }));
    // 31 slots are left besides `ctl`; 80 idle clients: 49 are refused.
    let mut flood: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); flood.len()];
    for c in &flood {
        c.set_nonblocking(true).unwrap();
    }
    let refused = |got: &[Vec<u8>]| got.iter().filter(|g| *g == MAX_CLIENTS_ERROR).count();
    assert!(
        wait_until(Duration::from_secs(10), || {
            for (c, g) in flood.iter_mut().zip(got.iter_mut()) {
                let mut buf = [0u8; 64];
                if let Ok(n) = c.read(&mut buf) {
                    g.extend_from_slice(&buf[..n]);
                }
            }
            refused(&got) == 49
        }),
        "refused: {}",
        refused(&got)
    );
    let kept: Vec<TcpStream> = flood
        .into_iter()
        .zip(&got)
        .filter(|(_, g)| g.is_empty())
        .map(|(c, _)| c)
        .collect();
    assert_eq!(kept.len(), 31);
    for mut c in kept.iter().take(3) {
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+PONG\r\n");
    }

    // Break both links: the sentinel must reconnect while every client
    // slot is taken, and the healthy master must never look down.
    assert!(wait_until(Duration::from_secs(5), || sentinel_links_on(
        master.port
    ) == 2));
    query(master.port, &["CLIENT", "KILL", "TYPE", "normal"]).unwrap();
    query(master.port, &["CLIENT", "KILL", "TYPE", "pubsub"]).unwrap();
    assert!(wait_until(Duration::from_secs(5), || sentinel_links_on(
        master.port
    ) == 2));
    let went_down = wait_until(Duration::from_secs(3), || {
        master_field(&mut ctl, "flags").contains("s_down")
    });
    assert!(!went_down, "the healthy master was seen down");
    let log = s.log_text();
    assert!(!log.contains("+sdown"), "{log}");
    // The refusals kept descriptors free: accept never ran out of them.
    assert!(!log.contains("Too many open files"), "{log}");
    drop(kept);
}

/// A fake master: answers every command, and sends a RESP3 push frame
/// before each PING and INFO reply, as a server with client tracking
/// might.
struct FakeInstance {
    port: u16,
    stop: Arc<AtomicBool>,
}

const FAKE_RUN_ID: &str = "0123456789abcdef0123456789abcdef01234567";
const PUSH: &[u8] = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n";

impl FakeInstance {
    fn start() -> FakeInstance {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        std::thread::spawn(move || serve_fake(conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeInstance { port, stop }
    }
}

impl Drop for FakeInstance {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one multibulk request; `None` at EOF or on anything else.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::new();
    for _ in 0..n.min(64) {
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut arg = vec![0u8; len.min(1 << 20) + 2];
        r.read_exact(&mut arg).ok()?;
        arg.truncate(len);
        args.push(String::from_utf8_lossy(&arg).into_owned());
    }
    Some(args)
}

fn serve_fake(conn: TcpStream) {
    conn.set_nodelay(true).ok();
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    while let Some(args) = read_request(&mut r) {
        let name = args
            .first()
            .map(|a| a.to_ascii_uppercase())
            .unwrap_or_default();
        let reply: Vec<u8> = match name.as_str() {
            "PING" => [PUSH, b"+PONG\r\n"].concat(),
            "INFO" => {
                let info = format!(
                    "# Server\r\nrun_id:{FAKE_RUN_ID}\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
                );
                [PUSH, format!("${}\r\n{info}\r\n", info.len()).as_bytes()].concat()
            }
            "SUBSCRIBE" => {
                let ch = args.get(1).cloned().unwrap_or_default();
                format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len()).into_bytes()
            }
            "PUBLISH" => b":1\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        };
        if out.write_all(&reply).is_err() {
            return;
        }
    }
}

#[test]
fn push_frames_on_a_command_link_are_not_taken_for_replies() {
    let fake = FakeInstance::start();
    let s = rsentinel(&monitor(fake.port));
    let mut ctl = Client::connect(s.port).unwrap();
    // INFO is only understood if its reply is paired with INFO, not with
    // the push frame before the PING reply.
    assert!(wait_until(Duration::from_secs(10), || {
        master_field(&mut ctl, "runid") == FAKE_RUN_ID
    }));
    // A PONG paired with its PING clears the pending ping; paired with
    // the push frame instead, the PING would stay pending for ever.
    assert!(wait_until(Duration::from_secs(10), || {
        master_field(&mut ctl, "last-ping-sent") == "0"
    }));
    assert!(!master_field(&mut ctl, "flags").contains("s_down"));
}

/// Each sentinel under test, started with `body`: ours and the oracle.
fn both(body: &str) -> Vec<Proc> {
    vec![rsentinel(body), redis_sentinel(body)]
}

/// Whether the server closed `c` (EOF or reset) before `deadline` passes.
fn closed_within(c: &mut TcpStream, deadline: Duration) -> bool {
    c.set_nonblocking(true).unwrap();
    wait_until(deadline, || {
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    })
}

fn pings(c: &mut Client) -> bool {
    matches!(c.cmd(&["PING"]), Ok(Reply::Simple(s)) if s == "PONG")
}

#[test]
fn timeout_closes_idle_normal_clients_but_not_subscribers() {
    for s in both("timeout 1\n") {
        let mut idle = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let mut sub2 = Client::connect(s.port).unwrap();
        sub2.cmd(&["SUBSCRIBE", "ch"]).unwrap();
        let mut sub3 = Client::connect_resp3(s.port).unwrap();
        sub3.cmd(&["SUBSCRIBE", "ch"]).unwrap();
        assert!(
            closed_within(&mut idle, Duration::from_secs(10)),
            "{}",
            s.name
        );
        // The subscribers idled as long and are still served.
        let pong2 = sub2.cmd(&["PING"]).unwrap();
        assert_eq!(
            pong2,
            Reply::Array(vec![Reply::bulk("pong"), Reply::bulk("")]),
            "{}",
            s.name
        );
        assert!(pings(&mut sub3), "{}", s.name);
    }
}

/// The `ss` timers of the server side of the connections on `port`.
fn server_side_timers(port: u16) -> String {
    let out = std::process::Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            &format!("( sport = :{port} )"),
        ])
        .output()
        .expect("ss (iproute2) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tcp_keepalive_is_set_on_accepted_sockets() {
    for (body, want) in [("tcp-keepalive 60\n", true), ("tcp-keepalive 0\n", false)] {
        for s in both(body) {
            let mut c = Client::connect(s.port).unwrap();
            assert!(pings(&mut c));
            let timers = server_side_timers(s.port);
            assert!(!timers.is_empty(), "{}: no connection seen", s.name);
            assert_eq!(
                timers.contains("keepalive"),
                want,
                "{} {body}: {timers}",
                s.name
            );
            if want {
                // The first probe is due within the configured idle time.
                assert!(
                    timers.contains("timer:(keepalive,5")
                        || timers.contains("timer:(keepalive,1min"),
                    "{}: {timers}",
                    s.name
                );
            }
        }
    }
}

#[test]
fn query_buffer_limit_closes_only_the_client_over_it() {
    for s in both("client-query-buffer-limit 1mb\n") {
        let mut other = Client::connect(s.port).unwrap();
        let mut big = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        // An argument announced at 3 MB that never completes.
        let mut req = b"*2\r\n$4\r\nECHO\r\n$3000000\r\n".to_vec();
        req.resize(req.len() + 1_500_000, b'x');
        // The server may close before taking it all.
        let _ = big.write_all(&req);
        assert!(
            closed_within(&mut big, Duration::from_secs(10)),
            "{}",
            s.name
        );
        assert!(pings(&mut other), "{}", s.name);
        assert!(wait_until(Duration::from_secs(5), || s
            .log_text()
            .contains(
                "Closing client that reached max query buffer length: id="
            )));
    }
}

/// Whether a client named `name` is connected.
fn has_client(c: &mut Client, name: &str) -> bool {
    c.cmd(&["CLIENT", "LIST"])
        .map(|r| text(&r).contains(&format!("name={name} ")))
        .unwrap_or(false)
}

#[test]
fn a_subscriber_that_never_reads_is_dropped_at_its_output_limit() {
    let master = redis_server(&[]);
    let body = format!(
        "{}client-output-buffer-limit pubsub 256kb 128kb 1\n",
        monitor(master.port)
    );
    for s in both(&body) {
        let slow = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        // A small, fixed receive window: what the kernels absorb stays small
        // and the backlog builds up in the sentinel.
        let size: libc::c_int = 4096;
        // SAFETY: setsockopt reads `size` for the length given; the fd is
        // an open socket we own.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&slow),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        (&slow)
            .write_all(b"CLIENT SETNAME slow\r\nPSUBSCRIBE *\r\n")
            .unwrap();
        let mut ctl = Client::connect(s.port).unwrap();
        assert!(wait_until(Duration::from_secs(5), || has_client(
            &mut ctl, "slow"
        )));
        // Each SENTINEL SET of 500 pairs publishes 500 `+set` events.
        let mut set: Vec<&str> = vec!["SENTINEL", "SET", "mymaster"];
        for _ in 0..500 {
            set.extend(["quorum", "1"]);
        }
        let mut rounds = 0;
        while has_client(&mut ctl, "slow") && rounds < 200 {
            assert_eq!(
                ctl.cmd(&set).unwrap(),
                Reply::Simple("OK".into()),
                "{}",
                s.name
            );
            rounds += 1;
        }
        assert!(
            !has_client(&mut ctl, "slow"),
            "{}: still connected after {rounds} rounds",
            s.name
        );
        assert!(pings(&mut ctl), "{}", s.name);
        assert!(
            wait_until(Duration::from_secs(5), || s.log_text().contains(
                "scheduled to be closed ASAP for overcoming of output buffer limits."
            )),
            "{}",
            s.name
        );
        drop(slow);
    }
}

#[test]
fn limits_are_kept_in_the_config_rewrite_as_redis_keeps_them() {
    let body = "timeout 2\nclient-query-buffer-limit 2097152\ntcp-keepalive 300\n\
                client-output-buffer-limit pubsub 1048576 512kb 10 normal 0 0 0\n";
    let rewritten: Vec<Vec<String>> = both(body)
        .iter()
        .map(|s| {
            let path = s.path("sentinel.conf");
            assert!(wait_until(Duration::from_secs(5), || {
                std::fs::read_to_string(&path).is_ok_and(|c| c.contains("sentinel myid"))
            }));
            let mut lines: Vec<String> = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| {
                    ["timeout", "tcp-keepalive", "client-"]
                        .iter()
                        .any(|k| l.starts_with(k))
                })
                .map(String::from)
                .collect();
            // Redis appends forced lines in hash order: compare as sets.
            lines.sort();
            lines
        })
        .collect();
    assert_eq!(rewritten[0], rewritten[1]);
    assert!(rewritten[0].contains(&"client-output-buffer-limit pubsub 1mb 512kb 10".to_string()));
    assert!(rewritten[0].contains(&"client-query-buffer-limit 2mb".to_string()));
}

/// The `obl=` field of the CLIENT LIST line of the client named `name`.
fn obl_of(c: &mut Client, name: &str) -> Option<u64> {
    let Ok(Reply::Bulk(list)) = c.cmd(&["CLIENT", "LIST"]) else {
        return None;
    };
    let text = String::from_utf8_lossy(&list).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))?;
    line.split(' ')
        .find_map(|f| f.strip_prefix("obl="))
        .and_then(|v| v.parse().ok())
}

#[test]
fn client_list_shows_the_backlog_of_a_client_that_does_not_read() {
    let s = rsentinel("");
    let mut slow = Client::connect(s.port).unwrap();
    assert_eq!(
        slow.cmd(&["CLIENT", "SETNAME", "slow"]).unwrap(),
        Reply::Simple("OK".into())
    );
    let mut watcher = Client::connect(s.port).unwrap();
    assert_eq!(obl_of(&mut watcher, "slow"), Some(0));
    // Small requests whose replies (the command docs, ~25 KB each) add up
    // far beyond what the sockets buffer, and are not read: the sentinel's
    // write must wait, and meanwhile shows what it holds.
    const REQUESTS: usize = 2000;
    let request = b"*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n";
    slow.send_raw(&request.repeat(REQUESTS)).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || obl_of(&mut watcher, "slow")
            .is_some_and(|n| n > 0)),
        "no backlog shown while the client does not read"
    );
    // Once everything is read the backlog shows 0 again.
    for _ in 0..REQUESTS {
        assert!(matches!(
            slow.read().unwrap(),
            Reply::Array(_) | Reply::Map(_)
        ));
    }
    assert!(
        wait_until(Duration::from_secs(10), || obl_of(&mut watcher, "slow")
            == Some(0)),
        "the backlog still shows after every reply was read"
    );
}
