//! Pub/sub as a sentinel client sees it: exact (un)subscribe confirmations,
//! driver events delivered as messages / pmessages (RESP2 arrays, RESP3
//! pushes), the RESP2 subscribed context, and slow subscribers dropped.

mod support;

use std::time::Duration;

use rsentinel::driver::handle::{PubMessage, Published};
use support::server::Harness;

fn event(channel: &str, message: &str) -> Published {
    Published::new(PubMessage {
        channel: channel.into(),
        message: message.into(),
    })
}

#[tokio::test]
async fn subscribe_confirms_each_channel_and_delivers_events_in_order() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.send(&["SUBSCRIBE", "+sdown", "+odown"]).await;
    c.expect(b"*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:1\r\n")
        .await;
    c.expect(b"*3\r\n$9\r\nsubscribe\r\n$6\r\n+odown\r\n:2\r\n")
        .await;
    c.send(&["PSUBSCRIBE", "+s*"]).await;
    c.expect(b"*3\r\n$10\r\npsubscribe\r\n$3\r\n+s*\r\n:3\r\n")
        .await;
    h.events
        .send(event("+sdown", "master m 127.0.0.1 6379"))
        .unwrap();
    h.events.send(event("+switch-master", "m 1 2 3 4")).unwrap();
    h.events
        .send(event("+odown", "master m 127.0.0.1 6379 #quorum 2/2"))
        .unwrap();
    h.events.send(event("-sdown", "ignored")).unwrap();
    c.expect(b"*3\r\n$7\r\nmessage\r\n$6\r\n+sdown\r\n$23\r\nmaster m 127.0.0.1 6379\r\n")
        .await;
    c.expect(
        b"*4\r\n$8\r\npmessage\r\n$3\r\n+s*\r\n$6\r\n+sdown\r\n$23\r\nmaster m 127.0.0.1 6379\r\n",
    )
    .await;
    c.expect(b"*4\r\n$8\r\npmessage\r\n$3\r\n+s*\r\n$14\r\n+switch-master\r\n$9\r\nm 1 2 3 4\r\n")
        .await;
    c.expect(
        b"*3\r\n$7\r\nmessage\r\n$6\r\n+odown\r\n$35\r\nmaster m 127.0.0.1 6379 #quorum 2/2\r\n",
    )
    .await;
    // Nothing for -sdown: the next bytes answer the PING.
    c.send(&["PING"]).await;
    c.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    h.stop().await;
}

#[tokio::test]
async fn resp2_subscribed_context_refuses_other_commands() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.exchange(
        b"subscribe a\r\ninfo\r\nclient list\r\nping x\r\nunsubscribe\r\nunsubscribe\r\npunsubscribe\r\nping\r\n",
        &[
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
            b"-ERR Can't execute 'info': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
            b"-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
            b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n",
            b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n",
            b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
            b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
            b"+PONG\r\n",
        ],
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn resp3_subscribers_get_push_frames_and_may_run_any_command() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.cmd(&["HELLO", "3"]).await;
    c.send(&["PSUBSCRIBE", "*"]).await;
    c.expect(b">3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n")
        .await;
    c.send(&["PING"]).await;
    c.expect(b"+PONG\r\n").await;
    h.events.send(event("+tilt", "#tilt mode entered")).unwrap();
    c.expect(b">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$5\r\n+tilt\r\n$18\r\n#tilt mode entered\r\n")
        .await;
    h.stop().await;
}

/// A subscriber that never reads falls behind the event stream and is
/// disconnected; the server keeps serving everyone else meanwhile.
#[tokio::test]
async fn a_subscriber_that_never_reads_is_dropped() {
    let h = Harness::start().await;
    let mut slow = h.connect().await;
    slow.send(&["PSUBSCRIBE", "*"]).await;
    slow.expect(b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n")
        .await;
    let mut other = h.connect().await;
    other.send_raw(b"PING\r\n").await;
    other.expect(b"+PONG\r\n").await;
    assert_eq!(h.state.clients.len(), 2);
    let big = "x".repeat(64 * 1024);
    // Bounded: at most 4000 events of 64 KiB (far more than the socket
    // buffers and the 64-event broadcast channel can hold).
    for _ in 0..4000 {
        if h.state.clients.len() < 2 {
            break;
        }
        let _ = h.events.send(event("+sdown", &big));
        tokio::task::yield_now().await;
    }
    assert!(
        h.eventually(|| h.state.clients.len() == 1).await,
        "the slow subscriber is gone"
    );
    other.send_raw(b"PING\r\n").await;
    other.expect(b"+PONG\r\n").await;
    tokio::time::timeout(Duration::from_secs(10), h.stop())
        .await
        .unwrap();
}
