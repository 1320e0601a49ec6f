//! rsentinel beside redis-sentinel 7.0.15, same machine, same run, same
//! workloads; prints one table with both columns and their ratio.
//!
//! Run: `cargo bench --bench compare`. Workloads (D = down-after = 1000 ms):
//! - trio: a real master + 2 replicas + 3 sentinels. Discovery (a new
//!   sentinel lists both replicas with their own INFO, `master-link-status`
//!   ok), query CPU per request with `redis-benchmark` against one sentinel,
//!   then kill -9 / SIGSTOP of the master and a manual `SENTINEL FAILOVER`:
//!   when a majority (2 of 3) and all advertise the new master, and when the
//!   last `+switch-master` / `+failover-end` is published.
//! - mass: 50 real masters with one real replica each, 3 sentinels; every
//!   master is killed at once: when the last master is advertised by a
//!   majority, how many are left behind, how many elections were lost.
//! - idle: 1/50/200/1000 masters × 3 sentinels against fake masters (see
//!   `fake.rs`: one in-process responder port per master, identical for
//!   both): RSS and CPU per sentinel over a fixed window, commands per
//!   second each sentinel sends each master, and time until ready.
//!
//! Idle data nodes: every master is a loopback port served by `fake.rs`
//! on one thread of this process (a `redis-server` per master does not fit
//! 1 000 masters on 2 cores). Each sentinel holds 2 links per master, so
//! 1 000 masters × 3 sentinels is 6 000 connections into this process and
//! ~2 000 descriptors per sentinel: the open-files limit must allow that
//! (the sentinels inherit ours; 20 000 here). redis-sentinel's `maxclients`
//! (10 000) only counts clients connecting to it, a handful here. "Ready"
//! is every master `status=ok` with `sentinels=3` in `INFO sentinel` of all
//! three; at 1 000 masters redis-sentinel takes about a minute to get
//! there (see [`READY_TIMEOUT`]), its event loop stalling for seconds.
//!
//! Environment: RSENTINEL_BENCH_RUNS (failover runs per kind, default 1;
//! medians), RSENTINEL_BENCH_SCALES (default `1,50,200,1000`),
//! RSENTINEL_BENCH_WINDOW (idle window in seconds, default 10),
//! RSENTINEL_BENCH_ONLY (`rsentinel` or `redis-sentinel`),
//! RSENTINEL_BENCH_SKIP (comma-separated: `failover`, `mass`, `idle`),
//! RSENTINEL_BENCH_LOGS (a directory: the mass failover's sentinel logs
//! are copied there).

mod fake;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::*;

const D: u64 = 1000;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Redis,
    Rs,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis-sentinel",
            Kind::Rs => "rsentinel",
        }
    }
    fn spawn(self, body: &str) -> Proc {
        match self {
            Kind::Redis => redis_sentinel(body),
            Kind::Rs => rsentinel(body),
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of `pid` in seconds: the sum over its threads of the
/// scheduler's on-CPU time (`/proc/PID/task/*/schedstat`, nanoseconds).
/// The user + system ticks of `/proc/PID/stat` count in 10 ms steps, which
/// at ~1 % of a core over the idle window is a handful of ticks per
/// sentinel; they are the fallback where schedstat is missing.
fn cpu_secs(pid: u32) -> f64 {
    let mut ns = 0u64;
    let mut seen = false;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            if let Some(v) = stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            {
                ns += v;
                seen = true;
            }
        }
    }
    if seen {
        return ns as f64 / 1e9;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 of stat; after the ')' they are the 12th and 13th.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The port each of `names` is advertised at by the sentinel on `port`,
/// asked in one pipelined batch: polling 50 masters on 3 sentinels one
/// round trip at a time kept a core busy during the very failover being
/// timed (both kinds alike), which slowed the sentinels measured.
fn advertised_all(c: &mut Option<Client>, port: u16, names: &[&str]) -> Vec<Option<u16>> {
    if c.is_none() {
        *c = Client::connect(port).ok();
    }
    let Some(client) = c.as_mut() else {
        return vec![None; names.len()];
    };
    let mut batch = Vec::new();
    for name in names {
        batch.extend_from_slice(
            format!(
                "*3\r\n$8\r\nSENTINEL\r\n$23\r\nGET-MASTER-ADDR-BY-NAME\r\n${}\r\n{name}\r\n",
                name.len()
            )
            .as_bytes(),
        );
    }
    let mut out = Vec::with_capacity(names.len());
    let sent = client.send_raw(&batch);
    for _ in names {
        match sent
            .as_ref()
            .map_err(|_| ())
            .and_then(|_| client.read().map_err(|_| ()))
        {
            Ok(Reply::Array(v)) if v.len() == 2 => out.push(text(&v[1]).parse().ok()),
            Ok(_) => out.push(None),
            Err(()) => {
                *c = None;
                return vec![None; names.len()];
            }
        }
    }
    out
}

/// Time of the first message on `channel` published by the sentinel on
/// `port` before `deadline` (or until `stop` is set).
fn watch(
    port: u16,
    channel: &'static str,
    deadline: Instant,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Option<Instant>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("subscribe");
    let cmd = format!(
        "*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{channel}\r\n",
        channel.len()
    );
    s.write_all(cmd.as_bytes()).expect("subscribe");
    let needle = format!("${}\r\n{channel}\r\n", channel.len()).into_bytes();
    let mut seen = Vec::new();
    // The subscribe confirmation names the channel once; wait for it so
    // the watch is in place before the caller acts.
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(50))).ok();
    while count(&seen, &needle) < 1 && Instant::now() < deadline {
        if let Ok(n) = s.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    std::thread::spawn(move || {
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            match s.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if count(&seen, &needle) >= 2 {
                return Some(Instant::now());
            }
        }
        None
    })
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One measured figure per implementation.
#[derive(Default)]
struct Table {
    rows: Vec<(String, String, [Option<f64>; 2])>,
}

impl Table {
    fn set(&mut self, figure: &str, unit: &str, kind: Kind, v: f64) {
        let i = if kind == Kind::Redis { 0 } else { 1 };
        if let Some(r) = self.rows.iter_mut().find(|r| r.0 == figure) {
            r.2[i] = Some(v);
        } else {
            let mut vals = [None, None];
            vals[i] = Some(v);
            self.rows.push((figure.to_string(), unit.to_string(), vals));
        }
    }

    fn print(&self) {
        println!();
        println!("| figure | unit | redis-sentinel | rsentinel | rsentinel / redis |");
        println!("|---|---|---:|---:|---:|");
        let show = |v: Option<f64>| match v {
            Some(x) if x.is_nan() => "n/a".to_string(),
            Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
            Some(x) => format!("{x:.2}"),
            None => "-".to_string(),
        };
        for (figure, unit, [a, b]) in &self.rows {
            let ratio = match (a, b) {
                (Some(a), Some(b)) if *a != 0.0 && a.is_finite() && b.is_finite() => {
                    format!("{:.2}", b / a)
                }
                _ => "-".into(),
            };
            println!(
                "| {figure} | {unit} | {} | {} | {ratio} |",
                show(*a),
                show(*b)
            );
        }
    }
}

fn monitor_body(masters: &[(String, u16)], quorum: u32) -> String {
    let mut body = String::new();
    for (name, port) in masters {
        body.push_str(&format!(
            "sentinel monitor {name} 127.0.0.1 {port} {quorum}\n\
             sentinel down-after-milliseconds {name} {D}\n\
             sentinel failover-timeout {name} 10000\n"
        ));
    }
    body
}

fn master_fields(port: u16, name: &str) -> Option<Reply> {
    query(port, &["SENTINEL", "MASTER", name])
}

fn replicas_ok(port: u16, name: &str, n: usize) -> bool {
    match query(port, &["SENTINEL", "REPLICAS", name]) {
        Some(r @ Reply::Array(_)) => {
            let Reply::Array(v) = &r else { return false };
            v.len() == n
                && v.iter()
                    .all(|r| field(r, "master-link-status").as_deref() == Some("ok"))
        }
        _ => false,
    }
}

/// `redis-benchmark` against `port`: (requests per second, sentinel CPU
/// µs per request).
fn bench_query(pid: u32, port: u16, n: u64, pipeline: u32, cmd: &[&str]) -> (f64, f64) {
    let cpu0 = cpu_secs(pid);
    let out = Command::new(require_binary("redis-benchmark"))
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "50",
            "-P",
            &pipeline.to_string(),
        ])
        .args(["-n", &n.to_string(), "--csv"])
        .args(cmd)
        .output()
        .expect("redis-benchmark");
    let cpu = cpu_secs(pid) - cpu0;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(1))
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or(f64::NAN);
    (rps, cpu * 1e6 / n as f64)
}

#[derive(Clone, Copy)]
enum Fault {
    Kill,
    Stop,
    Manual,
}

/// One failover of the trio. Returns (majority, all, last +switch-master,
/// last +failover-end) in ms after the fault (minus D for kill/stop).
fn trio(kind: Kind, fault: Fault, table: Option<&mut Table>) -> Option<[f64; 4]> {
    let mut master = redis_server(&[]);
    let r1 = redis_replica(&master);
    let r2 = redis_replica(&master);
    let body = monitor_body(&[("mymaster".into(), master.port)], 2);
    // Wait for both replicas to be attached, so discovery measures the
    // sentinel and not the replication handshake.
    // `connected_slaves` counts replicas still loading the first sync,
    // whose INFO says `master_link_status:down` (then both sentinels poll
    // them once a second), so wait for both to be online on both sides.
    wait_until(Duration::from_secs(10), || {
        let online = |i| {
            info_value(master.port, "replication", &format!("slave{i}"))
                .is_some_and(|v| v.contains("state=online"))
        };
        let up = |r: &Proc| {
            info_value(r.port, "replication", "master_link_status").as_deref() == Some("up")
        };
        online(0) && online(1) && up(&r1) && up(&r2)
    });
    let started = Instant::now();
    let first = kind.spawn(&body);
    let found = wait_until_fast(Duration::from_secs(30), || {
        replicas_ok(first.port, "mymaster", 2)
    });
    let discovery = ms(started.elapsed());
    let sentinels = [first, kind.spawn(&body), kind.spawn(&body)];
    let ports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    let ready = found
        && wait_until(Duration::from_secs(30), || {
            ports.iter().all(|&p| {
                master_fields(p, "mymaster").is_some_and(|r| {
                    field(&r, "num-slaves").as_deref() == Some("2")
                        && field(&r, "num-other-sentinels").as_deref() == Some("2")
                }) && replicas_ok(p, "mymaster", 2)
            })
        });
    if !ready {
        eprintln!("{}: trio not discovered", kind.name());
        return None;
    }
    if let Some(table) = table {
        table.set(
            "discovery: new sentinel lists both replicas with INFO",
            "ms",
            kind,
            discovery,
        );
        let (pid, port) = (sentinels[0].pid(), ports[0]);
        let get = ["SENTINEL", "get-master-addr-by-name", "mymaster"];
        let (rps, us) = bench_query(pid, port, 2_000_000, 16, &get);
        table.set("get-master-addr-by-name -c 50 -P 16", "req/s", kind, rps);
        table.set(
            "get-master-addr-by-name -c 50 -P 16: CPU",
            "µs/req",
            kind,
            us,
        );
        let (_, us) = bench_query(pid, port, 200_000, 1, &get);
        table.set("get-master-addr-by-name -c 50: CPU", "µs/req", kind, us);
        let repl = ["SENTINEL", "replicas", "mymaster"];
        let (_, us) = bench_query(pid, port, 100_000, 1, &repl);
        table.set("SENTINEL replicas -c 50: CPU", "µs/req", kind, us);
        let (_, us) = bench_query(pid, port, 500_000, 16, &repl);
        table.set("SENTINEL replicas -c 50 -P 16: CPU", "µs/req", kind, us);
    }
    // Let the replicas' INFO be fresh, as in a steady state.
    std::thread::sleep(Duration::from_millis(1500));
    // Then strike at a random moment of the second: failures do not wait
    // for a sentinel's timers. rsentinel's PINGs, INFOs and hellos go out
    // on slots of the wall clock, so the readiness seen above falls just
    // after a slot, and a fixed wait put every fault there too: a SIGSTOP
    // then always came a whole slot (D/10) before the next PING could
    // notice it, where a random moment waits half a slot on average.
    std::thread::sleep(random_phase());
    let deadline = Instant::now() + Duration::from_secs(60);
    let stop = Arc::new(AtomicBool::new(false));
    let on = |p: u16, ch| watch(p, ch, deadline, stop.clone());
    let switch: Vec<_> = ports.iter().map(|&p| on(p, "+switch-master")).collect();
    let end: Vec<_> = ports.iter().map(|&p| on(p, "+failover-end")).collect();
    let old = master.port;
    let t0 = Instant::now();
    let offset = match fault {
        Fault::Kill => {
            master.kill();
            D as f64
        }
        Fault::Stop => {
            master.signal(libc::SIGSTOP);
            D as f64
        }
        Fault::Manual => {
            query(ports[0], &["SENTINEL", "FAILOVER", "mymaster"]);
            0.0
        }
    };
    let mut clients: Vec<Option<Client>> = ports.iter().map(|_| None).collect();
    let mut switched: Vec<Option<f64>> = vec![None; ports.len()];
    while Instant::now() < deadline && switched.iter().any(Option::is_none) {
        for (i, &p) in ports.iter().enumerate() {
            if switched[i].is_none()
                && advertised_all(&mut clients[i], p, &["mymaster"])[0].is_some_and(|a| a != old)
            {
                switched[i] = Some(ms(t0.elapsed()) - offset);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut times: Vec<f64> = switched.iter().flatten().copied().collect();
    times.sort_by(|a, b| a.total_cmp(b));
    // Every sentinel publishes +switch-master, only the leader
    // +failover-end; whatever has not come 3 s after the last sentinel
    // switched is not coming.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let last = |hs: Vec<JoinHandle<Option<Instant>>>, all: bool| {
        let ts: Vec<Instant> = hs
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect();
        if all && ts.len() < 3 {
            return f64::NAN;
        }
        ts.iter()
            .max()
            .map_or(f64::NAN, |t| ms(t.duration_since(t0)) - offset)
    };
    let t_switch = last(switch, true);
    let t_end = last(end, false);
    master.signal(libc::SIGCONT);
    drop((r1, r2));
    let majority = times.get(1).copied().unwrap_or(f64::NAN);
    let all = times.get(2).copied().unwrap_or(f64::NAN);
    Some([majority, all, t_switch, t_end])
}

/// [`wait_until`] polling every 2 ms, for timings.
/// A delay of 0–999 ms from the clock's nanoseconds: a fault's phase
/// against the sentinels' timers that neither implementation controls.
fn random_phase() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(u64::from(nanos / 7 % 1000))
}

fn wait_until_fast(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

fn failovers(kind: Kind, runs: usize, table: &mut Table) {
    for (name, fault, unit) in [
        ("kill -9", Fault::Kill, "ms after D"),
        ("SIGSTOP", Fault::Stop, "ms after D"),
        (
            "manual SENTINEL FAILOVER",
            Fault::Manual,
            "ms after command",
        ),
    ] {
        let mut rs = Vec::new();
        for run in 0..runs {
            // Discovery and queries are measured on the first trio only.
            let t = (matches!(fault, Fault::Kill) && run == 0).then_some(&mut *table);
            if let Some(r) = trio(kind, fault, t) {
                rs.push(r);
            }
        }
        let col = |i: usize| rs.iter().map(|r: &[f64; 4]| r[i]).collect::<Vec<f64>>();
        let max = |v: Vec<f64>| v.into_iter().fold(f64::NAN, f64::max);
        table.set(
            &format!("{name}: majority advertises new master"),
            unit,
            kind,
            median(col(0)),
        );
        if runs > 1 {
            table.set(
                &format!("{name}: majority advertises, worst run"),
                unit,
                kind,
                max(col(0)),
            );
        }
        table.set(
            &format!("{name}: all 3 advertise"),
            unit,
            kind,
            median(col(1)),
        );
        table.set(
            &format!("{name}: last +switch-master"),
            unit,
            kind,
            median(col(2)),
        );
        table.set(
            &format!("{name}: +failover-end"),
            unit,
            kind,
            median(col(3)),
        );
    }
}

/// 50 masters with one replica each; every master killed at once.
fn mass(kind: Kind, n: usize, table: &mut Table) {
    let mut masters: Vec<Proc> = (0..n).map(|_| redis_server(&[])).collect();
    let replicas: Vec<Proc> = masters.iter().map(redis_replica).collect();
    let names: Vec<(String, u16)> = masters
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("m{i}"), m.port))
        .collect();
    let body = monitor_body(&names, 2);
    let sentinels: Vec<Proc> = (0..3).map(|_| kind.spawn(&body)).collect();
    let ports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    let ready = wait_until(Duration::from_secs(60), || {
        ports
            .iter()
            .all(|&p| match query(p, &["SENTINEL", "MASTERS"]) {
                Some(Reply::Array(v)) => {
                    v.len() == n
                        && v.iter().all(|m| {
                            field(m, "num-slaves").as_deref() == Some("1")
                                && field(m, "num-other-sentinels").as_deref() == Some("2")
                        })
                }
                _ => false,
            })
    });
    if !ready {
        eprintln!("{}: mass topology not discovered", kind.name());
        return;
    }
    std::thread::sleep(Duration::from_millis(1500) + random_phase());
    let t0 = Instant::now();
    for m in &masters {
        m.signal(libc::SIGKILL);
    }
    for m in &mut masters {
        m.kill();
    }
    let mut clients: Vec<Option<Client>> = ports.iter().map(|_| None).collect();
    let mut done: Vec<Option<f64>> = vec![None; n];
    let deadline = t0 + Duration::from_secs(30);
    while Instant::now() < deadline && done.iter().any(Option::is_none) {
        let pending: Vec<usize> = (0..n).filter(|&j| done[j].is_none()).collect();
        let asked: Vec<&str> = pending.iter().map(|&j| names[j].0.as_str()).collect();
        let answers: Vec<Vec<Option<u16>>> = (0..ports.len())
            .map(|i| advertised_all(&mut clients[i], ports[i], &asked))
            .collect();
        let now = ms(t0.elapsed()) - D as f64;
        for (k, &j) in pending.iter().enumerate() {
            let old = names[j].1;
            let moved = answers
                .iter()
                .filter(|a| a[k].is_some_and(|p| p != old))
                .count();
            if moved >= 2 {
                done[j] = Some(now);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let last = done.iter().flatten().fold(f64::NAN, |a, &b| a.max(b));
    let behind = done.iter().filter(|d| d.is_none()).count();
    let logs: Vec<String> = sentinels.iter().map(|s| s.log_text()).collect();
    let events = |kind: &str| -> usize { logs.iter().map(|l| l.matches(kind).count()).sum() };
    let aborts = events("-failover-abort-not-elected");
    let elected = events("+elected-leader");
    if let Ok(dir) = std::env::var("RSENTINEL_BENCH_LOGS") {
        for (i, log) in logs.iter().enumerate() {
            let path = std::path::Path::new(&dir).join(format!("mass-{}-{i}.log", kind.name()));
            if let Err(e) = std::fs::write(&path, log) {
                eprintln!("{}: {e}", path.display());
            }
        }
    }
    table.set(
        &format!("mass ({n} masters die): last advertised by majority"),
        "ms after D",
        kind,
        last,
    );
    table.set(
        &format!("mass ({n} masters die): left behind after 30 s"),
        "masters",
        kind,
        behind as f64,
    );
    table.set(
        &format!("mass ({n} masters die): -failover-abort-not-elected"),
        "events",
        kind,
        aborts as f64,
    );
    table.set(
        &format!("mass ({n} masters die): +elected-leader (one per master is ideal)"),
        "events",
        kind,
        elected as f64,
    );
    drop(replicas);
}

/// How long the idle scenario waits for its sentinels to be ready.
/// redis-sentinel needs about a minute at 1 000 masters: it rewrites and
/// fsyncs its whole config (one `sentinel known-sentinel` line more each
/// time) for every peer it discovers, 2 000 rewrites of a 1 000-master file.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// How many masters `INFO sentinel` of the sentinel on `port` shows as
/// `status=ok` with all 3 sentinels known (0 when it does not answer). One
/// request covers every master, and the read timeout is long because
/// redis-sentinel's event loop stalls for seconds while it rewrites its
/// config at start-up: a short timeout read as "not ready" forever.
fn masters_ready(port: u16) -> usize {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut c) = Client::connect_addr(addr, Duration::from_secs(60)) else {
        return 0;
    };
    let Ok(info) = c.cmd(&["INFO", "sentinel"]) else {
        return 0;
    };
    text(&info)
        .lines()
        .filter(|l| {
            l.starts_with("master") && l.contains(",status=ok,") && l.ends_with(",sentinels=3")
        })
        .count()
}

/// `n` fake masters × 3 sentinels: ready time, then RSS and CPU per
/// sentinel over `window`, and commands per second per master per sentinel.
fn idle(kind: Kind, n: usize, window: Duration, table: &mut Table) {
    let nodes = fake::FakeNodes::start(n);
    let names: Vec<(String, u16)> = nodes
        .ports
        .iter()
        .enumerate()
        .map(|(i, &p)| (format!("m{i}"), p))
        .collect();
    // A large D: nothing here may go down.
    let body = monitor_body(&names, 2).replace(&format!(" {D}\n"), " 30000\n");
    let t0 = Instant::now();
    let sentinels: Vec<Proc> = (0..3).map(|_| kind.spawn(&body)).collect();
    let mut shown = Instant::now();
    let ready = wait_until(READY_TIMEOUT, || {
        let counts: Vec<usize> = sentinels.iter().map(|s| masters_ready(s.port)).collect();
        if counts.iter().any(|&c| c < n) {
            if shown.elapsed() < Duration::from_secs(5) {
                return false;
            }
            shown = Instant::now();
            eprintln!(
                "{} idle {n}: {:.1} s, masters with status=ok and sentinels=3: {counts:?}",
                kind.name(),
                t0.elapsed().as_secs_f64()
            );
            return false;
        }
        true
    });
    let ready_ms = ms(t0.elapsed());
    if !ready {
        eprintln!(
            "{}: idle {n} not ready after {READY_TIMEOUT:?}",
            kind.name()
        );
        return;
    }
    table.set(
        &format!("idle {n} masters: all 3 ready"),
        "ms",
        kind,
        ready_ms,
    );
    // Measure the steady state: 2 s after ready, and not before one and a
    // half INFO periods (15 s) since the start, so that the window holds
    // periodic INFOs only (not the start-up's) and no start-up burst of
    // allocations is still resident.
    let steady = Duration::from_secs(15).saturating_sub(t0.elapsed());
    std::thread::sleep(steady.max(Duration::from_secs(2)));
    let c0: Vec<f64> = sentinels.iter().map(|s| cpu_secs(s.pid())).collect();
    let k0 = nodes.commands();
    let b0 = nodes.breakdown();
    let w0 = Instant::now();
    std::thread::sleep(window);
    let secs = w0.elapsed().as_secs_f64();
    let k1 = nodes.commands();
    let b1 = nodes.breakdown();
    let rate = |i: usize| (b1[i] - b0[i]) as f64 / secs / (n as f64 * 3.0);
    eprintln!(
        "{} idle {n}: per master per sentinel per s: PING {:.2}, INFO {:.2}, PUBLISH {:.2}, other {:.2}",
        kind.name(),
        rate(0),
        rate(1),
        rate(2),
        rate(3)
    );
    let cpu: Vec<f64> = sentinels
        .iter()
        .zip(&c0)
        .map(|(s, c)| (cpu_secs(s.pid()) - c) / secs * 100.0)
        .collect();
    let rss: Vec<f64> = sentinels.iter().map(|s| rss_mib(s.pid())).collect();
    eprintln!(
        "{} idle {n}: each sentinel's CPU {cpu:.2?} % core, RSS {rss:.2?} MiB",
        kind.name()
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    table.set(
        &format!("idle {n} masters: RSS per sentinel"),
        "MiB",
        kind,
        mean(&rss),
    );
    table.set(
        &format!("idle {n} masters: CPU per sentinel"),
        "% core",
        kind,
        mean(&cpu),
    );
    let per = (k1 - k0) as f64 / secs / (n as f64 * 3.0);
    table.set(
        &format!("idle {n} masters: commands/s to each master per sentinel"),
        "cmd/s",
        kind,
        per,
    );
    drop(sentinels);
}

fn main() {
    // `cargo test --benches` passes no --bench: only run when asked to.
    if !std::env::args().any(|a| a == "--bench") {
        println!("compare bench: run with `cargo bench --bench compare`");
        return;
    }
    let runs: usize = env_or("RSENTINEL_BENCH_RUNS", 1);
    let window = Duration::from_secs(env_or("RSENTINEL_BENCH_WINDOW", 10));
    let scales: Vec<usize> = std::env::var("RSENTINEL_BENCH_SCALES")
        .unwrap_or_else(|_| "1,50,200,1000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    let only = std::env::var("RSENTINEL_BENCH_ONLY").unwrap_or_default();
    let skip: Vec<String> = std::env::var("RSENTINEL_BENCH_SKIP")
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut table = Table::default();
    for kind in [Kind::Redis, Kind::Rs] {
        if !only.is_empty() && only != kind.name() {
            continue;
        }
        eprintln!("== {}", kind.name());
        if !skip.iter().any(|s| s == "failover") {
            failovers(kind, runs, &mut table);
        }
        if !skip.iter().any(|s| s == "mass") {
            mass(kind, 50, &mut table);
        }
        if !skip.iter().any(|s| s == "idle") {
            for &n in &scales {
                idle(kind, n, window, &mut table);
            }
        }
    }
    println!(
        "rsentinel vs redis-sentinel, D = {D} ms, {runs} run(s) per failover kind, idle window {} s",
        window.as_secs()
    );
    table.print();
}
