//! Liveness: once every fault is healed the system must settle on exactly
//! one master that every other instance replicates from (link up) and that
//! every sentinel advertises via `SENTINEL get-master-addr-by-name`.

use super::super::redis_model::Role;

/// One instance as the check sees it.
pub struct InstanceView {
    pub port: u16,
    pub role: Role,
    pub link_up: bool,
}

/// The master everybody agrees on, or why there is none yet.
pub fn converged(
    instances: &[InstanceView],
    advertised: &[Option<(String, u16)>],
) -> Result<u16, String> {
    let masters: Vec<u16> = instances
        .iter()
        .filter(|i| i.role == Role::Master)
        .map(|i| i.port)
        .collect();
    let [master] = masters.as_slice() else {
        return Err(format!(
            "{} instances are masters: {masters:?}",
            masters.len()
        ));
    };
    for i in instances.iter().filter(|i| i.port != *master) {
        if i.role != Role::Replica(*master) || !i.link_up {
            return Err(format!(
                "{} is {:?} (link up: {}) instead of following {master}",
                i.port, i.role, i.link_up
            ));
        }
    }
    for (n, a) in advertised.iter().enumerate() {
        match a {
            Some((host, port)) if host == "127.0.0.1" && port == master => {}
            other => {
                return Err(format!(
                    "sentinel #{n} advertises {other:?}, the master is {master}"
                ))
            }
        }
    }
    Ok(*master)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(port: u16, role: Role, link_up: bool) -> InstanceView {
        InstanceView {
            port,
            role,
            link_up,
        }
    }

    fn addr(port: u16) -> Option<(String, u16)> {
        Some(("127.0.0.1".to_string(), port))
    }

    #[test]
    fn one_followed_and_advertised_master_is_convergence() {
        let inst = [
            view(6379, Role::Replica(6380), true),
            view(6380, Role::Master, false),
        ];
        assert_eq!(converged(&inst, &[addr(6380), addr(6380)]), Ok(6380));
    }

    #[test]
    fn two_masters_a_down_link_or_a_stale_sentinel_is_not() {
        let two = [
            view(6379, Role::Master, false),
            view(6380, Role::Master, false),
        ];
        assert!(converged(&two, &[addr(6379)]).is_err());
        let link_down = [
            view(6379, Role::Master, false),
            view(6380, Role::Replica(6379), false),
        ];
        assert!(converged(&link_down, &[addr(6379)]).is_err());
        let ok = [
            view(6379, Role::Master, false),
            view(6380, Role::Replica(6379), true),
        ];
        assert!(converged(&ok, &[addr(6379), addr(6380)]).is_err());
        assert!(converged(&ok, &[addr(6379), None]).is_err());
    }
}
