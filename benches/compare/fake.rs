//! A tiny fake Redis master for the idle benchmarks: one listener per
//! "master" port, answering exactly what a sentinel sends a healthy master
//! with no replicas (PING, INFO, PUBLISH/SUBSCRIBE of hellos, anything else
//! `+OK`). A real `redis-server` per master would not fit 1 000 masters on a
//! 2-core box; both implementations are run against the same responder.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use rsentinel::resp::request::RequestDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::RuntimeThread;

type Subscribers = Arc<Mutex<Vec<(Vec<u8>, mpsc::UnboundedSender<Bytes>)>>>;

/// The running fake masters; dropped = every port closed.
pub struct FakeNodes {
    pub ports: Vec<u16>,
    /// Commands received on every port since start (PINGs, INFOs, ...).
    pub commands: Arc<AtomicU64>,
    /// PING, INFO, PUBLISH and other commands, for the breakdown.
    pub by_kind: Arc<[AtomicU64; 4]>,
    /// Serves every port; stopped when the nodes are dropped.
    _runtime: RuntimeThread,
}

impl FakeNodes {
    /// `n` fake masters on free loopback ports.
    pub fn start(n: usize) -> FakeNodes {
        let commands = Arc::new(AtomicU64::new(0));
        let by_kind: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
        let runtime = RuntimeThread::start();
        let in_rt = runtime.handle().enter();
        let mut ports = Vec::with_capacity(n);
        for i in 0..n {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.set_nonblocking(true).expect("non-blocking");
            ports.push(l.local_addr().expect("addr").port());
            let l = TcpListener::from_std(l).expect("listener");
            let run_id = format!("{:040x}", 0xfa4e_0000_0000u64 + i as u64);
            let subs: Subscribers = Arc::default();
            let counters = (commands.clone(), by_kind.clone());
            runtime.handle().spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(serve(s, run_id.clone(), subs.clone(), counters.clone()));
                }
            });
        }
        drop(in_rt);
        FakeNodes {
            ports,
            commands,
            by_kind,
            _runtime: runtime,
        }
    }

    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// (PING, INFO, PUBLISH, other) received so far.
    pub fn breakdown(&self) -> [u64; 4] {
        let k = &self.by_kind;
        [0, 1, 2, 3].map(|i| k[i].load(Ordering::Relaxed))
    }
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.put_slice(format!("${}\r\n", b.len()).as_bytes());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

async fn serve(
    mut s: tokio::net::TcpStream,
    run_id: String,
    subs: Subscribers,
    (counter, kinds): (Arc<AtomicU64>, Arc<[AtomicU64; 4]>),
) {
    let info = format!(
        "# Server\r\nredis_version:7.0.15\r\nrun_id:{run_id}\r\n\r\n# Replication\r\nrole:master\r\n\
         connected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_repl_offset:0\r\n"
    );
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        tokio::select! {
            n = s.read_buf(&mut buf) => {
                if !matches!(n, Ok(k) if k > 0) {
                    return;
                }
                let mut out = BytesMut::new();
                while let Ok(Some(args)) = dec.decode(&mut buf, true) {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let cmd = args[0].to_ascii_lowercase();
                    let kind = match cmd.as_slice() {
                        b"ping" => 0,
                        b"info" => 1,
                        b"publish" => 2,
                        _ => 3,
                    };
                    kinds[kind].fetch_add(1, Ordering::Relaxed);
                    match cmd.as_slice() {
                        b"ping" => out.put_slice(b"+PONG\r\n"),
                        b"info" => bulk(&mut out, info.as_bytes()),
                        b"publish" if args.len() == 3 => {
                            let mut msg = BytesMut::new();
                            msg.put_slice(b"*3\r\n");
                            bulk(&mut msg, b"message");
                            bulk(&mut msg, &args[1]);
                            bulk(&mut msg, &args[2]);
                            let msg = msg.freeze();
                            let mut n = 0;
                            let mut list = subs.lock().expect("subs");
                            list.retain(|(ch, sub)| {
                                if *ch != args[1] {
                                    return !sub.is_closed();
                                }
                                n += 1;
                                sub.send(msg.clone()).is_ok()
                            });
                            out.put_slice(format!(":{n}\r\n").as_bytes());
                        }
                        b"subscribe" => {
                            for (i, ch) in args[1..].iter().enumerate() {
                                subs.lock().expect("subs").push((ch.clone(), tx.clone()));
                                out.put_slice(b"*3\r\n");
                                bulk(&mut out, b"subscribe");
                                bulk(&mut out, ch);
                                out.put_slice(format!(":{}\r\n", i + 1).as_bytes());
                            }
                        }
                        _ => out.put_slice(b"+OK\r\n"),
                    }
                }
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
            Some(msg) = rx.recv() => {
                if s.write_all(&msg).await.is_err() {
                    return;
                }
            }
        }
    }
}
