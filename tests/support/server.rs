//! Fixture for the in-process server tests: `server::run` on a loopback
//! port-0 listener, a fake driver that records what it is asked, and a raw
//! RESP client with deadlines on every read.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rsentinel::acl::Acl;
use rsentinel::driver::handle::{CoreHandle, Published, Request};
use rsentinel::resp::encode::encode_command;
use rsentinel::resp::reply_parse::ReplyParser;
use rsentinel::server::{self, ServerInfo, ServerState};
use rsentinel_core::reply::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Every read in these tests gives up after this long.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub struct Harness {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
    /// What the fake driver was asked, in order (`sentinel masters`,
    /// `hello <payload>`, `flush`, `shutdown`, ...).
    pub driver_log: Arc<Mutex<Vec<String>>>,
    pub events: broadcast::Sender<Published>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// The fake driver: answers each request with something recognisable.
async fn fake_driver(mut rx: mpsc::Receiver<Request>, log: Arc<Mutex<Vec<String>>>) {
    let note = |s: String| log.lock().unwrap().push(s);
    while let Some(req) = rx.recv().await {
        match req {
            Request::Sentinel(args, tx) => {
                let words: Vec<String> = args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                // `CoreHandle::flush_config` asks the core to write.
                if words == ["flushconfig"] {
                    note("flush".into());
                    let _ = tx.send(Reply::ok());
                    continue;
                }
                note(format!("sentinel {}", words.join(" ")));
                let _ = tx.send(Reply::bulk(format!("core saw {}", words.join(" "))));
            }
            Request::PeerQuestion { asker, host, port } => {
                note(format!("peer-question {asker} {host} {port}"));
            }
            Request::Hello(payload, tx) => {
                note(format!("hello {}", String::from_utf8_lossy(&payload)));
                let _ = tx.send(Reply::Int(1));
            }
            Request::InfoSection(tx) => {
                let _ = tx.send("# Sentinel\r\nsentinel_masters:0\r\n".to_string());
            }
            Request::Role(tx) => {
                let _ = tx.send(Reply::Array(vec![
                    Reply::bulk("sentinel"),
                    Reply::Array(vec![Reply::bulk("mymaster")]),
                ]));
            }
            Request::Shutdown(tx) => {
                note("shutdown".into());
                let _ = tx.send(());
            }
        }
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with(Acl::with_seed(7), 10_000).await
    }

    pub async fn with_requirepass(pass: &str) -> Harness {
        let mut acl = Acl::with_seed(7);
        acl.set_requirepass(Some(pass.as_bytes()));
        Harness::with(acl, 10_000).await
    }

    pub async fn with(acl: Acl, maxclients: usize) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let info = ServerInfo {
            port: addr.port(),
            config_file: "/tmp/rsentinel-test.conf".into(),
            executable: "/usr/bin/rsentinel".into(),
            run_id: "0123456789abcdef0123456789abcdef01234567".into(),
            started: Instant::now(),
            maxclients,
            requirepass: None,
            renamed_commands: Default::default(),
            protected_mode: false,
            supervised: "no",
            limits: Default::default(),
        };
        let state = Arc::new(ServerState::new(info, acl));
        let (req_tx, req_rx) = mpsc::channel(64);
        let (events, _) = broadcast::channel(64);
        let driver_log = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(fake_driver(req_rx, driver_log.clone()));
        let core = CoreHandle::new(req_tx, events.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(server::run(vec![listener], state.clone(), core, async {
            let _ = stop_rx.await;
        }));
        Harness {
            addr,
            state,
            driver_log,
            events,
            stop: Some(stop_tx),
            server: Some(server),
        }
    }

    pub async fn connect(&self) -> Conn {
        Conn {
            stream: TcpStream::connect(self.addr).await.unwrap(),
            buf: BytesMut::new(),
            parser: ReplyParser::new(),
        }
    }

    pub fn driver_log(&self) -> Vec<String> {
        self.driver_log.lock().unwrap().clone()
    }

    /// Polls `cond` until it holds or the deadline passes.
    pub async fn eventually(&self, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cond()
    }

    /// Resolves the shutdown future and waits for `run` to return.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(DEADLINE, self.server.take().unwrap())
            .await
            .expect("server::run returns after shutdown")
            .unwrap();
    }
}

pub struct Conn {
    pub stream: TcpStream,
    buf: BytesMut,
    parser: ReplyParser,
}

impl Conn {
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    pub async fn send(&mut self, args: &[&str]) {
        let mut out = BytesMut::new();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode_command(&args, &mut out);
        self.send_raw(&out).await;
    }

    /// Reads exactly `expected.len()` bytes and compares them.
    pub async fn expect(&mut self, expected: &[u8]) {
        while self.buf.len() < expected.len() {
            let n = tokio::time::timeout(DEADLINE, self.stream.read_buf(&mut self.buf))
                .await
                .expect("reply within the deadline")
                .unwrap();
            assert!(
                n > 0,
                "closed; got {:?}, want {:?}",
                String::from_utf8_lossy(&self.buf),
                String::from_utf8_lossy(expected)
            );
        }
        let got = self.buf.split_to(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Sends `raw` and then expects each of `replies`, in order.
    pub async fn exchange(&mut self, raw: &[u8], replies: &[&[u8]]) {
        self.send_raw(raw).await;
        for r in replies {
            self.expect(r).await;
        }
    }

    /// Reads one reply (RESP2 or RESP3).
    pub async fn read(&mut self) -> Reply {
        loop {
            if let Some(r) = self.parser.parse(&mut self.buf).expect("valid reply") {
                return r;
            }
            let n = tokio::time::timeout(DEADLINE, self.stream.read_buf(&mut self.buf))
                .await
                .expect("reply within the deadline")
                .unwrap();
            assert!(n > 0, "connection closed while waiting for a reply");
        }
    }

    pub async fn cmd(&mut self, args: &[&str]) -> Reply {
        self.send(args).await;
        self.read().await
    }

    /// Reads until the server closes the connection; returns what came.
    pub async fn until_closed(&mut self) -> Vec<u8> {
        loop {
            match tokio::time::timeout(DEADLINE, self.stream.read_buf(&mut self.buf))
                .await
                .expect("server closes within the deadline")
            {
                Ok(0) | Err(_) => return self.buf.split().to_vec(),
                Ok(_) => {}
            }
        }
    }
}

/// Text of a bulk/simple/error reply.
pub fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Reply::Simple(s) | Reply::Error(s) => s.clone(),
        other => panic!("not a string reply: {other:?}"),
    }
}
