use proptest::prelude::*;

use super::*;

fn r(p: &str) -> Pattern {
    Pattern::resource(p).expect("valid")
}

#[test]
fn segment_wildcards() {
    let cases = [
        ("orders", "orders", true),
        ("orders", "orders/1", false),
        ("/orders/", "orders", true),
        ("orders/*", "orders/1", true),
        ("orders/*", "orders", false),
        ("orders/*", "orders/1/items", false),
        ("orders/**", "orders", true),
        ("orders/**", "orders/1/items/2", true),
        ("**", "", true),
        ("**", "a/b/c", true),
        ("**/items", "orders/1/items", true),
        ("**/items", "items", true),
        ("a/**/b/**/c", "a/b/c", true),
        ("a/**/b/**/c", "a/x/b/y/z/c", true),
        ("a/**/b/**/c", "a/x/c", false),
        ("reports/*.csv", "reports/q1.csv", true),
        ("reports/*.csv", "reports/q1.json", false),
        ("reports/q*-*.csv", "reports/q1-2026.csv", true),
        ("reports/a*a", "reports/a", false),
        ("reports/a*a", "reports/aa", true),
        ("Orders", "orders", false),
    ];
    for (pattern, path, expected) in cases {
        assert_eq!(r(pattern).matches(path), expected, "{pattern} vs {path}");
    }
    assert!(Pattern::action("orders:*").expect("valid").matches("orders:read"));
    assert!(!Pattern::action("orders:*").expect("valid").matches("orders/read"));
    assert!(Pattern::action("*").expect("valid").matches("anything"));
}

#[test]
fn invalid_patterns_say_why() {
    for (p, problem) in [
        ("", "is empty (use `**` to match everything)"),
        ("/", "is empty (use `**` to match everything)"),
        ("a//b", "has an empty segment"),
        ("a/b**", "`**` must be a whole segment"),
        ("***", "`**` must be a whole segment"),
    ] {
        let e = Pattern::resource(p).expect_err(p);
        assert_eq!((e.pattern.as_str(), e.problem), (p, problem));
    }
    assert_eq!(
        Pattern::resource("a//b").expect_err("bad").to_string(),
        "invalid pattern `a//b`: has an empty segment"
    );
}

/// The obvious recursive matcher, as the reference for the linear one.
fn reference(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|k| reference(rest, &path[k..])),
        Some((seg, rest)) => path
            .split_first()
            .is_some_and(|(p, tail)| (*seg == "*" || seg == p) && reference(rest, tail)),
    }
}

fn segs() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..6)
}

fn pattern_segs() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "**"]), 1..6)
}

proptest! {
    #[test]
    fn agrees_with_the_reference_matcher(pat in pattern_segs(), path in segs()) {
        let p = r(&pat.join("/"));
        prop_assert_eq!(p.matches(&path.join("/")), reference(&pat, &path));
    }

    #[test]
    fn literals_match_only_themselves(a in segs(), b in segs()) {
        prop_assume!(!a.is_empty());
        let p = r(&a.join("/"));
        prop_assert!(p.matches(&a.join("/")));
        prop_assert_eq!(p.matches(&b.join("/")), a == b);
    }

    #[test]
    fn double_star_suffix_matches_every_extension(a in segs(), ext in segs()) {
        prop_assume!(!a.is_empty());
        let p = r(&format!("{}/**", a.join("/")));
        let mut longer = a.clone();
        longer.extend(ext);
        prop_assert!(p.matches(&longer.join("/")));
    }

    #[test]
    fn stars_match_by_segment_count(n in 1usize..5, path in segs()) {
        let p = r(&vec!["*"; n].join("/"));
        prop_assert_eq!(p.matches(&path.join("/")), path.len() == n);
    }
}
