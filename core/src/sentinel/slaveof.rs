//! The SLAVEOF transaction, exactly as Redis sends it: `MULTI`, `SLAVEOF`,
//! `CONFIG REWRITE`, `CLIENT KILL TYPE normal`, `CLIENT KILL TYPE pubsub`,
//! `EXEC` — every name through rename-command. Killing the clients is what
//! pushes them to ask the sentinels again.

use super::addr::Addr;
use super::links::{LinkId, Tag, Target};
use super::output::Output;
use super::{Master, Sentinel};

impl Sentinel {
    /// Queues the transaction that makes `target` a replica of `to`, or a
    /// master when `to` is `None`. False when the link is down.
    pub(crate) fn send_slaveof(&mut self, target: &Target, to: Option<&Addr>) -> bool {
        // Redis sends the announced form: the hostname itself with
        // `announce-hostnames yes`.
        let to = to.map(|a| (self.announced(a).to_string(), a.port));
        let master = match target {
            Target::Master(name) | Target::Replica { master: name, .. } => name,
            Target::Sentinel(_) => return false,
        };
        let Some(m) = self.masters.known_mut(master) else {
            return false;
        };
        m.send_slaveof(
            &mut self.out,
            target,
            to.as_ref().map(|(h, p)| (h.as_str(), *p)),
        )
    }
}

impl Master {
    /// [`Sentinel::send_slaveof`] with the master in hand: `target` is this
    /// master or one of its replicas, `to` the announced host and port.
    pub(crate) fn send_slaveof(
        &mut self,
        out: &mut Output,
        target: &Target,
        to: Option<(&str, u16)>,
    ) -> bool {
        let connected = self.instance(target).is_some_and(|c| c.link.cc_connected);
        if !connected {
            return false;
        }
        let (host, port) = match to {
            Some((host, port)) => (host.as_bytes().to_vec(), port.to_string().into_bytes()),
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
            self.send(out, link.clone(), Tag::Ignore, cmd);
        }
        true
    }
}
