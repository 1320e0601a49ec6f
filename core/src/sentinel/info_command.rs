//! The `# Sentinel` section of INFO, and `ROLE`.

use super::Sentinel;
use crate::reply::Reply;
use crate::time::Millis;

impl Sentinel {
    /// The section text, CRLF-terminated lines, as Redis prints it.
    pub fn info_section(&self, now: Millis) -> String {
        let mut out = String::from("# Sentinel\r\n");
        out.push_str(&format!("sentinel_masters:{}\r\n", self.masters.len()));
        out.push_str(&format!("sentinel_tilt:{}\r\n", self.tilt as u8));
        let since = if self.tilt {
            now.since(self.tilt_start).0 as i64 / 1000
        } else {
            -1
        };
        out.push_str(&format!("sentinel_tilt_since_seconds:{since}\r\n"));
        out.push_str(&format!(
            "sentinel_running_scripts:{}\r\n",
            self.running_scripts()
        ));
        out.push_str(&format!(
            "sentinel_scripts_queue_length:{}\r\n",
            self.queued_scripts()
        ));
        out.push_str(&format!(
            "sentinel_simulate_failure_flags:{}\r\n",
            self.simulate_failure
        ));
        for (i, m) in self.masters.values().enumerate() {
            let status = if m.common.o_down {
                "odown"
            } else if m.common.s_down {
                "sdown"
            } else {
                "ok"
            };
            let addr = m.current_addr();
            out.push_str(&format!(
                "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.name,
                self.announced(addr),
                addr.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        out
    }

    /// `ROLE`: `["sentinel", [master names...]]`.
    pub fn role(&self) -> Reply {
        Reply::Array(vec![
            Reply::bulk("sentinel"),
            Reply::Array(self.masters.keys().map(Reply::bulk).collect()),
        ])
    }

    fn running_scripts(&self) -> usize {
        self.script_counts().0
    }

    fn queued_scripts(&self) -> usize {
        self.script_counts().1
    }
}
