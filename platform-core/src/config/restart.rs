//! Restart-required keys: a change to them is held back (the running value stays) and
//! reported.

use serde_json::Value;

fn get<'a>(mut v: &'a Value, path: &str) -> Option<&'a Value> {
    for seg in path.split('.') {
        v = match v {
            Value::Object(map) => map.get(seg)?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Puts `value` at `path` in `root` (removing the key when `None`), creating objects on
/// the way when needed.
fn set(root: &mut Value, path: &str, value: Option<Value>) {
    let mut segs: Vec<&str> = path.split('.').collect();
    let Some(last) = segs.pop() else { return };
    let mut v = root;
    for seg in segs {
        let Value::Object(map) = v else { return };
        v = map.entry(seg).or_insert_with(|| Value::Object(Default::default()));
    }
    if let Value::Object(map) = v {
        match value {
            Some(value) => {
                map.insert(last.to_owned(), value);
            }
            None => {
                map.remove(last);
            }
        }
    }
}

/// For every key in `keys` whose value differs between `old` and `new`, restores the old
/// value in `new` and returns the key.
pub(super) fn hold_back(old: &Value, new: &mut Value, keys: &[String]) -> Vec<String> {
    let mut changed = Vec::new();
    for key in keys {
        let before = get(old, key);
        if before != get(new, key) {
            set(new, key, before.cloned());
            changed.push(key.clone());
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn holds_back_only_changed_keys() {
        let old = json!({"server": {"port": 80, "host": "a"}, "log": "info"});
        let mut new = json!({"server": {"port": 81, "host": "a"}, "log": "debug"});
        let keys = vec!["server.port".to_owned(), "server.host".to_owned()];
        assert_eq!(hold_back(&old, &mut new, &keys), vec!["server.port"]);
        assert_eq!(new, json!({"server": {"port": 80, "host": "a"}, "log": "debug"}));
    }

    #[test]
    fn restores_absent_and_removed_keys() {
        let old = json!({"a": {"b": 1}});
        let mut new = json!({});
        assert_eq!(hold_back(&old, &mut new, &["a.b".to_owned()]), vec!["a.b"]);
        assert_eq!(new, json!({"a": {"b": 1}}));
        let old = json!({});
        let mut new = json!({"a": {"b": 1}});
        assert_eq!(hold_back(&old, &mut new, &["a.b".to_owned()]), vec!["a.b"]);
        assert_eq!(new, json!({"a": {}}));
    }
}
