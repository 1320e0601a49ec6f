//! A real ZooKeeper ensemble from Debian's `zookeeper` package for tests:
//! one JVM per server on free loopback ports, with its own `zoo.cfg`, `myid`
//! and data dir in a temp dir. Readiness is `srvr` reporting a mode; only the
//! JVMs started here are killed (SIGKILL, on drop too).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_ports, wait_until};

const JAR: &str = "/usr/share/java/zookeeper.jar";
/// slf4j's simple binding prints ZooKeeper's log (election notifications
/// included) on stderr, which goes to the server's log file.
const LOG_BINDING: &str = "/usr/share/java/slf4j-simple.jar";
const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// Panics when Debian's ZooKeeper is missing: these tests never skip.
pub fn require_zookeeper() {
    assert!(
        Path::new(JAR).is_file(),
        "Debian's `zookeeper` package is not installed ({JAR} is missing); scripts/install-deps.sh installs it"
    );
}

/// One server of the ensemble.
pub struct ZkServer {
    pub sid: u64,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl ZkServer {
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL (`kill -9`) and reap; the data dir is kept for a restart.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "server {} already runs", self.sid);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("server log file");
        let child = Command::new("java")
            // Two cores for everyone: a small heap, the serial collector and
            // the quick JIT tier keep a server at a few tens of MB and fast.
            .args([
                "-Xmx64m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Xss512k",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
                "-Dzookeeper.jmx.log4j.disable=true",
                "-cp",
                &format!("{JAR}:{LOG_BINDING}"),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(self.dir.join("zoo.cfg"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log fd")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn java for ZooKeeper");
        self.child = Some(child);
    }

    /// The `srvr` four-letter word's answer, if the server answers.
    pub fn srvr(&self) -> Option<String> {
        four_letter_word(self.client_port, "srvr")
    }

    /// `leader`, `follower` or `standalone` once the server serves.
    pub fn mode(&self) -> Option<String> {
        let srvr = self.srvr()?;
        srvr.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }

    /// The last zxid `srvr` reports.
    pub fn zxid(&self) -> Option<u64> {
        let srvr = self.srvr()?;
        let hex = srvr.lines().find_map(|l| l.strip_prefix("Zxid: 0x"))?;
        u64::from_str_radix(hex.trim(), 16).ok()
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("---- last lines of ZooKeeper server {} ----", self.sid);
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        self.kill();
    }
}

/// Sends a four-letter word and reads the answer until the server closes.
pub fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// A ZooKeeper ensemble; every server's dir lives in `dir`.
pub struct ZkEnsemble {
    pub servers: Vec<ZkServer>,
    pub dir: tempfile::TempDir,
}

impl ZkEnsemble {
    /// Starts servers with ids 1..=n and waits until each reports a mode.
    pub fn start(n: u64) -> ZkEnsemble {
        let sids: Vec<u64> = (1..=n).collect();
        let mut e = ZkEnsemble::configure(&sids, &[]);
        e.start_all();
        e
    }

    /// Writes every server's config without starting anything. `extra` are
    /// `server.N=...` lines of members the test plays itself.
    pub fn configure(sids: &[u64], extra: &[String]) -> ZkEnsemble {
        require_zookeeper();
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = free_ports(sids.len() * 3);
        let mut servers = Vec::new();
        for (i, &sid) in sids.iter().enumerate() {
            let sdir = dir.path().join(format!("zk{sid}"));
            std::fs::create_dir_all(sdir.join("data")).expect("data dir");
            std::fs::write(sdir.join("data/myid"), format!("{sid}\n")).expect("myid");
            servers.push(ZkServer {
                sid,
                client_port: ports[i * 3],
                quorum_port: ports[i * 3 + 1],
                election_port: ports[i * 3 + 2],
                dir: sdir,
                child: None,
            });
        }
        let mut members: Vec<String> = servers
            .iter()
            .map(|s| {
                format!(
                    "server.{}=127.0.0.1:{}:{}",
                    s.sid, s.quorum_port, s.election_port
                )
            })
            .collect();
        members.extend(extra.iter().cloned());
        for s in &servers {
            // A short tick keeps sessions (min 2 ticks) and failure
            // detection quick; the election itself does not depend on it.
            let cfg = format!(
                "tickTime=200\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
                 maxSessionTimeout=60000\n{}\n",
                s.dir.join("data").display(),
                s.client_port,
                members.join("\n")
            );
            std::fs::write(s.dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
        }
        ZkEnsemble { servers, dir }
    }

    /// Starts every server that is not running and waits until all report
    /// a mode (a leader was elected and the others synced).
    pub fn start_all(&mut self) {
        for s in &mut self.servers {
            if !s.is_running() {
                s.start();
            }
        }
        self.wait_serving(Duration::from_secs(30));
    }

    pub fn restart(&mut self, sid: u64) {
        self.server_mut(sid).start();
    }

    /// Waits until every running server reports a mode, and exactly one of
    /// them reports `leader`.
    pub fn wait_serving(&self, timeout: Duration) {
        let ok = wait_until(timeout, || {
            let modes: Vec<Option<String>> = self
                .servers
                .iter()
                .filter(|s| s.is_running())
                .map(ZkServer::mode)
                .collect();
            modes.iter().all(Option::is_some)
                && modes
                    .iter()
                    .filter(|m| m.as_deref() == Some("leader"))
                    .count()
                    == 1
        });
        assert!(
            ok,
            "the ZooKeeper ensemble did not serve within {timeout:?}"
        );
    }

    pub fn server(&self, sid: u64) -> &ZkServer {
        self.servers.iter().find(|s| s.sid == sid).expect("sid")
    }

    pub fn server_mut(&mut self, sid: u64) -> &mut ZkServer {
        self.servers.iter_mut().find(|s| s.sid == sid).expect("sid")
    }

    /// The sid `srvr` reports as leader, if exactly one does.
    pub fn leader(&self) -> Option<u64> {
        let leaders: Vec<u64> = self
            .servers
            .iter()
            .filter(|s| s.is_running() && s.mode().as_deref() == Some("leader"))
            .map(|s| s.sid)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    pub fn kill(&mut self, sid: u64) {
        self.server_mut(sid).kill();
    }

    pub fn kill_all(&mut self) {
        for s in &mut self.servers {
            s.kill();
        }
    }

    /// `host:port,...` of the client ports of the running servers.
    pub fn connect_string(&self) -> String {
        self.servers
            .iter()
            .filter(|s| s.is_running())
            .map(|s| format!("127.0.0.1:{}", s.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `sid@host:electionport,...` as `rsentinel elect zab-watch` takes it.
    pub fn election_servers(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("{}@127.0.0.1:{}", s.sid, s.election_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Runs Debian's `zkCli.sh` against the ensemble with one command; its
    /// stdout then stderr (3.8 prints some results, `Created /x`, on stderr).
    /// zkCli may run the command before its session is up (ConnectionLoss):
    /// callers retry with [`ZkEnsemble::zkcli_until`].
    pub fn zkcli(&self, command: &[&str]) -> String {
        let out = Command::new(ZKCLI)
            .arg("-server")
            .arg(self.connect_string())
            .args(command)
            .env(
                "JVMFLAGS",
                "-Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
            )
            .stdin(Stdio::null())
            .output()
            .expect("run zkCli.sh");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text
    }

    /// Runs `zkCli.sh` until its output satisfies `ok` (at most 10 tries);
    /// the last output.
    pub fn zkcli_until(&self, command: &[&str], ok: impl Fn(&str) -> bool) -> String {
        let mut out = String::new();
        for _ in 0..10 {
            out = self.zkcli(command);
            if ok(&out) {
                break;
            }
        }
        out
    }
}
