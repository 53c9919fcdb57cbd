//! Cohort stickiness: as weights change, a user's version changes only at the margin —
//! between the stable version and the candidate whose weight moved, in the direction it
//! moved — and never between candidates.

mod canary_support;

use canary_support::*;
use platform_gateway::canary::{BUCKETS, Rollouts, Split, cohort_bucket};
use proptest::prelude::*;

/// Random weight sequences (basis points) for 1 to 3 candidates, each within its lane.
fn sequences() -> impl Strategy<Value = Vec<Vec<u32>>> {
    (1usize..=3).prop_flat_map(|n| {
        let lane = BUCKETS / n as u32;
        prop::collection::vec(prop::collection::vec(0..=lane, n), 2..12)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_users_version_changes_only_at_the_margin(
        weights in sequences(),
        users in prop::collection::vec("[a-z0-9]{1,12}", 200),
        salt in "[a-z]{1,8}",
    ) {
        let splits: Vec<Split> = weights.iter().map(|w| Split::new(w)).collect();
        let buckets: Vec<u32> = users.iter().map(|u| cohort_bucket(&salt, u.as_bytes())).collect();
        // Any two points of the sequence, not only neighbours: the layout depends on the
        // weights alone, so the property holds between any two.
        for i in 0..splits.len() {
            for j in i + 1..splits.len() {
                for b in &buckets {
                    let (from, to) = (splits[i].version_of(*b), splits[j].version_of(*b));
                    if from == to {
                        continue;
                    }
                    prop_assert!(from == 0 || to == 0, "moved between candidates {from} -> {to}");
                    if to != 0 {
                        prop_assert!(weights[j][to - 1] > weights[i][to - 1], "joined {to} while its weight did not grow");
                    } else {
                        prop_assert!(weights[j][from - 1] < weights[i][from - 1], "left {from} while its weight did not shrink");
                    }
                }
            }
        }
    }

    #[test]
    fn weights_are_exact_shares_of_the_bucket_space(weights in sequences()) {
        for w in &weights {
            let split = Split::new(w);
            let mut owned = vec![0u32; w.len() + 1];
            for b in 0..BUCKETS {
                owned[split.version_of(b)] += 1;
            }
            for (k, weight) in w.iter().enumerate() {
                prop_assert_eq!(owned[k + 1], *weight);
            }
            prop_assert_eq!(owned[0], split.weight_of(0));
        }
    }

    #[test]
    fn one_candidate_is_a_threshold(a in 0..=BUCKETS, b in 0..=BUCKETS, user in "[a-z0-9]{1,16}") {
        // At the lower weight on the candidate implies on it at the higher one.
        let (low, high) = (a.min(b), a.max(b));
        let bucket = cohort_bucket("users", user.as_bytes());
        if Split::new(&[low]).version_of(bucket) == 1 {
            prop_assert_eq!(Split::new(&[high]).version_of(bucket), 1);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn requests_keep_their_version_through_a_rollout() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[5.0, 25.0, 50.0, 100.0], 1).await;
    let users: Vec<String> = (0..2_000).map(|i| format!("user-{i}")).collect();
    let on_candidate =
        || -> Vec<bool> { users.iter().map(|u| canary.assign(&request(u)) == NEXT).collect() };
    let mut before = on_candidate();
    assert_eq!(before, on_candidate(), "the same user gets the same version every time");
    let mut shares = vec![share(&before)];
    for step in 1..4 {
        drive(&canary, 0..2_000, healthy);
        tokio::time::advance(std::time::Duration::from_secs(61)).await;
        let eval = canary.tick().await.unwrap();
        assert_eq!(eval.step, step, "{}", eval.reason);
        let after = on_candidate();
        for (b, a) in before.iter().zip(&after) {
            assert!(!*b || *a, "a user left the candidate while its weight grew");
        }
        shares.push(share(&after));
        before = after;
    }
    // Roughly 5, 25, 50 and 100 % of the users.
    for (got, want) in shares.iter().zip([0.05, 0.25, 0.5, 1.0]) {
        assert!((got - want).abs() < 0.04, "{shares:?}");
    }
}

fn share(on: &[bool]) -> f64 {
    on.iter().filter(|c| **c).count() as f64 / on.len() as f64
}

#[tokio::test]
async fn requests_without_a_key_are_split_by_weight() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[25.0, 100.0], 1).await;
    let n = 8_000;
    let hits = (0..n).filter(|_| canary.assign(&request("")) == NEXT).count();
    let share = hits as f64 / n as f64;
    // 25 % ± 3 points: over seven standard deviations.
    assert!((0.22..0.28).contains(&share), "{share}");
}

#[tokio::test]
async fn overrides_force_a_version_by_name() {
    let rollouts = Rollouts::in_memory();
    let canary = builder(&rollouts)
        .await
        .override_cookie("canary")
        .plan(plan(&[5.0, 100.0], 1))
        .analysis(manual_analysis())
        .build()
        .await
        .unwrap();
    let mut by_header = request("someone");
    by_header.headers_mut().insert("x-canary", NEXT.parse().unwrap());
    assert_eq!(canary.assign(&by_header), NEXT);
    let mut by_cookie = request("");
    by_cookie.headers_mut().insert("cookie", format!("canary={STABLE}").parse().unwrap());
    assert_eq!(canary.assign(&by_cookie), STABLE);
    // An unknown name is ignored: the usual assignment applies.
    let mut unknown = request("someone");
    unknown.headers_mut().insert("x-canary", "users-v9".parse().unwrap());
    assert_eq!(canary.assign(&unknown), canary.assign(&request("someone")));
}
