//! Config durability off the driver task: a thread that owns the config
//! sink and writes the latest snapshot the core asked to persist, then
//! acknowledges it by sequence number, so the driver can release the
//! replies that had to wait for the write.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use tokio::sync::mpsc;

/// The `sentinel ...` lines of one snapshot, as tokens.
pub type Lines = rsentinel_core::sentinel::ConfigLines;

/// Why a config write failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FlushError {
    /// Reading, writing, syncing or renaming the file failed.
    #[error("{0}")]
    Io(Arc<std::io::Error>),
    /// The write was refused for another reason (as a sink reports it).
    #[error("{0}")]
    Rejected(String),
    /// The writer is gone (the process is stopping).
    #[error("the config writer has stopped")]
    Stopped,
}

impl From<std::io::Error> for FlushError {
    fn from(e: std::io::Error) -> FlushError {
        FlushError::Io(Arc::new(e))
    }
}

/// Where the core's state is persisted: the config rewrite. Kept behind a
/// trait so the driver can be run against an in-memory sink in tests. It
/// runs on the writer's own thread, never on the driver task.
pub trait ConfigSink: Send {
    /// Rewrites the config with these `sentinel ...` lines (as tokens).
    fn flush(&mut self, sentinel_lines: Lines) -> Result<(), FlushError>;
}

/// The outcome of the write of snapshot `seq`; it also covers every
/// earlier snapshot (they were superseded by it).
#[derive(Debug)]
pub struct Ack {
    pub seq: u64,
    pub result: Result<(), FlushError>,
}

#[derive(Default)]
struct Slot {
    /// The newest snapshot not yet taken by the writer.
    latest: Option<(u64, Lines)>,
    /// No more snapshots will come: exit once `latest` is written.
    closing: bool,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

/// The driver's end of the writer.
pub struct ConfigWriter {
    shared: Shared,
    acks: mpsc::UnboundedReceiver<Ack>,
    last_seq: u64,
}

impl ConfigWriter {
    /// Starts the writer thread, which owns `sink` from now on.
    pub fn start(sink: Box<dyn ConfigSink>) -> ConfigWriter {
        let shared: Shared = Arc::default();
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let theirs = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("config-writer".into())
            .spawn(move || write_loop(sink, &theirs, &ack_tx));
        if let Err(e) = spawned {
            // Without a writer every wait would end with `Stopped`; say why.
            tracing::warn!("Cannot start the config writer thread: {e}");
        }
        ConfigWriter {
            shared,
            acks,
            last_seq: 0,
        }
    }

    /// Hands a snapshot to the writer, replacing any it has not started;
    /// returns its sequence number.
    pub fn submit(&mut self, lines: Lines) -> u64 {
        self.last_seq += 1;
        let (slot, wake) = &*self.shared;
        lock(slot).latest = Some((self.last_seq, lines));
        wake.notify_one();
        self.last_seq
    }

    /// The sequence number of the newest snapshot submitted (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The next acknowledgement; `None` once the writer is gone.
    pub async fn next_ack(&mut self) -> Option<Ack> {
        self.acks.recv().await
    }

    /// Tells the writer that no snapshot will follow: it exits after the
    /// pending one.
    pub fn close(&mut self) {
        let (slot, wake) = &*self.shared;
        lock(slot).closing = true;
        wake.notify_one();
    }
}

impl Drop for ConfigWriter {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    // A panic aborts the process, so a poisoned lock cannot be observed in
    // practice; the data is a plain value either way.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_loop(mut sink: Box<dyn ConfigSink>, shared: &Shared, acks: &mpsc::UnboundedSender<Ack>) {
    let (slot, wake) = &**shared;
    loop {
        let (seq, lines) = {
            let mut s = lock(slot);
            loop {
                if let Some(next) = s.latest.take() {
                    break next;
                }
                if s.closing {
                    return;
                }
                s = wake.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = sink.flush(lines);
        if let Err(e) = &result {
            tracing::warn!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
            );
        }
        if acks.send(Ack { seq, result }).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Records what it wrote; the first write blocks until released.
    struct Gate {
        written: Arc<Mutex<Vec<Lines>>>,
        release: std::sync::mpsc::Receiver<()>,
    }

    impl ConfigSink for Gate {
        fn flush(&mut self, lines: Lines) -> Result<(), FlushError> {
            let _ = self.release.recv_timeout(Duration::from_secs(10));
            self.written.lock().unwrap().push(lines);
            Ok(())
        }
    }

    fn snapshot(n: u8) -> Lines {
        let mut lines = Lines::default();
        lines.push([&[n][..]]);
        lines
    }

    #[tokio::test]
    async fn snapshots_queued_behind_a_write_are_coalesced_to_the_latest() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let (release, gate) = std::sync::mpsc::channel();
        let mut w = ConfigWriter::start(Box::new(Gate {
            written: Arc::clone(&written),
            release: gate,
        }));
        w.submit(snapshot(1));
        // Wait until the writer holds snapshot 1, so 2 and 3 queue behind it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while lock(&w.shared.0).latest.is_some() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.submit(snapshot(2));
        let last = w.submit(snapshot(3));
        release.send(()).unwrap();
        release.send(()).unwrap();
        let first = w.next_ack().await.unwrap();
        assert_eq!(first.seq, 1);
        let second = w.next_ack().await.unwrap();
        assert_eq!(second.seq, last);
        assert!(second.result.is_ok());
        assert_eq!(*written.lock().unwrap(), vec![snapshot(1), snapshot(3)]);
        w.close();
        assert!(w.next_ack().await.is_none(), "the writer exits when closed");
    }
}
