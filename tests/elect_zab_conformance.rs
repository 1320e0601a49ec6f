//! Conformance: the core's fast leader election as one extra voter (sid 1,
//! weight 0, empty history) beside three Java ZooKeeper servers (sids 2-4)
//! this test started. It must decide the same leader and round as the
//! Java servers, before and after `kill -9` of their leader. Only the JVMs
//! started here are killed.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use rsentinel_core::zab::wire::{Handshake, WireState};
use support::free_port;
use support::zab_voter::Voter;
use support::zk::ZkEnsemble;

/// Whether the Java leader told us it stood for itself in `round`: a
/// LOOKING vote for itself, or its LEADING answer after deciding.
fn java_leader_stood(voter: &Voter, (leader, round): (u64, u64)) -> bool {
    let log = voter.log.lock().unwrap();
    log.heard.get(&leader).is_some_and(|votes| {
        votes.iter().any(|&(state, l, r)| {
            matches!(state, WireState::Leading | WireState::Looking) && l == leader && r == round
        })
    })
}

/// The voter's decision is the round in which the Java leader stood for
/// itself, and the voter never decided for itself.
fn assert_agrees(voter: &Voter, decided: (u64, u64)) {
    // The voter decides on the Java servers' votes, so the leader's own
    // vote has normally arrived already; its LEADING answer may follow.
    let stood = support::wait_until(Duration::from_secs(10), || {
        java_leader_stood(voter, decided)
    });
    assert!(
        stood,
        "leader {} never stood for itself in round {}: {:?}",
        decided.0,
        decided.1,
        voter.log.lock().unwrap()
    );
    let log = voter.log.lock().unwrap();
    assert!(
        log.decisions.iter().all(|&(d, _)| d != 1),
        "never itself: {log:?}"
    );
}

#[test]
fn the_core_voter_agrees_with_java_servers_before_and_after_a_leader_kill() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let extra = vec![
        format!("server.1=127.0.0.1:{}:{port}", free_port()),
        // One group, the voter weighing nothing: quorums are the Java
        // servers' alone, so a voter that never syncs cannot stall them.
        "group.1=1:2:3:4".to_string(),
        "weight.1=0".to_string(),
        "weight.2=1".to_string(),
        "weight.3=1".to_string(),
        "weight.4=1".to_string(),
    ];
    let mut zk = ZkEnsemble::configure(&[2, 3, 4], &extra);
    let voter = Voter::start(1, listener, vec![(1, 0), (2, 1), (3, 1), (4, 1)]);
    zk.start_all();
    let leader = zk.leader().expect("srvr names a leader");
    let (l, round) = voter
        .wait_decision(Duration::from_secs(10), |l, _| l == leader)
        .expect("the voter decides the Java servers' leader");
    assert_agrees(&voter, (l, round));

    zk.kill(leader);
    let (next, next_round) = voter
        .wait_decision(Duration::from_secs(10), |l, r| l != leader && r > round)
        .expect("the voter follows the re-election");
    assert!(support::wait_until(Duration::from_secs(10), || zk.leader() == Some(next)));
    assert_agrees(&voter, (next, next_round));

    eprintln!("voter: {:?}", voter.log.lock().unwrap());

    // Malformed traffic to the voter: closed, logged, voter unharmed.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut bad = Handshake::v1(9, "127.0.0.1", 1).encode();
    bad[..8].copy_from_slice(&(-7i64).to_be_bytes());
    s.write_all(&bad).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)), "closed");
    assert!(support::wait_until(Duration::from_secs(5), || {
        voter
            .log
            .lock()
            .unwrap()
            .refused
            .iter()
            .any(|r| r.contains("unrecognized protocol version -7"))
    }));
}
