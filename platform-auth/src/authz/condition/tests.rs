use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::*;
use crate::jwt::Claims;

fn principal() -> Principal {
    let mut claims = Claims::new("iss", "alice", "aud", 0);
    claims.extra.insert("tenant".into(), json!("acme"));
    claims.extra.insert("level".into(), json!(3));
    claims.extra.insert("org".into(), json!({"region": "eu"}));
    let mut p = Principal::new("alice", CredentialKind::Bearer, vec!["orders:read".into()])
        .with_roles(["editor"]);
    p.claims = Some(Arc::new(claims));
    p
}

fn holds(condition: &str) -> bool {
    let p = principal();
    let resource = Resource::new("orders/42")
        .attr("owner", "alice")
        .attr("editors", json!(["bob", "alice"]))
        .attr("level", 2)
        .attr("meta", json!({"tenant": "acme"}));
    let mut context = Map::new();
    context.insert("method".into(), Value::from("GET"));
    let attrs = Attrs { principal: &p, resource: &resource, context: &context };
    Condition::parse(condition).unwrap_or_else(|e| panic!("{e}")).holds(&attrs)
}

#[test]
fn comparisons_over_principal_resource_and_context() {
    for (c, expected) in [
        ("resource.owner == principal.id", true),
        ("resource.owner != principal.id", false),
        ("principal.subject == \"alice\"", true),
        ("principal.id in resource.editors", true),
        ("\"carol\" in resource.editors", false),
        ("resource.editors contains principal.id", true),
        ("principal.roles contains \"editor\"", true),
        ("principal.scopes contains \"orders:write\"", false),
        ("principal.kind == \"bearer\"", true),
        ("principal.tenant == resource.meta.tenant", true),
        ("principal.org.region in [\"eu\", \"uk\"]", true),
        ("principal.level >= resource.level", true),
        ("principal.level < 3", false),
        ("principal.level <= 3.0", true),
        ("principal.level == 3.0", true),
        ("resource.id == \"orders/42\"", true),
        ("context.method == \"GET\"", true),
        ("context.method>\"A\"", false),
        ("  resource.level>1  ", true),
    ] {
        assert_eq!(holds(c), expected, "{c}");
    }
}

#[test]
fn missing_attributes_never_hold() {
    for c in [
        "resource.missing == principal.id",
        "resource.missing != principal.id",
        "principal.key_id == null",
        "context.ip in [\"10.0.0.1\"]",
        "resource.owner.deeper == \"x\"",
        "principal.nope != 1",
    ] {
        assert!(!holds(c), "{c}");
    }
}

#[test]
fn parse_errors_say_what_is_wrong() {
    for (c, problem) in [
        (
            "resorce.owner == principal.id",
            "unknown attribute root `resorce` (expected principal, resource or context)",
        ),
        (
            "principal == \"x\"",
            "`principal` needs an attribute name after the root, e.g. `principal.id`",
        ),
        ("principal..id == \"x\"", "`principal..id` has an empty attribute name"),
        (
            "resource.owner = principal.id",
            "expected an operator (== != < <= > >= in contains), found `=`",
        ),
        ("resource.owner ==", "a comparison needs two operands"),
        (
            "resource.owner == 'x'",
            "`'x'` is neither an attribute (principal.…, resource.…, context.…) nor a JSON literal",
        ),
        ("resource.owner == principal.id and true", "unexpected `and true` after the comparison"),
        ("1 == 2", "compares two literals; one side must be an attribute"),
        (
            "resource.owner inside []",
            "expected an operator (== != < <= > >= in contains), found `inside`",
        ),
    ] {
        let e = Condition::parse(c).expect_err(c);
        assert_eq!(e.problem, problem, "{c}");
        assert_eq!(e.condition, c);
    }
}
