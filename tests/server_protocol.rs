//! The server speaks RESP like redis-sentinel: inline and multibulk
//! requests, pipelining, exact error wording, protocol errors that close
//! only the offending connection, and HELLO's RESP3 switch.

mod support;

use rsentinel_core::reply::Reply;
use support::server::{text, Harness};

#[tokio::test]
async fn inline_ping_gets_pong_and_ping_echoes_its_argument() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.send_raw(b"PING\r\n").await;
    c.expect(b"+PONG\r\n").await;
    c.send_raw(b"*2\r\n$4\r\nping\r\n$5\r\nhello\r\n").await;
    c.expect(b"$5\r\nhello\r\n").await;
    c.send_raw(b"ping a b\r\n").await;
    c.expect(b"-ERR wrong number of arguments for 'ping' command\r\n")
        .await;
    h.stop().await;
}

#[tokio::test]
async fn unknown_commands_and_wrong_arity_use_redis_wording() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.exchange(
        b"get x y\r\nquit\r\nrole x\r\nsentinel nosuch\r\nclient\r\n",
        &[
            b"-ERR unknown command 'get', with args beginning with: 'x' 'y' \r\n",
            b"-ERR unknown command 'quit', with args beginning with: \r\n",
            b"-ERR wrong number of arguments for 'role' command\r\n",
            b"-ERR unknown subcommand 'nosuch'. Try SENTINEL HELP.\r\n",
            b"-ERR wrong number of arguments for 'client' command\r\n",
        ],
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend_from_slice(format!("ping {i}\r\n").as_bytes());
    }
    c.send_raw(&batch).await;
    for i in 0..500 {
        let want = i.to_string();
        c.expect(format!("${}\r\n{want}\r\n", want.len()).as_bytes())
            .await;
    }
    h.stop().await;
}

#[tokio::test]
async fn sentinel_role_and_publish_are_forwarded_to_the_driver() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    let r = c.cmd(&["SENTINEL", "masters"]).await;
    assert_eq!(text(&r), "core saw masters");
    c.send(&["ROLE"]).await;
    c.expect(b"*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n")
        .await;
    c.send(&["PUBLISH", "other", "x"]).await;
    c.expect(b"-ERR Only HELLO messages are accepted by Sentinel instances.\r\n")
        .await;
    c.send(&[
        "PUBLISH",
        "__sentinel__:hello",
        "1.2.3.4,26379,abc,0,m,1.2.3.5,6379,0",
    ])
    .await;
    c.expect(b":1\r\n").await;
    assert_eq!(
        h.driver_log(),
        vec![
            "sentinel masters".to_string(),
            "hello 1.2.3.4,26379,abc,0,m,1.2.3.5,6379,0".to_string()
        ]
    );
    h.stop().await;
}

/// Each malformed input gets Redis's protocol error and a closed
/// connection, while a second client keeps being served throughout.
#[tokio::test]
async fn malformed_input_closes_only_that_connection() {
    let h = Harness::start().await;
    let mut bystander = h.connect().await;
    let mut noise = vec![0u8; 1 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in noise.iter_mut() {
        // xorshift: deterministic bytes that never form a valid request
        // line within the inline limit.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x as u8) | 0x01;
        if *b == b'\n' || *b == b'\r' || *b == b'*' {
            *b = b'a';
        }
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"*abc\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$2147483648\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\nfoo\r\n".to_vec(),
            "-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"ping \"unbalanced\r\n".to_vec(),
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (noise, "-ERR Protocol error: too big inline request\r\n"),
        (
            b"*1\r\n".repeat(100_000),
            "-ERR Protocol error: expected '$', got '*'\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut c = h.connect().await;
        // The server may close before reading everything we send.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut c.stream, &input).await;
        let got = c.until_closed().await;
        assert_eq!(String::from_utf8_lossy(&got), want);
        bystander.send_raw(b"PING\r\n").await;
        bystander.expect(b"+PONG\r\n").await;
    }
    h.stop().await;
}

#[tokio::test]
async fn hello_3_switches_to_resp3_with_the_sentinel_map() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    let id = match c.cmd(&["CLIENT", "ID"]).await {
        Reply::Int(n) => n,
        other => panic!("{other:?}"),
    };
    c.send(&["HELLO", "3"]).await;
    let want = format!(
        "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
         $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n\
         $7\r\nmodules\r\n*0\r\n"
    );
    c.expect(want.as_bytes()).await;
    // RESP3 nulls, and INFO stays a plain bulk string.
    c.send(&["CLIENT", "GETNAME"]).await;
    c.expect(b"_\r\n").await;
    c.send(&["INFO", "sentinel"]).await;
    c.expect(b"$32\r\n# Sentinel\r\nsentinel_masters:0\r\n\r\n")
        .await;
    c.send(&["HELLO", "4"]).await;
    c.expect(b"-NOPROTO unsupported protocol version\r\n").await;
    c.send(&["HELLO", "x"]).await;
    c.expect(b"-ERR Protocol version is not an integer or out of range\r\n")
        .await;
    c.send(&["HELLO", "2", "foo"]).await;
    c.expect(b"-ERR Syntax error in HELLO option 'foo'\r\n")
        .await;
    c.send(&["HELLO", "2", "SETNAME", "app"]).await;
    let r = c.read().await;
    assert!(
        matches!(r, Reply::Array(ref items) if items.len() == 12),
        "{r:?}"
    );
    assert_eq!(text(&c.cmd(&["CLIENT", "GETNAME"]).await), "app");
    h.stop().await;
}

#[tokio::test]
async fn info_has_redis_sections_in_order() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    let all = text(&c.cmd(&["INFO"]).await);
    let titles: Vec<&str> = all.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        titles,
        vec!["# Server", "# Clients", "# Stats", "# CPU", "# Sentinel"]
    );
    assert!(all.contains("\r\nredis_mode:sentinel\r\n"));
    assert!(all.contains("\r\nredis_version:7.0.15\r\n"));
    assert!(all.contains(&format!("\r\ntcp_port:{}\r\n", h.addr.port())));
    assert!(all.contains("\r\nrun_id:0123456789abcdef0123456789abcdef01234567\r\n"));
    assert!(all.contains("\r\nconnected_clients:1\r\n"));
    assert!(all.contains("\r\nconfig_file:/tmp/rsentinel-test.conf\r\n"));
    assert!(all.contains("io_threads_active:0\r\n\r\n# Clients\r\n"));
    c.send(&["INFO", "nosuch"]).await;
    c.expect(b"$0\r\n\r\n").await;
    let some = text(&c.cmd(&["INFO", "sentinel", "CPU"]).await);
    assert!(some.starts_with("# CPU\r\nused_cpu_sys:"));
    assert!(some.ends_with("\r\n\r\n# Sentinel\r\nsentinel_masters:0\r\n"));
    let stats = text(&c.cmd(&["INFO", "stats"]).await);
    let processed: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(processed >= 3, "{stats}");
    h.stop().await;
}

#[tokio::test]
async fn client_list_and_info_describe_the_connection() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    let mut other = h.connect().await;
    other.cmd(&["CLIENT", "SETNAME", "watcher"]).await;
    let local = c.stream.local_addr().unwrap();
    let info = text(&c.cmd(&["CLIENT", "INFO"]).await);
    assert!(
        info.starts_with(&format!("id=1 addr={local} laddr={} fd=", h.addr)),
        "{info}"
    );
    assert!(
        info.ends_with(" cmd=client|info user=default redir=-1 resp=2\n"),
        "{info}"
    );
    let list = text(&c.cmd(&["CLIENT", "LIST"]).await);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(" name=watcher "));
    let by_id = text(&c.cmd(&["CLIENT", "LIST", "ID", "2"]).await);
    assert!(by_id.starts_with("id=2 ") && by_id.lines().count() == 1);
    c.send(&["CLIENT", "LIST", "TYPE", "x"]).await;
    c.expect(b"-ERR Unknown client type 'x'\r\n").await;
    c.send(&["CLIENT", "SETNAME", "a b"]).await;
    c.expect(b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        .await;
    // RESP3 gets a verbatim string.
    c.cmd(&["HELLO", "3"]).await;
    c.send(&["CLIENT", "INFO"]).await;
    let mut head = [0u8; 1];
    tokio::io::AsyncReadExt::read_exact(&mut c.stream, &mut head)
        .await
        .unwrap();
    assert_eq!(head[0], b'=');
    h.stop().await;
}

#[tokio::test]
async fn client_reply_off_and_skip_hide_replies() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.send_raw(b"client reply off\r\nping\r\nclient reply on\r\nping 1\r\nclient reply skip\r\nping 2\r\nping 3\r\n")
        .await;
    c.expect(b"+OK\r\n$1\r\n1\r\n$1\r\n3\r\n").await;
    h.stop().await;
}
