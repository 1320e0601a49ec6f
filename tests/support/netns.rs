//! A private network of hosts for partition tests: one bridge, one network
//! namespace per host (and one for clients), veth pairs, addresses in a
//! 10.2xx.y.0/24 chosen per run, processes started inside the namespaces
//! with `ip netns exec`, and partitions as nftables rules inside the
//! namespaces (healed by deleting the table). Nothing outside the
//! namespaces and the bridge/veths created here is touched: no address on
//! the bridge, no route, no firewall rule in the root namespace.
//!
//! Every name carries this suite's prefix, the test process's pid and a
//! counter; `Drop` kills the processes and deletes the namespaces and the
//! bridge (also on panic), and [`sweep`] deletes leftovers of dead test
//! processes only.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{wait_until, Client, Reply};

const NS_PREFIX: &str = "rsp";
const BR_PREFIX: &str = "rsb";
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn nft(ns: &str, script: &str) -> Result<(), String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", script])
        .output()
        .map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft {script}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The pid a leftover name belongs to: `<prefix><pid>x…`.
fn owner(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('x').next()?.parse().ok()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes namespaces and bridges with this suite's prefix whose owning
/// test process is dead (an interrupted earlier run). Nothing else.
pub fn sweep() {
    let me = std::process::id();
    if let Ok(list) = ip(&["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if owner(name, NS_PREFIX).is_some_and(|p| p != me && !alive(p)) {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
    if let Ok(list) = ip(&["-o", "link", "show", "type", "bridge"]) {
        for name in list.lines().filter_map(|l| l.split(": ").nth(1)) {
            let name = name.split('@').next().unwrap_or(name);
            if owner(name, BR_PREFIX).is_some_and(|p| p != me && !alive(p)) {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

pub struct Host {
    pub ns: String,
    pub ip: Ipv4Addr,
}

pub struct Lab {
    pub hosts: Vec<Host>,
    pub client: Host,
    bridge: String,
    namespaces: Vec<String>,
    procs: Vec<(String, Child)>,
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// `n` hosts and a client namespace on a fresh bridge.
    pub fn new(n: usize) -> Lab {
        sweep();
        let pid = std::process::id();
        let c = COUNTER.fetch_add(1, Ordering::SeqCst);
        let bridge = format!("{BR_PREFIX}{pid}x{c}");
        let net = (200 + (pid % 50) as u8, (c % 250) as u8);
        let mut lab = Lab {
            hosts: Vec::new(),
            client: Host {
                ns: String::new(),
                ip: Ipv4Addr::UNSPECIFIED,
            },
            bridge: bridge.clone(),
            namespaces: Vec::new(),
            procs: Vec::new(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        ip(&["link", "add", &bridge, "type", "bridge"]).expect("bridge");
        ip(&["link", "set", &bridge, "up"]).expect("bridge up");
        for i in 0..=n {
            let ns = format!("{NS_PREFIX}{pid}x{c}h{i}");
            let addr = Ipv4Addr::new(10, net.0, net.1, if i == n { 100 } else { i as u8 + 1 });
            lab.add_host(
                &ns,
                addr,
                &format!("rv{pid}x{c}{i}"),
                &format!("rp{pid}x{c}{i}"),
            );
            let host = Host { ns, ip: addr };
            if i == n {
                lab.client = host;
            } else {
                lab.hosts.push(host);
            }
        }
        lab
    }

    fn add_host(&mut self, ns: &str, addr: Ipv4Addr, outer: &str, inner: &str) {
        ip(&["netns", "add", ns]).expect("netns add");
        self.namespaces.push(ns.to_string());
        let cidr = format!("{addr}/24");
        let steps: Vec<Vec<&str>> = vec![
            vec!["link", "add", outer, "type", "veth", "peer", "name", inner],
            vec!["link", "set", inner, "netns", ns],
            vec!["link", "set", outer, "master", &self.bridge],
            vec!["link", "set", outer, "up"],
            vec!["-n", ns, "link", "set", inner, "name", "eth0"],
            vec!["-n", ns, "addr", "add", &cidr, "dev", "eth0"],
            vec!["-n", ns, "link", "set", "eth0", "up"],
            vec!["-n", ns, "link", "set", "lo", "up"],
        ];
        for s in steps {
            ip(&s).expect("set up host");
        }
    }

    /// Starts `program args` inside host `ns` with extra environment.
    pub fn spawn(
        &mut self,
        name: &str,
        ns: &str,
        program: &PathBuf,
        args: &[String],
        envs: &[(&str, &str)],
    ) {
        let err =
            std::fs::File::create(self.dir.path().join(format!("{name}.stderr"))).expect("stderr");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .envs(envs.iter().copied())
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn in netns");
        self.procs.push((name.to_string(), child));
    }

    /// Names of the processes that exited on their own.
    pub fn exited(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, child) in &mut self.procs {
            if child.try_wait().ok().flatten().is_some() {
                out.push(name.clone());
            }
        }
        out
    }

    /// Host `from` can no longer exchange packets with the `to` addresses
    /// (rules on both ends, so either direction is cut).
    pub fn cut(&self, from: usize, to: &[usize]) {
        for &t in to {
            self.block(&self.hosts[from].ns, self.hosts[t].ip);
            self.block(&self.hosts[t].ns, self.hosts[from].ip);
        }
    }

    fn block(&self, ns: &str, peer: Ipv4Addr) {
        let script = format!(
            "add table inet rspart\n\
             add chain inet rspart in {{ type filter hook input priority 0 ; }}\n\
             add chain inet rspart out {{ type filter hook output priority 0 ; }}\n\
             add rule inet rspart in ip saddr {peer} drop\n\
             add rule inet rspart out ip daddr {peer} drop"
        );
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(script.as_bytes())?;
                c.wait_with_output()
            })
            .expect("nft");
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Host `from` can no longer exchange packets with the client.
    pub fn cut_client(&self, from: usize) {
        self.block(&self.hosts[from].ns, self.client.ip);
        self.block(&self.client.ns, self.hosts[from].ip);
    }

    /// Removes every partition rule.
    pub fn heal(&self) {
        for h in self.hosts.iter().chain(std::iter::once(&self.client)) {
            let _ = nft(&h.ns, "delete table inet rspart");
        }
    }

    /// Runs `f` on a thread inside the client namespace.
    pub fn in_client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns = self.client.ns.clone();
        std::thread::spawn(move || {
            enter(&ns);
            f()
        })
        .join()
        .expect("client thread")
    }
}

/// Moves the calling thread into network namespace `ns`.
pub fn enter(ns: &str) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns file");
    // SAFETY: setns on a valid namespace fd affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// One command to `addr` from the calling thread's namespace.
pub fn ask(addr: SocketAddr, args: &[&str]) -> Option<Reply> {
    Client::connect_addr(addr, Duration::from_millis(500))
        .ok()?
        .cmd(args)
        .ok()
}

/// Polls `cond` (on a client-namespace thread) until it holds.
pub fn wait_in(lab: &Lab, timeout: Duration, cond: impl FnMut() -> bool + Send + 'static) -> bool {
    let mut cond = cond;
    lab.in_client(move || wait_until(timeout, &mut cond))
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
