//! RESP against a real redis-server 7.0: the request decoder's verdicts and
//! error texts match Redis byte for byte, and the outbound client reads
//! PING, INFO, large bulks, pub/sub messages and RESP3 maps.

mod support;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rsentinel::resp::request::{ProtocolError, RequestDecoder};
use rsentinel::resp::RespConnection;
use support::{free_port, redis_server, Proc, Reply};

/// Where a shared-fixture redis-server listens.
fn addr(server: &Proc) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
}

/// What Redis sends back for raw `input`, then `<EOF>` if it closed the
/// connection or `<open>` if it was still waiting after a short quiet time.
fn redis_answer(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(input).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => {
                out.extend_from_slice(b"<EOF>");
                return out;
            }
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            // A reset right after the error reply is still a close.
            Err(_) => {
                out.extend_from_slice(b"<EOF>");
                return out;
            }
        }
    }
    out.extend_from_slice(b"<open>");
    out
}

/// What a server using our decoder would send: `+PONG` per decoded PING
/// (the only command the cases use), the error reply and a close, or
/// `<open>` while waiting for more bytes.
fn our_answer(input: &[u8], authenticated: bool) -> Vec<u8> {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match dec.decode(&mut buf, authenticated) {
            Ok(Some(req)) => {
                assert_eq!(req, vec![b"PING".to_vec()], "cases only send PING");
                out.extend_from_slice(b"+PONG\r\n");
            }
            Ok(None) => {
                out.extend_from_slice(b"<open>");
                return out;
            }
            Err(e) => {
                assert!(!matches!(e, ProtocolError::QueryBufferLimit { .. }));
                out.extend_from_slice(format!("-ERR {e}\r\n<EOF>").as_bytes());
                return out;
            }
        }
    }
}

fn compare_with_redis(server: &Proc, authenticated: bool, cases: Vec<Vec<u8>>) {
    let addr = addr(server);
    // The cases that wait cost a quiet period each; ask them in parallel.
    let handles: Vec<_> = cases
        .into_iter()
        .map(|case| std::thread::spawn(move || (redis_answer(addr, &case), case)))
        .collect();
    for h in handles {
        let (theirs, case) = h.join().unwrap();
        let ours = our_answer(&case, authenticated);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "input {:?}",
            String::from_utf8_lossy(&case[..case.len().min(60)])
        );
    }
}

fn long(prefix: &[u8], fill: u8, n: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend(std::iter::repeat_n(fill, n));
    v
}

#[test]
fn decoder_matches_redis_for_authenticated_clients() {
    let server = redis_server(&[]);
    let cases: Vec<Vec<u8>> = vec![
        b"PING\r\n".to_vec(),
        b"PING\n".to_vec(),
        b"\r\n\n  \r\nPING\r\n".to_vec(),
        b"*0\r\n*-1\r\n*-5\r\nPING\r\n".to_vec(),
        b"*1\r\n$4\r\nPING\r\n".to_vec(),
        b"*1\r\n$4\r\nPINGxx".to_vec(),
        b"*1\rX$4\r\nPING\r\n".to_vec(),
        b"*2147483647\r\n".to_vec(),
        b"*2147483648\r\n".to_vec(),
        b"*abc\r\n".to_vec(),
        b"*\r\n".to_vec(),
        b"*01\r\n".to_vec(),
        b"*-0\r\n".to_vec(),
        b"*+1\r\n".to_vec(),
        b"*1\n$4\r\nPING\r\n".to_vec(),
        b"*1\r\n*1\r\n*1\r\n".to_vec(),
        b"*1\r\nX\r\n".to_vec(),
        b"*1\r\n\r\n".to_vec(),
        b"*1\r\n\n\r\n".to_vec(),
        b"*1\r\n$-1\r\n".to_vec(),
        b"*1\r\n$abc\r\n".to_vec(),
        b"*1\r\n$536870912\r\n".to_vec(),
        b"*1\r\n$536870913\r\n".to_vec(),
        b"*1\r\n$2147483648\r\n".to_vec(),
        b"*1\r\n$16385\r\n".to_vec(),
        b"*11\r\n".to_vec(),
        b"PI\0NG\r\n".to_vec(),
        b"*1\r\n\0\r\n".to_vec(),
        b"PING \"a\r\n".to_vec(),
        b"PING 'a'b\r\n".to_vec(),
        long(b"", b'A', 65536),
        long(b"", b'A', 65537),
        long(b"A\0", b'A', 65535),
        long(b"*", b'1', 65535),
        long(b"*", b'1', 65536),
        long(b"*1\r\n$", b'1', 65536),
    ];
    compare_with_redis(&server, true, cases);
}

#[test]
fn decoder_matches_redis_for_unauthenticated_clients() {
    let server = redis_server(&["--requirepass", "sekret"]);
    let cases: Vec<Vec<u8>> = vec![
        b"*10\r\n".to_vec(),
        b"*11\r\n".to_vec(),
        b"*1\r\n$16384\r\n".to_vec(),
        b"*1\r\n$16385\r\n".to_vec(),
        b"*1\r\n$536870913\r\n".to_vec(),
        b"*2147483648\r\n".to_vec(),
        b"*1\r\n$-1\r\n".to_vec(),
        b"*-1\r\n*0\r\n".to_vec(),
    ];
    compare_with_redis(&server, false, cases);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn client_pings_and_reads_info_and_large_bulks() {
    let server = redis_server(&[]);
    runtime().block_on(async {
        let mut conn = RespConnection::connect(addr(&server), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(
            conn.request(&[b"PING"]).await.unwrap(),
            Reply::Simple("PONG".into())
        );

        let info = conn.request(&[b"INFO"]).await.unwrap();
        let text = info.as_str().expect("INFO is a bulk string").to_owned();
        assert!(text.starts_with("# Server\r\n"), "{text:.40}");
        assert!(text.contains("redis_version:7."));

        let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            conn.request(&[b"SET", b"big", &big]).await.unwrap(),
            Reply::ok()
        );
        assert_eq!(
            conn.request(&[b"GET", b"big"]).await.unwrap(),
            Reply::Bulk(big)
        );
        assert_eq!(
            conn.request(&[b"GET", b"missing"]).await.unwrap(),
            Reply::Null
        );
        let err = conn.request(&[b"NOSUCHCMD"]).await.unwrap();
        assert!(
            err.as_str().unwrap().starts_with("ERR unknown command"),
            "{err:?}"
        );
    });
}

#[test]
fn client_pipelines_commands() {
    let server = redis_server(&[]);
    runtime().block_on(async {
        let mut conn = RespConnection::connect(addr(&server), TIMEOUT)
            .await
            .unwrap();
        for i in 0..200 {
            conn.send(&[b"ECHO", i.to_string().as_bytes()])
                .await
                .unwrap();
        }
        for i in 0..200 {
            let reply = tokio::time::timeout(TIMEOUT, conn.next_reply())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(reply, Some(Reply::bulk(i.to_string())));
        }
    });
}

#[test]
fn local_addr_is_what_redis_sees() {
    let server = redis_server(&[]);
    runtime().block_on(async {
        let mut conn = RespConnection::connect(addr(&server), TIMEOUT)
            .await
            .unwrap();
        let info = conn.request(&[b"CLIENT", b"INFO"]).await.unwrap();
        let expected = format!("addr={} ", conn.local_addr().unwrap());
        assert!(
            info.as_str().unwrap().contains(&expected),
            "{info:?} lacks {expected}"
        );
        assert_eq!(conn.peer_addr().unwrap(), addr(&server));
    });
}

#[test]
fn connect_from_binds_the_local_address() {
    // Protected mode only trusts 127.0.0.1; the server still listens on
    // loopback alone.
    let server = redis_server(&["--protected-mode", "no"]);
    runtime().block_on(async {
        let source: std::net::IpAddr = [127, 0, 0, 2].into();
        let mut conn = RespConnection::connect_from(addr(&server), Some(source), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(conn.local_addr().unwrap().ip(), source);
        let info = conn.request(&[b"CLIENT", b"INFO"]).await.unwrap();
        assert!(
            info.as_str().unwrap().contains(" addr=127.0.0.2:"),
            "{info:?}"
        );
    });
}

fn bulks(items: &[&str]) -> Vec<Reply> {
    items.iter().map(Reply::bulk).collect()
}

/// Publishes `payload` on `channel` from a fresh connection; exactly one
/// subscriber must receive it.
async fn publish_to_one(server: &Proc, channel: &[u8], payload: &[u8]) {
    let mut publisher = RespConnection::connect(addr(server), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        publisher
            .request(&[b"PUBLISH", channel, payload])
            .await
            .unwrap(),
        Reply::Int(1)
    );
}

/// A fake peer on a loopback port: `serve` gets the one connection it
/// accepts; its result comes back through the handle.
async fn fake_peer<F, Fut, T>(serve: F) -> (SocketAddr, tokio::task::JoinHandle<T>)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        serve(s).await
    });
    (addr, peer)
}

#[test]
fn resp2_subscriber_receives_published_message_as_array() {
    let server = redis_server(&[]);
    runtime().block_on(async {
        let sub = RespConnection::connect(addr(&server), TIMEOUT)
            .await
            .unwrap();
        let (mut reader, mut writer) = sub.split();
        writer
            .send(&[b"SUBSCRIBE", b"__sentinel__:hello"])
            .await
            .unwrap();
        let confirm = reader.next_reply().await.unwrap().unwrap();
        assert_eq!(
            confirm,
            Reply::Array(vec![
                Reply::bulk("subscribe"),
                Reply::bulk("__sentinel__:hello"),
                Reply::Int(1)
            ])
        );
        publish_to_one(&server, b"__sentinel__:hello", b"hi there").await;
        let msg = tokio::time::timeout(TIMEOUT, reader.next_reply())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            msg,
            Some(Reply::Array(bulks(&[
                "message",
                "__sentinel__:hello",
                "hi there"
            ])))
        );
    });
}

#[test]
fn resp3_hello_is_a_map_and_messages_are_pushes() {
    let server = redis_server(&[]);
    runtime().block_on(async {
        let mut conn = RespConnection::connect(addr(&server), TIMEOUT)
            .await
            .unwrap();
        let Reply::Map(pairs) = conn.request(&[b"HELLO", b"3"]).await.unwrap() else {
            panic!("HELLO 3 must answer a map");
        };
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(name))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field("server"), Some(Reply::bulk("redis")));
        assert_eq!(field("proto"), Some(Reply::Int(3)));
        assert_eq!(
            conn.request(&[b"GET", b"missing"]).await.unwrap(),
            Reply::Null
        );

        conn.send(&[b"SUBSCRIBE", b"ch"]).await.unwrap();
        assert_eq!(
            conn.next_reply().await.unwrap(),
            Some(Reply::Push(vec![
                Reply::bulk("subscribe"),
                Reply::bulk("ch"),
                Reply::Int(1)
            ]))
        );
        publish_to_one(&server, b"ch", b"payload").await;
        let msg = tokio::time::timeout(TIMEOUT, conn.next_reply())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg, Some(Reply::Push(bulks(&["message", "ch", "payload"]))));
    });
}

#[test]
fn next_reply_survives_cancellation_mid_reply() {
    runtime().block_on(async {
        // A peer that dribbles one reply a few bytes at a time.
        let reply: &'static [u8] =
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$11\r\nhello world\r\n+after\r\n";
        let (addr, peer) = fake_peer(move |mut s| async move {
            use tokio::io::AsyncWriteExt;
            for chunk in reply.chunks(3) {
                s.write_all(chunk).await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        let mut conn = RespConnection::connect(addr, TIMEOUT).await.unwrap();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut got = Vec::new();
        let mut cancelled = 0;
        while got.len() < 2 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                r = conn.next_reply() => got.push(r.unwrap().unwrap()),
                _ = tokio::time::sleep(Duration::from_millis(1)) => cancelled += 1,
            }
        }
        assert!(cancelled > 0, "the race never cancelled a read");
        assert_eq!(
            got,
            vec![
                Reply::Array(bulks(&["message", "ch", "hello world"])),
                Reply::Simple("after".into())
            ]
        );
        peer.await.unwrap();
        assert_eq!(
            conn.next_reply().await.unwrap(),
            None,
            "clean close between replies"
        );
    });
}

#[test]
fn close_in_the_middle_of_a_reply_is_unexpected_eof() {
    runtime().block_on(async {
        let (addr, peer) = fake_peer(|mut s| async move {
            use tokio::io::AsyncWriteExt;
            s.write_all(b"$10\r\nhalf").await.unwrap();
        })
        .await;
        let mut conn = RespConnection::connect(addr, TIMEOUT).await.unwrap();
        peer.await.unwrap();
        let err = conn.next_reply().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    });
}

#[test]
fn garbage_from_a_peer_is_invalid_data() {
    runtime().block_on(async {
        let (addr, peer) = fake_peer(|mut s| async move {
            use tokio::io::AsyncWriteExt;
            s.write_all(&b"*1\r\n".repeat(100)).await.unwrap();
            s
        })
        .await;
        let mut conn = RespConnection::connect(addr, TIMEOUT).await.unwrap();
        let err = conn.next_reply().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        drop(peer.await.unwrap());
    });
}

#[test]
fn connecting_to_a_closed_port_fails() {
    runtime().block_on(async {
        let port = free_port();
        assert!(RespConnection::connect(("127.0.0.1", port), TIMEOUT)
            .await
            .is_err());
    });
}
