//! The driver against an in-memory config sink that is slow (seconds per
//! write): a vote is answered only once the write recording it is done,
//! while queries are answered meanwhile and the sentinel never enters TILT.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use rsentinel::driver::handle::CoreHandle;
use rsentinel::driver::{ConfigSink, Driver, FlushError};
use rsentinel::link::LinkOptions;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

type Lines = rsentinel_core::sentinel::ConfigLines;

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
        .any(|l| l.joined() == b"sentinel current-epoch 5".as_slice())
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

/// A driver monitoring `m` at 127.0.0.1:`port` with a new run id (whose
/// write is the first one the sink sees), writing to `sink`.
fn start_driver(port: u16, sink: impl ConfigSink + 'static) -> (JoinHandle<()>, CoreHandle) {
    let mut core = Sentinel::new(7, 0);
    let monitor = ["monitor", "m", "127.0.0.1", &port.to_string(), "2"];
    core.apply_directive(Millis(0), &monitor).unwrap();
    core.ensure_myid();
    let options = LinkOptions {
        bind_source: None,
        tls: None,
    };
    let (driver, handle) = Driver::new(core, Box::new(sink), None, options);
    (tokio::spawn(driver.run()), handle)
}

/// Shuts the driver down and waits for it to stop.
async fn stop(handle: &CoreHandle, driver: JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(30), handle.shutdown())
        .await
        .expect("shutdown finishes");
    tokio::time::timeout(Duration::from_secs(30), driver)
        .await
        .expect("the driver stops")
        .unwrap();
}

const CANDIDATE: &str = "0123456789abcdef0123456789abcdef01234567";

#[tokio::test]
async fn votes_wait_for_their_write_while_queries_and_timers_go_on() {
    let master = support::redis_server(&[]);
    let port = master.port;
    let done = Arc::new(Mutex::new(Vec::new()));
    let vote_write_started = Arc::new(Mutex::new(false));
    let (release, gate) = std::sync::mpsc::channel();
    let sink = SlowSink {
        done: Arc::clone(&done),
        gate,
        vote_write_started: Arc::clone(&vote_write_started),
    };
    let (driver, handle) = start_driver(port, sink);
    let mut events = handle.subscribe();

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
        support::wait_until_async(Duration::from_secs(10), || *vote_write_started
            .lock()
            .unwrap())
        .await,
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
    stop(&handle, driver).await;
    assert!(
        done.lock().unwrap().len() > before,
        "a final write at shutdown"
    );
}

/// A disk where each write takes as long as the test holds `gate` (one
/// message releases one write).
struct EachWriteHeld {
    done: Arc<Mutex<Vec<Lines>>>,
    gate: std::sync::mpsc::Receiver<()>,
    started: Arc<Mutex<usize>>,
}

impl ConfigSink for EachWriteHeld {
    fn flush(&mut self, lines: Lines) -> Result<(), FlushError> {
        *self.started.lock().unwrap() += 1;
        // Bounded: a test that forgets to release still ends.
        let _ = self.gate.recv_timeout(Duration::from_secs(60));
        self.done.lock().unwrap().push(lines);
        Ok(())
    }
}

fn has_line(lines: &Lines, line: &str) -> bool {
    lines.iter().any(|l| l.joined() == line.as_bytes())
}

/// While one write is in flight, the snapshots asked for meanwhile are
/// built once it is done (the core keeps what it owes): a SET made during
/// the write must still wait for a later write that holds it, not be
/// released by the acknowledgement of the one in flight.
#[tokio::test]
async fn a_change_made_during_a_write_waits_for_the_next_write() {
    let done = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Mutex::new(0));
    let (release, gate) = std::sync::mpsc::channel();
    let sink = EachWriteHeld {
        done: Arc::clone(&done),
        gate,
        started: Arc::clone(&started),
    };
    // Nothing listens on port 1: the test needs no data node.
    let (driver, handle) = start_driver(1, sink);
    // The new run id's write is in flight and held.
    assert!(
        support::wait_until_async(Duration::from_secs(10), || *started.lock().unwrap() >= 1).await
    );

    let set = |value: &'static str| {
        let handle = handle.clone();
        tokio::spawn(async move {
            let args: Vec<Vec<u8>> = ["set", "m", "down-after-milliseconds", value]
                .iter()
                .map(|a| a.as_bytes().to_vec())
                .collect();
            handle.sentinel(&args).await
        })
    };
    // The SETs are sent one after the other (each applied by the core, as
    // SENTINEL MASTER shows, before the next) so that the last one wins.
    let mut tasks = Vec::new();
    for value in ["1234", "4321"] {
        tasks.push(set(value));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let master = tokio::time::timeout(
                Duration::from_secs(10),
                handle.sentinel(&[b"master".to_vec(), b"m".to_vec()]),
            )
            .await
            .expect("queries are answered during the write");
            if support::field(&master, "down-after-milliseconds").as_deref() == Some(value) {
                break;
            }
            assert!(Instant::now() < deadline, "the SET was applied");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let [first, second]: [_; 2] = tasks.try_into().expect("two SETs");
    // ...and neither may be answered before a write holding it is done.
    assert!(!first.is_finished() && !second.is_finished());

    // The held write completes; the next one (holding the SETs) starts and
    // is held in turn: the SETs must still be waiting.
    release.send(()).unwrap();
    assert!(
        support::wait_until_async(Duration::from_secs(10), || *started.lock().unwrap() >= 2).await
    );
    let (mut first, mut second) = (first, second);
    for task in [&mut first, &mut second] {
        let early = tokio::time::timeout(Duration::from_millis(200), task).await;
        assert!(early.is_err(), "a SET was answered before its write");
    }
    assert_eq!(done.lock().unwrap().len(), 1);

    drop(release);
    for task in [first, second] {
        let reply = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the SET is answered once written")
            .unwrap();
        assert_eq!(reply, Reply::ok());
    }
    let writes = done.lock().unwrap().clone();
    let last = writes.get(1).expect("a second write");
    assert!(
        has_line(last, "sentinel down-after-milliseconds m 4321"),
        "the write after the held one has both changes, the last one winning"
    );
    assert!(
        !has_line(&writes[0], "sentinel down-after-milliseconds m 4321"),
        "the held write predates the SETs"
    );

    stop(&handle, driver).await;
}
