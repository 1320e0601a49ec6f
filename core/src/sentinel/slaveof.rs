//! The SLAVEOF transaction, exactly as Redis sends it: `MULTI`, `SLAVEOF`,
//! `CONFIG REWRITE`, `CLIENT KILL TYPE normal`, `CLIENT KILL TYPE pubsub`,
//! `EXEC` — every name through rename-command. Killing the clients is what
//! pushes them to ask the sentinels again.

use super::addr::Addr;
use super::links::{LinkId, Tag, Target};
use super::Sentinel;

impl Sentinel {
    /// Queues the transaction that makes `target` a replica of `to`, or a
    /// master when `to` is `None`. False when the link is down.
    pub(crate) fn send_slaveof(&mut self, target: &Target, to: Option<&Addr>) -> bool {
        let connected = self.common(target).is_some_and(|c| c.link.cc_connected);
        if !connected {
            return false;
        }
        let (host, port) = match to {
            // Redis sends the announced form: the hostname itself with
            // `announce-hostnames yes`.
            Some(a) => (
                self.announced(a).as_bytes().to_vec(),
                a.port.to_string().into_bytes(),
            ),
            None => (b"NO".to_vec(), b"ONE".to_vec()),
        };
        let link = LinkId::cmd(target.clone());
        let cmds: [Vec<Vec<u8>>; 6] = [
            vec![b"MULTI".to_vec()],
            vec![b"SLAVEOF".to_vec(), host, port],
            vec![b"CONFIG".to_vec(), b"REWRITE".to_vec()],
            vec![
                b"CLIENT".to_vec(),
                b"KILL".to_vec(),
                b"TYPE".to_vec(),
                b"normal".to_vec(),
            ],
            vec![
                b"CLIENT".to_vec(),
                b"KILL".to_vec(),
                b"TYPE".to_vec(),
                b"pubsub".to_vec(),
            ],
            vec![b"EXEC".to_vec()],
        ];
        for cmd in cmds {
            self.send(link.clone(), Tag::Ignore, cmd);
        }
        true
    }
}
