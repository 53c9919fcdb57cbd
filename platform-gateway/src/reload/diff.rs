//! What changed between two configurations.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::config::GatewayConfig;

/// The difference between the configuration in force and a new one, by route id and
/// upstream name; logged with every reload and shown by the admin API.
///
/// ```
/// use platform_gateway::config::GatewayConfig;
/// use platform_gateway::reload::ConfigDiff;
///
/// let old = GatewayConfig::from_toml(r#"
///     upstreams.a.endpoints = ["127.0.0.1:9001"]
///     [[routes]]
///     id = "a"
///     upstream = "a"
/// "#, None).unwrap();
/// let new = GatewayConfig::from_toml(r#"
///     upstreams.a.endpoints = ["127.0.0.1:9001", "127.0.0.1:9002"]
///     [[routes]]
///     id = "b"
///     upstream = "a"
/// "#, None).unwrap();
/// let diff = ConfigDiff::between(&old, &new);
/// assert_eq!(diff.routes_added, ["b"]);
/// assert_eq!(diff.routes_removed, ["a"]);
/// assert_eq!(diff.upstreams_changed, ["a"]);
/// assert_eq!(diff.to_string(), "routes +[b] -[a]; upstreams ~[a]");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConfigDiff {
    /// Routes only in the new configuration.
    pub routes_added: Vec<String>,
    /// Routes only in the old one.
    pub routes_removed: Vec<String>,
    /// Routes in both whose definition or position in the match order changed.
    pub routes_changed: Vec<String>,
    /// Upstreams only in the new configuration.
    pub upstreams_added: Vec<String>,
    /// Upstreams only in the old one.
    pub upstreams_removed: Vec<String>,
    /// Upstreams in both whose endpoints or settings changed (they are rebuilt, with new
    /// connection pools and balancer state).
    pub upstreams_changed: Vec<String>,
    /// Sections that changed but apply only after a restart (`listen`, `proxy`, `server`, `tls`):
    /// the values in force stay until then.
    pub restart_required: Vec<String>,
}

impl ConfigDiff {
    /// What changes from `old` to `new`.
    pub fn between(old: &GatewayConfig, new: &GatewayConfig) -> Self {
        let (routes_added, routes_removed, mut routes_changed) = compare(
            old.routes.iter().map(|r| (r.id.as_str(), r)).collect(),
            new.routes.iter().map(|r| (r.id.as_str(), r)).collect(),
        );
        // A route whose definition is the same but which moved relative to the others
        // matches differently: say so.
        let order = |c: &GatewayConfig| -> Vec<String> {
            c.routes
                .iter()
                .filter(|r| old.routes.iter().any(|o| o.id == r.id))
                .filter(|r| new.routes.iter().any(|n| n.id == r.id))
                .map(|r| r.id.clone())
                .collect()
        };
        let (before, after) = (order(old), order(new));
        for (i, id) in after.iter().enumerate() {
            if before.get(i) != Some(id) && !routes_changed.contains(id) {
                routes_changed.push(id.clone());
            }
        }
        routes_changed.sort();
        let (upstreams_added, upstreams_removed, upstreams_changed) = compare(
            old.upstreams.iter().map(|(n, u)| (n.as_str(), u)).collect(),
            new.upstreams.iter().map(|(n, u)| (n.as_str(), u)).collect(),
        );
        let mut restart_required = Vec::new();
        if old.listen != new.listen {
            restart_required.push("listen".to_owned());
        }
        if old.proxy != new.proxy {
            restart_required.push("proxy".to_owned());
        }
        if old.server != new.server {
            restart_required.push("server".to_owned());
        }
        #[cfg(feature = "tls")]
        if old.tls != new.tls {
            restart_required.push("tls".to_owned());
        }
        Self {
            routes_added,
            routes_removed,
            routes_changed,
            upstreams_added,
            upstreams_removed,
            upstreams_changed,
            restart_required,
        }
    }

    /// `true` when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.routes_added.is_empty()
            && self.routes_removed.is_empty()
            && self.routes_changed.is_empty()
            && self.upstreams_added.is_empty()
            && self.upstreams_removed.is_empty()
            && self.upstreams_changed.is_empty()
            && self.restart_required.is_empty()
    }

    /// Routes of `new` whose compiled stacks can be kept: same definition, same place
    /// in the order, and every upstream they name unchanged.
    pub(crate) fn unchanged_routes<'a>(&self, new: &'a GatewayConfig) -> Vec<&'a str> {
        new.routes
            .iter()
            .filter(|r| !self.routes_added.contains(&r.id) && !self.routes_changed.contains(&r.id))
            .filter(|r| {
                r.named_upstreams().all(|u| {
                    !self.upstreams_changed.contains(u) && !self.upstreams_added.contains(u)
                })
            })
            .map(|r| r.id.as_str())
            .collect()
    }
}

/// Added, removed and changed keys, each sorted.
fn compare<T: PartialEq>(
    old: BTreeMap<&str, T>,
    new: BTreeMap<&str, T>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = new.keys().filter(|k| !old.contains_key(*k)).map(|k| (*k).to_owned()).collect();
    let removed = old.keys().filter(|k| !new.contains_key(*k)).map(|k| (*k).to_owned()).collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| (*k).to_owned())
        .collect();
    (added, removed, changed)
}

impl fmt::Display for ConfigDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no change");
        }
        let mut parts = Vec::new();
        for (what, lists) in [
            ("routes", [&self.routes_added, &self.routes_removed, &self.routes_changed]),
            (
                "upstreams",
                [&self.upstreams_added, &self.upstreams_removed, &self.upstreams_changed],
            ),
        ] {
            let marked: Vec<String> = ["+", "-", "~"]
                .iter()
                .zip(lists)
                .filter(|(_, l)| !l.is_empty())
                .map(|(m, l)| format!("{m}[{}]", l.join(", ")))
                .collect();
            if !marked.is_empty() {
                parts.push(format!("{what} {}", marked.join(" ")));
            }
        }
        if !self.restart_required.is_empty() {
            parts.push(format!("restart required for [{}]", self.restart_required.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}
