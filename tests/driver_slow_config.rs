//! The driver against an in-memory config sink that is slow (seconds per
//! write): a vote is answered only once the write recording it is done,
//! while queries are answered meanwhile and the sentinel never enters TILT.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsentinel::driver::{ConfigSink, Driver, FlushError};
use rsentinel::link::LinkOptions;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

type Lines = Vec<Vec<Vec<u8>>>;

/// A disk that takes a second per write, except the write holding the
/// vote, which takes as long as the test holds `gate`.
struct SlowSink {
    done: Arc<Mutex<Vec<Lines>>>,
    gate: std::sync::mpsc::Receiver<()>,
    vote_write_started: Arc<Mutex<bool>>,
}

fn has_vote(lines: &Lines) -> bool {
    lines
        .iter()
        .any(|l| l.join(&b' ') == b"sentinel current-epoch 5".as_slice())
}

impl ConfigSink for SlowSink {
    fn flush(&mut self, lines: Lines) -> Result<(), FlushError> {
        if has_vote(&lines) {
            *self.vote_write_started.lock().unwrap() = true;
            // Bounded: a test that forgets to release still ends.
            let _ = self.gate.recv_timeout(Duration::from_secs(60));
        } else {
            std::thread::sleep(Duration::from_secs(1));
        }
        self.done.lock().unwrap().push(lines);
        Ok(())
    }
}

const CANDIDATE: &str = "0123456789abcdef0123456789abcdef01234567";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_wait_for_their_write_while_queries_and_timers_go_on() {
    let master = support::redis_server(&[]);
    let port = master.port;
    let mut core = Sentinel::new(7, 0);
    let monitor = ["monitor", "m", "127.0.0.1", &port.to_string(), "2"];
    core.apply_directive(Millis(0), &monitor).unwrap();
    core.ensure_myid();
    let done = Arc::new(Mutex::new(Vec::new()));
    let vote_write_started = Arc::new(Mutex::new(false));
    let (release, gate) = std::sync::mpsc::channel();
    let sink = SlowSink {
        done: Arc::clone(&done),
        gate,
        vote_write_started: Arc::clone(&vote_write_started),
    };
    let options = LinkOptions {
        bind_source: None,
        tls: None,
    };
    let (driver, handle) = Driver::new(core, Box::new(sink), None, options);
    let mut events = handle.subscribe();
    let driver = tokio::spawn(driver.run());

    let vote = {
        let handle = handle.clone();
        let args = ["is-master-down-by-addr", "127.0.0.1", &port.to_string()];
        let mut args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        args.push(b"5".to_vec());
        args.push(CANDIDATE.as_bytes().to_vec());
        tokio::spawn(async move { handle.sentinel(&args).await })
    };

    // Hold the vote's write for well over TILT's 2 s threshold, asking
    // queries the whole time: each is answered although the write is not.
    let held_since = Instant::now();
    let mut answered = 0;
    while held_since.elapsed() < Duration::from_millis(3000) && answered < 10_000 {
        let addr = tokio::time::timeout(
            Duration::from_secs(10),
            handle.sentinel(&[b"get-master-addr-by-name".to_vec(), b"m".to_vec()]),
        )
        .await
        .expect("get-master-addr-by-name answered during the write");
        assert_eq!(
            addr,
            Reply::Array(vec![
                Reply::bulk("127.0.0.1"),
                Reply::bulk(port.to_string())
            ])
        );
        let role = tokio::time::timeout(Duration::from_secs(10), handle.role())
            .await
            .expect("ROLE answered during the write");
        assert!(matches!(role, Reply::Array(_)));
        answered += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered > 0);
    assert!(
        support::wait_until(Duration::from_secs(10), || *vote_write_started
            .lock()
            .unwrap()),
        "the vote asked for a write"
    );
    assert!(!vote.is_finished(), "the vote waits for its write");
    assert!(!done.lock().unwrap().iter().any(has_vote));
    let info = handle.info_section().await;
    assert!(info.contains("sentinel_tilt:0"), "{info}");

    release.send(()).unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(30), vote)
        .await
        .expect("the vote is answered once written")
        .unwrap();
    assert!(
        done.lock().unwrap().iter().any(has_vote),
        "the write covering the vote completed before the reply"
    );
    assert_eq!(
        reply,
        Reply::Array(vec![Reply::Int(0), Reply::bulk(CANDIDATE), Reply::Int(5)])
    );
    while let Ok(e) = events.try_recv() {
        assert_ne!(e.channel, "+tilt", "no TILT while the disk was slow");
    }

    // Shutdown still writes the final config (the gate no longer holds it).
    drop(release);
    let before = done.lock().unwrap().len();
    tokio::time::timeout(Duration::from_secs(30), handle.shutdown())
        .await
        .expect("shutdown finishes");
    tokio::time::timeout(Duration::from_secs(30), driver)
        .await
        .expect("the driver stops")
        .unwrap();
    assert!(
        done.lock().unwrap().len() > before,
        "a final write at shutdown"
    );
}
