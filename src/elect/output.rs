//! Where decision lines go: stdout (flushed at once, for scripts and tests
//! that read the process) or a channel (for in-process embedding).

use std::io::Write;

use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone, Debug)]
pub enum LineSink {
    Stdout,
    Channel(UnboundedSender<String>),
}

impl LineSink {
    pub fn emit(&self, line: String) {
        match self {
            LineSink::Stdout => {
                let mut out = std::io::stdout().lock();
                // A closed stdout must not kill the node.
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            LineSink::Channel(tx) => {
                let _ = tx.send(line);
            }
        }
    }
}
