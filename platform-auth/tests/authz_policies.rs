//! Policy files: decisions with explanations, errors that name the file, role,
//! permission and field, and reloads that never swap in a broken document.

mod common;

use std::path::Path;
use std::time::Duration;

use platform_auth::authz::{
    Authorizer, AuthzRequest, Decision, Denial, PolicyAuthorizer, PolicyError, PolicySet, Resource,
};
use platform_auth::{CredentialKind, Principal};
use platform_core::test_util::LogCapture;

const POLICIES: &str = r#"
[roles.viewer]
description = "read orders"
permissions = [{ action = "orders:read", resource = "orders/**" }]

[roles.editor]
permissions = [
  { name = "edit-own", action = "orders:write", resource = "orders/*", when = ["resource.owner == principal.id"] },
  { action = "orders:write", resource = "drafts/*" },
]

[roles.auditor]
permissions = [{ name = "eu-only", action = "**", resource = "**", when = ["principal.id in [\"ann\"]", "resource.region == \"eu\""] }]
"#;

fn user(id: &str, roles: &[&str]) -> Principal {
    Principal::new(id, CredentialKind::Bearer, vec![]).with_roles(roles.iter().copied())
}

fn decide(p: &PolicySet, who: &Principal, action: &str, resource: &Resource) -> Decision {
    p.authorize(&AuthzRequest::new(who, action, resource))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn decisions_explain_themselves() {
    let dir = tempfile::tempdir().expect("dir");
    let p = PolicySet::load_file(write(dir.path(), "policies.toml", POLICIES)).expect("valid");
    let order = |owner: &str| Resource::new("orders/42").attr("owner", owner);
    let alice = user("alice", &["viewer", "editor", "viewer"]);

    let d = decide(&p, &alice, "orders:read", &order("bob"));
    assert_eq!(
        d.to_string(),
        "allowed by role `viewer` permission `#1` (orders:read on orders/**)"
    );
    let d = decide(&p, &alice, "orders:write", &order("alice"));
    assert!(d.to_string().contains("permission `edit-own`"), "{d}");
    let d = decide(&p, &alice, "orders:write", &Resource::new("drafts/1"));
    assert!(d.to_string().contains("permission `#2`"), "{d}");

    let d = decide(&p, &alice, "orders:write", &order("bob"));
    assert!(
        matches!(d, Decision::Deny(Denial::ConditionFailed { ref failed }) if failed.len() == 1),
        "{d:?}"
    );
    assert_eq!(
        d.to_string(),
        "denied: role `editor` permission `edit-own` requires `resource.owner == principal.id`, which is false"
    );
    let d = decide(&p, &alice, "orders:delete", &order("alice"));
    assert_eq!(
        d.to_string(),
        "denied: no permission of roles [\"viewer\", \"editor\"] matches the action and resource"
    );
    let d = decide(&p, &user("eve", &["intern"]), "orders:read", &order("x"));
    assert_eq!(d, Decision::Deny(Denial::NoKnownRole { roles: vec!["intern".into()] }));
    assert!(
        !decide(&p, &user("nobody", &[]), "orders:read", &order("x")).is_allowed(),
        "deny by default"
    );

    // Every condition must hold; the first false one is named.
    let ann = user("ann", &["auditor"]);
    assert!(decide(&p, &ann, "anything", &Resource::new("x").attr("region", "eu")).is_allowed());
    let d = decide(&p, &ann, "anything", &Resource::new("x").attr("region", "us"));
    assert!(d.to_string().ends_with("requires `resource.region == \"eu\"`, which is false"), "{d}");
    let d =
        decide(&p, &user("bo", &["auditor"]), "anything", &Resource::new("x").attr("region", "eu"));
    assert!(d.to_string().contains("requires `principal.id in [\"ann\"]`"), "{d}");
}

fn load_err(dir: &Path, name: &str, text: &str) -> (String, PolicyError) {
    let path = write(dir, name, text);
    let err = PolicySet::load_file(&path).expect_err("invalid");
    (path.display().to_string(), err)
}

#[test]
fn errors_name_the_file_role_permission_and_field() {
    let dir = tempfile::tempdir().expect("dir");
    let (file, e) = load_err(
        dir.path(),
        "bad_condition.toml",
        "[roles.editor]\npermissions = [{ name = \"edit-own\", action = \"orders:write\", when = [\"resorce.owner == principal.id\"] }]\n",
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{file}: role `editor`, permission `edit-own`, field `when[0]`: invalid condition `resorce.owner == principal.id`: unknown attribute root `resorce` (expected principal, resource or context)"
        )
    );

    let (file, e) = load_err(
        dir.path(),
        "bad_pattern.json",
        r#"{"roles": {"viewer": {"permissions": [{"action": "a"}, {"action": "b", "resource": "orders//x"}]}}}"#,
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{file}: role `viewer`, permission `#2`, field `resource`: invalid pattern `orders//x`: has an empty segment"
        )
    );

    let (file, e) = load_err(
        dir.path(),
        "typo.toml",
        "[roles.editor]\npermissions = [{ action = \"a\", whne = [] }]\n",
    );
    let msg = e.to_string();
    assert!(matches!(e, PolicyError::Syntax { .. }), "{e:?}");
    assert!(msg.starts_with(&format!("{file}: at `roles.editor.permissions[0]")), "{msg}");
    assert!(msg.contains("unknown field `whne`"), "{msg}");

    let (file, e) = load_err(dir.path(), "broken.toml", "[roles.editor\n");
    assert!(
        e.to_string().starts_with(&format!("{file}: ")) && e.to_string().contains("line 1"),
        "{e}"
    );

    let (_, e) = load_err(dir.path(), "wrong_type.json", r#"{"roles": {"x": {"permissions": 3}}}"#);
    assert!(e.to_string().contains("at `roles.x.permissions`"), "{e}");

    let (file, e) = load_err(dir.path(), "policies.yaml", "roles: {}");
    assert_eq!(
        e.to_string(),
        format!("{file}: unknown policy format: name the file *.toml or *.json")
    );
    let missing = dir.path().join("missing.toml");
    let e = PolicySet::load_file(&missing).expect_err("missing");
    assert!(e.to_string().starts_with(&format!("{}: cannot read", missing.display())), "{e}");
}

/// Waits (at most 10 s of real time: the file watcher is the OS's) until `f` holds.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn watched_files_reload_and_bad_edits_keep_the_last_good_policies() {
    let (logs, _guard) = LogCapture::install(tracing::Level::TRACE);
    let dir = tempfile::tempdir().expect("dir");
    let path = write(dir.path(), "policies.toml", POLICIES);
    let authz = PolicyAuthorizer::new(PolicySet::load_file(&path).expect("valid"));
    let _watch = authz.watch_file(&path);
    let bob = user("bob", &["viewer"]);
    let report = Resource::new("reports/q1");
    assert!(!authz.authorize(&AuthzRequest::new(&bob, "reports:read", &report)).is_allowed());

    let more = format!("{POLICIES}\n[roles.viewer2]\npermissions = []\n");
    let more = more.replace(
        "permissions = [{ action = \"orders:read\", resource = \"orders/**\" }]",
        "permissions = [{ action = \"orders:read\", resource = \"orders/**\" }, { action = \"reports:read\", resource = \"reports/*\" }]",
    );
    std::fs::write(&path, &more).expect("edit");
    eventually("the edit is applied", || {
        authz.authorize(&AuthzRequest::new(&bob, "reports:read", &report)).is_allowed()
    })
    .await;

    std::fs::write(&path, "[roles.viewer]\npermissions = [{ action = \"\" }]\n").expect("bad edit");
    eventually("the bad edit is reported", || logs.text().contains("policy_reload_failed")).await;
    assert!(
        authz.authorize(&AuthzRequest::new(&bob, "reports:read", &report)).is_allowed(),
        "the last good policies stay"
    );
    let text = logs.text();
    assert!(text.contains("field `action`") && text.contains("policies.toml"), "{text}");
}
