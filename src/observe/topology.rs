//! A read-only snapshot of what this sentinel knows, taken through the same
//! command replies clients get (`SENTINEL MASTERS`, `REPLICAS`, `SENTINELS`,
//! `CKQUORUM`, `MYID` and the INFO sentinel section), so the HTTP side never
//! reaches into the core. Serialized as `/api/topology`.

use std::collections::BTreeMap;

use rsentinel_core::reply::Reply;
use serde::Serialize;

use crate::driver::handle::CoreHandle;

/// `/api/topology`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Topology {
    pub myid: String,
    pub tilt: bool,
    pub scripts_running: i64,
    pub scripts_queued: i64,
    pub masters: Vec<MasterView>,
}

/// One monitored master.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MasterView {
    pub name: String,
    /// `ip:port` as SENTINEL MASTERS reports it.
    pub address: String,
    /// `ok`, `sdown`, `odown` or `failover`.
    pub state: String,
    pub config_epoch: i64,
    pub quorum: i64,
    /// Whether `SENTINEL CKQUORUM` answers OK, and its text.
    pub quorum_ok: bool,
    pub ckquorum: String,
    pub replicas: Vec<Node>,
    pub sentinels: Vec<Node>,
    /// Every field of the SENTINEL MASTERS entry, verbatim.
    pub fields: BTreeMap<String, String>,
}

/// A replica or another sentinel of a master.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Node {
    pub address: String,
    /// `ok`, `sdown` or `disconnected`.
    pub state: String,
    /// Every field of its SENTINEL REPLICAS / SENTINELS entry, verbatim.
    pub fields: BTreeMap<String, String>,
}

fn arg(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Simple(s) | Reply::Error(s) | Reply::Double(s) => s.clone(),
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Reply::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

/// A SENTINEL MASTERS/REPLICAS/SENTINELS reply: a list of field/value
/// lists (RESP2 arrays or RESP3 maps).
fn entries(r: &Reply) -> Vec<BTreeMap<String, String>> {
    let Reply::Array(items) = r else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| match item {
            Reply::Array(kv) => kv
                .chunks(2)
                .filter(|p| p.len() == 2)
                .map(|p| (text(&p[0]), text(&p[1])))
                .collect(),
            Reply::Map(kv) => kv.iter().map(|(k, v)| (text(k), text(v))).collect(),
            _ => BTreeMap::new(),
        })
        .collect()
}

fn address(f: &BTreeMap<String, String>) -> String {
    format!(
        "{}:{}",
        f.get("ip").map_or("", String::as_str),
        f.get("port").map_or("", String::as_str)
    )
}

fn has_flag(f: &BTreeMap<String, String>, flag: &str) -> bool {
    f.get("flags")
        .is_some_and(|fl| fl.split(',').any(|x| x == flag))
}

fn number(f: &BTreeMap<String, String>, key: &str) -> i64 {
    f.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn node(fields: BTreeMap<String, String>) -> Node {
    let state = if has_flag(&fields, "s_down") {
        "sdown"
    } else if has_flag(&fields, "disconnected") {
        "disconnected"
    } else {
        "ok"
    };
    Node {
        address: address(&fields),
        state: state.into(),
        fields,
    }
}

/// The state of a master from its flags.
pub fn master_state(f: &BTreeMap<String, String>) -> &'static str {
    if has_flag(f, "failover_in_progress") {
        "failover"
    } else if has_flag(f, "o_down") {
        "odown"
    } else if has_flag(f, "s_down") {
        "sdown"
    } else {
        "ok"
    }
}

fn info_field(section: &str, name: &str) -> i64 {
    section
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Asks the driver for everything `/api/topology` shows.
pub async fn snapshot(core: &CoreHandle) -> Topology {
    let info = core.info_section().await;
    let mut topo = Topology {
        myid: text(&core.sentinel(&[arg("myid")]).await),
        tilt: info_field(&info, "sentinel_tilt") == 1,
        scripts_running: info_field(&info, "sentinel_running_scripts"),
        scripts_queued: info_field(&info, "sentinel_scripts_queue_length"),
        masters: Vec::new(),
    };
    for fields in entries(&core.sentinel(&[arg("masters")]).await) {
        let name = fields.get("name").cloned().unwrap_or_default();
        let ask = |sub: &str| vec![arg(sub), arg(&name)];
        let replicas = entries(&core.sentinel(&ask("replicas")).await);
        let sentinels = entries(&core.sentinel(&ask("sentinels")).await);
        let ck = core.sentinel(&ask("ckquorum")).await;
        topo.masters.push(MasterView {
            address: address(&fields),
            state: master_state(&fields).into(),
            config_epoch: number(&fields, "config-epoch"),
            quorum: number(&fields, "quorum"),
            quorum_ok: !matches!(ck, Reply::Error(_)),
            ckquorum: text(&ck),
            replicas: replicas.into_iter().map(node).collect(),
            sentinels: sentinels.into_iter().map(node).collect(),
            name,
            fields,
        });
    }
    topo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(kv: &[(&str, &str)]) -> Reply {
        Reply::Array(
            kv.iter()
                .flat_map(|(k, v)| [Reply::bulk(*k), Reply::bulk(*v)])
                .collect(),
        )
    }

    #[test]
    fn entries_become_field_maps_with_a_state() {
        let r = Reply::Array(vec![pairs(&[
            ("name", "m"),
            ("ip", "127.0.0.1"),
            ("port", "6379"),
            ("flags", "master,s_down,o_down"),
        ])]);
        let e = entries(&r);
        assert_eq!(address(&e[0]), "127.0.0.1:6379");
        assert_eq!(master_state(&e[0]), "odown");
        let n = node(e[0].clone());
        assert_eq!(n.state, "sdown");
    }

    #[test]
    fn info_fields_are_read_by_name() {
        let s = "# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:1\r\nsentinel_tilt_since_seconds:3\r\n";
        assert_eq!(info_field(s, "sentinel_tilt"), 1);
        assert_eq!(info_field(s, "sentinel_masters"), 1);
        assert_eq!(info_field(s, "absent"), 0);
    }
}
