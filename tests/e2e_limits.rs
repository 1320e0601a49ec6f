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

fn monitor(master_port: u16) -> String {
    format!(
        "sentinel monitor mymaster 127.0.0.1 {master_port} 1\n\
         sentinel down-after-milliseconds mymaster 1000\n"
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
    let went_down = wait_until(Duration::from_secs(3), || {
        master_field(&mut ctl, "flags").contains("s_down")
    });
    assert!(!went_down, "PONGs were not paired with the PINGs");
    assert!(
        master_field(&mut ctl, "last-ok-ping-reply")
            .parse::<u64>()
            .unwrap()
            < 1500
    );
}
