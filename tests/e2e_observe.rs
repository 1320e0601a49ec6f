//! End-to-end observability with real processes: a kill -9 failover seen
//! through `/metrics` on each of three rsentinels (counted once, right
//! role, phase histograms, `+switch-master`, link round trips) and through
//! the live page in headless Chromium (new master and timeline appear
//! without a reload); scraping stays flat in memory; a bad
//! `RSENTINEL_HTTP_ADDR` stops the start.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::http_get as get;
use support::*;

const HTTP_VAR: &str = "RSENTINEL_HTTP_ADDR";

/// The events the page draws on its timeline (its `KEY` table).
const TIMELINE_KINDS: &[&str] = &[
    "+sdown",
    "-sdown",
    "+odown",
    "-odown",
    "+new-epoch",
    "+try-failover",
    "+vote-for-leader",
    "+elected-leader",
    "-failover-abort-not-elected",
    "+selected-slave",
    "+promoted-slave",
    "+slave-reconf-sent",
    "+slave-reconf-done",
    "+failover-end",
    "+failover-end-for-timeout",
    "+switch-master",
    "+config-update-from",
    "+tilt",
    "-tilt",
];

/// An rsentinel with its HTTP listener on a free loopback port.
struct Observed {
    proc: Proc,
    http: u16,
}

fn observed(body: &str) -> Observed {
    let http = free_port();
    let addr = format!("127.0.0.1:{http}");
    let mut proc = rsentinel_started(body, &[], &[(HTTP_VAR, &addr)]);
    proc.wait_ready(Duration::from_secs(10));
    Observed { proc, http }
}

fn metrics(port: u16) -> String {
    match get(port, "/metrics") {
        Some((200, body)) => body,
        other => panic!("GET /metrics on {port}: {other:?}"),
    }
}

/// The value of the sample `name{labels}` (labels in exposition order, as
/// a substring match on the whole series), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Sum of every sample of `name` whose labels contain all of `want`.
fn sum_where(text: &str, name: &str, want: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| want.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn master_port(port: u16) -> Option<String> {
    match query(port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])? {
        Reply::Array(v) if v.len() == 2 => Some(text(&v[1])),
        _ => None,
    }
}

fn discovered(port: u16) -> bool {
    query(port, &["SENTINEL", "MASTER", "mymaster"]).is_some_and(|r| {
        field(&r, "num-slaves").as_deref() == Some("2")
            && field(&r, "num-other-sentinels").as_deref() == Some("2")
    })
}

fn chromium() -> PathBuf {
    require_binary("chromium")
}

/// Headless Chromium with a profile of its own (parallel runs must not
/// share one) and the flags a root, GPU-less machine needs.
fn browser(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null())
    .stderr(Stdio::null());
    c
}

fn target_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).expect("target dir");
    dir
}

#[test]
fn a_kill_9_failover_shows_in_metrics_and_live_on_the_page() {
    let mut master = redis_server(&[]);
    let r1 = redis_replica(&master);
    let r2 = redis_replica(&master);
    let body = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 2\n\
         sentinel down-after-milliseconds mymaster 1000\n\
         sentinel failover-timeout mymaster 10000\n",
        master.port
    );
    let sentinels: Vec<Observed> = (0..3).map(|_| observed(&body)).collect();
    for s in &sentinels {
        assert!(
            wait_until(Duration::from_secs(20), || discovered(s.proc.port)),
            "sentinel {} did not discover the topology",
            s.proc.port
        );
    }
    let old = master.port.to_string();

    // Load the page before the failover. Chromium's virtual time stands
    // still while the page's long poll waits, so the page keeps polling
    // through the whole failover (however long it takes in real time); it
    // stops once it has seen +switch-master, and Chromium then dumps the DOM.
    let page_port = sentinels[0].http;
    let profile = tempfile::tempdir().unwrap();
    let dump = browser(profile.path())
        .args(["--virtual-time-budget=120000", "--dump-dom"])
        .arg(format!(
            "http://127.0.0.1:{page_port}/?poll=500&wait=1000&until=%2Bswitch-master"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // The page has rendered once the topology was fetched: only then does
    // the master die, so the page must update itself to show the new one.
    assert!(
        wait_until(Duration::from_secs(30), || sample(
            &metrics(page_port),
            "rsentinel_http_requests_total{path=\"/api/topology\"}"
        ) >= 1.0),
        "the page never fetched /api/topology"
    );
    master.kill();
    for s in &sentinels {
        assert!(
            wait_until(Duration::from_secs(30), || master_port(s.proc.port)
                .is_some_and(|p| p != old)),
            "sentinel {} still advertises the old master",
            s.proc.port
        );
    }
    let new = master_port(sentinels[0].proc.port).unwrap();
    assert!([r1.port, r2.port].iter().any(|p| p.to_string() == new));

    // Every sentinel counted the failover exactly once: one as leader, the
    // others as observers, all successful.
    let mut leaders = 0;
    let mut granted = 0.0;
    let mut leader_http = page_port;
    for s in &sentinels {
        let port = s.http;
        // The leader counts its failover at +switch-master, which follows
        // +failover-end once the replicas are reconfigured.
        assert!(
            wait_until(Duration::from_secs(30), || sum_where(
                &metrics(port),
                "rsentinel_failovers_total",
                &[]
            ) >= 1.0),
            "sentinel {} counted no failover:\n{}",
            s.proc.port,
            metrics(port)
        );
        let m = metrics(port);
        assert_eq!(sum_where(&m, "rsentinel_failovers_total", &[]), 1.0, "{m}");
        let led = sum_where(
            &m,
            "rsentinel_failovers_total",
            &["role=\"leader\"", "result=\"success\""],
        );
        let observed = sum_where(
            &m,
            "rsentinel_failovers_total",
            &["role=\"observer\"", "result=\"success\""],
        );
        assert_eq!(led + observed, 1.0, "{m}");
        assert_eq!(
            sample(&m, "rsentinel_events_total{event=\"+switch-master\"}"),
            1.0,
            "{m}"
        );
        // Link round trips of every kind and config flushes were observed.
        for series in [
            "rsentinel_link_rtt_seconds_count{kind=\"master\"}",
            "rsentinel_link_rtt_seconds_count{kind=\"replica\"}",
            "rsentinel_link_rtt_seconds_count{kind=\"sentinel\"}",
            "rsentinel_config_flush_seconds_count",
        ] {
            assert!(sample(&m, series) >= 1.0, "{series}:\n{m}");
        }
        assert_eq!(
            sum_where(
                &m,
                "rsentinel_master_state",
                &[
                    &format!("master_address=\"127.0.0.1:{new}\""),
                    "state=\"ok\""
                ]
            ),
            1.0,
            "{m}"
        );
        granted += sample(&m, "rsentinel_leader_votes_total{outcome=\"granted\"}");
        if led == 1.0 {
            leaders += 1;
            leader_http = port;
            for phase in ["detect", "elect", "promote", "reconfigure"] {
                assert_eq!(
                    sample(
                        &m,
                        &format!("rsentinel_failover_phase_seconds_count{{phase=\"{phase}\"}}")
                    ),
                    1.0,
                    "phase {phase}:\n{m}"
                );
            }
            assert_eq!(
                sample(&m, "rsentinel_leader_votes_total{outcome=\"won\"}"),
                1.0,
                "{m}"
            );
        } else {
            // An observer runs no promotion of its own.
            assert_eq!(
                sample(
                    &m,
                    "rsentinel_failover_phase_seconds_count{phase=\"promote\"}"
                ),
                0.0
            );
            assert!(
                sample(
                    &m,
                    "rsentinel_failover_phase_seconds_count{phase=\"detect\"}"
                ) <= 1.0
            );
        }
    }
    assert_eq!(leaders, 1, "exactly one sentinel led the failover");
    // A majority of three: at least one peer granted the leader its vote.
    assert!(granted >= 1.0, "no vote granted to a peer");

    // The page, loaded once before the failover, now shows the new master
    // (and remembers the old one it first drew) and the timeline.
    let out = dump.wait_with_output().expect("chromium ran");
    let dom = String::from_utf8_lossy(&out.stdout);
    let card = format!(
        "id=\"master-mymaster\" data-address=\"127.0.0.1:{new}\" data-initial-address=\"127.0.0.1:{old}\""
    );
    assert!(
        dom.contains(&card),
        "page did not update in place to {new}:\n{dom}"
    );
    assert!(dom.contains("data-stopped=\"+switch-master\""), "{dom}");
    // Every timeline event this sentinel recorded up to the switch is drawn
    // (an observer may learn the switch before its own SDOWN, so which
    // events there are depends on the run; that they all appear does not).
    let (_, body) = get(page_port, "/api/events?since=0").unwrap();
    let recorded: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut drawn = 0;
    for e in recorded["events"].as_array().unwrap() {
        let kind = e["kind"].as_str().unwrap();
        if TIMELINE_KINDS.contains(&kind) {
            drawn += 1;
            assert!(
                dom.contains(&format!("class=\"tl-event\" data-kind=\"{kind}\"")),
                "timeline lacks {kind}:\n{dom}"
            );
        }
        if kind == "+switch-master" {
            break;
        }
    }
    assert!(drawn >= 1, "no timeline event recorded:\n{body}");

    // The state is inlined in the page: its very first paint (what the
    // screenshot below captures) already shows the new master.
    let first_paint = browser(profile.path())
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{page_port}/?wait=1"))
        .output()
        .expect("chromium dump");
    let first_paint = String::from_utf8_lossy(&first_paint.stdout);
    assert!(
        first_paint.contains(&format!("data-address=\"127.0.0.1:{new}\"")),
        "first paint lacks the master:\n{first_paint}"
    );

    // A screenshot of the leader's page (every phase on its timeline),
    // kept as an artifact.
    let shot = target_dir().join("rsentinel-page.png");
    let _ = std::fs::remove_file(&shot);
    let status = browser(profile.path())
        .args(["--window-size=1280,900", "--timeout=5000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://127.0.0.1:{leader_http}/?wait=1"))
        .stdout(Stdio::null())
        .status()
        .expect("chromium screenshot");
    assert!(status.success(), "chromium screenshot failed: {status}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "bad screenshot"
    );
}

/// A master and one observed rsentinel (quorum 1) monitoring it.
fn one_sentinel_on_one_master() -> (Proc, Observed) {
    let master = redis_server(&[]);
    let body = format!("sentinel monitor mymaster 127.0.0.1 {} 1\n", master.port);
    (master, observed(&body))
}

fn rss_bytes(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).expect("statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_thousand_scrapes_add_no_more_than_a_few_mib() {
    let (_master, s) = one_sentinel_on_one_master();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Warm up: the allocator's arenas and the families' label sets settle.
    for _ in 0..100 {
        metrics(s.http);
    }
    let before = rss_bytes(s.proc.pid());
    for i in 0..1000 {
        assert!(Instant::now() < deadline, "scrape {i} past the deadline");
        let m = metrics(s.http);
        assert!(m.contains("rsentinel_masters 1"), "{m}");
        assert!(m.ends_with("# EOF\n"));
    }
    let after = rss_bytes(s.proc.pid());
    let grown = after.saturating_sub(before);
    assert!(
        grown < 4 * 1024 * 1024,
        "RSS grew by {grown} bytes over 1000 scrapes ({before} -> {after})"
    );
    let m = metrics(s.http);
    assert!(sample(&m, "rsentinel_http_requests_total{path=\"/metrics\"}") >= 1100.0);
    assert!(sample(&m, "process_resident_memory_bytes") > 0.0);
}

#[test]
fn the_json_api_is_documented_shape_and_bad_queries_are_refused() {
    let (master, s) = one_sentinel_on_one_master();
    let (status, body) = get(s.http, "/api/topology").unwrap();
    assert_eq!(status, 200);
    let topo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(topo["masters"][0]["name"], "mymaster");
    assert_eq!(
        topo["masters"][0]["address"],
        format!("127.0.0.1:{}", master.port)
    );
    assert_eq!(topo["masters"][0]["quorum_ok"], true);
    assert_eq!(topo["tilt"], false);
    let (status, body) = get(s.http, "/api/events?since=0").unwrap();
    assert_eq!(status, 200);
    let events: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(events["events"][0]["kind"], "+monitor");
    assert_eq!(events["events"][0]["master"], "mymaster");
    let last = events["last_seq"].as_u64().unwrap();
    let (_, body) = get(s.http, &format!("/api/events?since={last}")).unwrap();
    assert!(body.contains("\"events\":[]"), "{body}");
    assert_eq!(get(s.http, "/api/events?since=x").unwrap().0, 400);
    assert_eq!(get(s.http, "/nope").unwrap().0, 404);
    let (status, page) = get(s.http, "/").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("<title>rsentinel</title>")
            && !page.contains("http://")
            && !page.contains("https://")
    );
    // INFO tells rsentinel apart without touching Redis's fields.
    assert_eq!(
        info_value(s.proc.port, "server", "redis_version").as_deref(),
        Some("7.0.15")
    );
    assert_eq!(
        info_value(s.proc.port, "server", "rsentinel_version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_http_address_stops_the_start_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    for (addr, expected) in [
        (
            "nonsense",
            "RSENTINEL_HTTP_ADDR=\"nonsense\" is not a host:port address",
        ),
        ("127.0.0.1:99999", "is not a host:port address"),
        (busy.as_str(), "cannot listen"),
    ] {
        let mut p = rsentinel_started("", &[], &[(HTTP_VAR, addr)]);
        let code = p.wait_exit(Duration::from_secs(10));
        assert!(matches!(code, Some(c) if c != 0), "{addr}: exit {code:?}");
        let stderr = std::fs::read_to_string(p.path("stderr.txt")).unwrap_or_default();
        assert!(stderr.contains(expected), "{addr}: {stderr}");
        assert!(
            query(p.port, &["PING"]).is_none(),
            "{addr}: the sentinel answered anyway"
        );
    }
}
