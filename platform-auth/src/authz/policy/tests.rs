use proptest::prelude::*;

use super::*;
use crate::authz::document::RolePolicy;
use crate::authz::request::Resource;
use crate::principal::{CredentialKind, Principal};

const ROLES: [&str; 3] = ["a", "b", "c"];

fn spec() -> impl Strategy<Value = PermissionSpec> {
    let action = prop::sample::select(vec!["**", "*", "orders:*", "orders:read", "orders:write"]);
    let resource = prop::sample::select(vec!["**", "orders/*", "orders/1", "drafts/**"]);
    let cond = prop::option::of(prop::sample::select(vec![
        "resource.owner == principal.id",
        "context.method == \"GET\"",
    ]));
    (action, resource, cond).prop_map(|(a, r, c)| {
        let s = PermissionSpec::new(a, r);
        match c {
            Some(c) => s.when(c),
            None => s,
        }
    })
}

fn document() -> impl Strategy<Value = PolicyDocument> {
    prop::collection::vec((prop::sample::select(ROLES.to_vec()), spec()), 0..8).prop_map(|perms| {
        let mut doc = PolicyDocument::new();
        for (role, p) in perms {
            let entry = doc.roles.entry(role.to_owned()).or_insert_with(|| RolePolicy::new(""));
            entry.permissions.push(p);
        }
        doc
    })
}

fn request() -> impl Strategy<Value = (Vec<&'static str>, &'static str, &'static str, &'static str)>
{
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "z"]), 0..4),
        prop::sample::select(vec!["orders:read", "orders:write", "users:read"]),
        prop::sample::select(vec!["orders/1", "orders/2", "drafts/x/y", "users/1"]),
        prop::sample::select(vec!["me", "someone"]),
    )
}

fn decide(doc: &PolicyDocument, roles: &[&str], action: &str, res: &str, owner: &str) -> Decision {
    let set = PolicySet::compile(doc.clone(), "prop").expect("generated documents are valid");
    let p = Principal::new("me", CredentialKind::Bearer, vec![]).with_roles(roles.iter().copied());
    let resource = Resource::new(res).attr("owner", owner);
    let mut ctx = serde_json::Map::new();
    ctx.insert("method".into(), "GET".into());
    set.decide(&AuthzRequest::new(&p, action, &resource).context(&ctx))
}

proptest! {
    #[test]
    fn without_roles_everything_is_denied(doc in document(), (_, action, res, owner) in request()) {
        prop_assert!(!decide(&doc, &[], action, res, owner).is_allowed());
    }

    #[test]
    fn more_permissions_never_deny_what_was_allowed(
        doc in document(), extra in spec(), role in prop::sample::select(ROLES.to_vec()),
        (roles, action, res, owner) in request(),
    ) {
        let before = decide(&doc, &roles, action, res, owner).is_allowed();
        let mut more = doc.clone();
        more.roles.entry(role.to_owned()).or_insert_with(|| RolePolicy::new("")).permissions.push(extra);
        prop_assert!(!before || decide(&more, &roles, action, res, owner).is_allowed());
    }

    #[test]
    fn fewer_roles_never_allow_what_was_denied(
        doc in document(), (roles, action, res, owner) in request(), drop in 0usize..4,
    ) {
        let mut fewer = roles.clone();
        if drop < fewer.len() {
            fewer.remove(drop);
        }
        let with_all = decide(&doc, &roles, action, res, owner).is_allowed();
        prop_assert!(with_all || !decide(&doc, &fewer, action, res, owner).is_allowed());
    }

    #[test]
    fn grants_name_a_matching_permission_of_a_held_role(
        doc in document(), (roles, action, res, owner) in request(),
    ) {
        if let Decision::Allow(g) = decide(&doc, &roles, action, res, owner) {
            prop_assert!(roles.contains(&g.role.as_str()));
            prop_assert!(Pattern::action(&g.action).expect("valid").matches(action));
            prop_assert!(Pattern::resource(&g.resource).expect("valid").matches(res));
            prop_assert!(owner == "me" || !g.conditions.iter().any(|c| c.contains("owner")));
        }
    }

    #[test]
    fn an_unconditional_wildcard_allows_everything(
        doc in document(), (roles, action, res, owner) in request(),
        role in prop::sample::select(ROLES.to_vec()),
    ) {
        let mut all = doc.clone();
        all.roles.entry(role.to_owned()).or_insert_with(|| RolePolicy::new(""))
            .permissions.push(PermissionSpec::new("**", "**"));
        let mut holder = roles.clone();
        holder.push(role);
        prop_assert!(decide(&all, &holder, action, res, owner).is_allowed());
    }
}
