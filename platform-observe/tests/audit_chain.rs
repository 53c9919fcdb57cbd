//! Chain verification finds edited, deleted, renumbered and truncated records, on SQLite
//! and PostgreSQL, tampering through raw SQL as someone with database access would.

mod audit_support;

use audit_support::{Db, backends, sample};
use platform_observe::audit::{
    AuditQuery, AuditRecord, ChainFault, ChainHead, FaultKind, Order, Outcome, VerifyOptions,
    VerifyReport,
};

fn kinds(r: &VerifyReport) -> Vec<(u64, FaultKind)> {
    r.faults.iter().map(|f: &ChainFault| (f.seq, f.kind)).collect()
}

async fn with_five(db: &Db) -> ChainHead {
    let head = db.log.append_batch(sample(5)).await.expect("append");
    let report = db.log.verify().await.expect("verify");
    assert!(report.valid, "{}: fresh chain: {:?}", db.name, report.faults);
    assert_eq!((report.checked, report.last), (5, Some(head)), "{}", db.name);
    head
}

#[tokio::test]
async fn records_are_append_only_without_tampering() {
    for db in backends("audit_append_only").await {
        with_five(&db).await;
        let update = db.exec("UPDATE platform_audit_log SET actor = 'x' WHERE seq = 1").await;
        let delete = db.exec("DELETE FROM platform_audit_log WHERE seq = 5").await;
        for res in [update, delete] {
            let err = res.expect_err("refused by the trigger").to_string();
            assert!(err.contains("append-only"), "{}: {err}", db.name);
        }
        assert!(db.log.verify().await.unwrap().valid);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_edited_record_is_reported_at_its_seq() {
    for db in backends("audit_edited").await {
        with_five(&db).await;
        db.tamper(
            "UPDATE platform_audit_log SET outcome = 'success', actor = 'mallory' WHERE seq = 3",
        )
        .await;
        let report = db.log.verify().await.unwrap();
        assert!(!report.valid);
        assert_eq!(kinds(&report), [(3, FaultKind::HashMismatch)], "{}", db.name);
        assert!(report.faults[0].message.contains("edited"), "{}", report.faults[0].message);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_edit_of_extra_or_time_is_reported() {
    for db in backends("audit_edited_extra").await {
        with_five(&db).await;
        db.tamper(r#"UPDATE platform_audit_log SET extra = '{"i":99}' WHERE seq = 2"#).await;
        db.tamper("UPDATE platform_audit_log SET time_ms = time_ms + 1 WHERE seq = 4").await;
        let report = db.log.verify().await.unwrap();
        let expected = [(2, FaultKind::HashMismatch), (4, FaultKind::HashMismatch)];
        assert_eq!(kinds(&report), expected, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    for db in backends("audit_rehashed").await {
        with_five(&db).await;
        // The attacker edits record 2 and replaces its hash with a plausible one; record
        // 3 still links to the original.
        db.tamper(&format!(
            "UPDATE platform_audit_log SET actor = 'mallory', hash = '{}' WHERE seq = 2",
            "ab".repeat(32)
        ))
        .await;
        let report = db.log.verify().await.unwrap();
        let expected = [(2, FaultKind::HashMismatch), (3, FaultKind::PrevHashMismatch)];
        assert_eq!(kinds(&report), expected, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_deleted_record_is_reported_as_a_gap() {
    for db in backends("audit_deleted").await {
        with_five(&db).await;
        db.tamper("DELETE FROM platform_audit_log WHERE seq = 3").await;
        let report = db.log.verify().await.unwrap();
        assert_eq!(kinds(&report), [(4, FaultKind::SeqGap)], "{}", db.name);
        assert!(report.faults[0].message.contains("3..=3"), "{}", report.faults[0].message);
        assert_eq!(report.checked, 4);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn closing_the_gap_by_renumbering_is_reported() {
    for db in backends("audit_renumbered").await {
        with_five(&db).await;
        db.tamper("DELETE FROM platform_audit_log WHERE seq = 3").await;
        // Renumber 4 and 5 down one by one (no primary-key clash) and fix the head.
        db.tamper("UPDATE platform_audit_log SET seq = 3 WHERE seq = 4").await;
        db.tamper("UPDATE platform_audit_log SET seq = 4 WHERE seq = 5").await;
        db.tamper("UPDATE platform_audit_head SET seq = 4, hash = (SELECT hash FROM platform_audit_log WHERE seq = 4)")
            .await;
        let report = db.log.verify().await.unwrap();
        let expected = [
            (3, FaultKind::PrevHashMismatch),
            (3, FaultKind::HashMismatch),
            (4, FaultKind::HashMismatch),
        ];
        assert_eq!(kinds(&report), expected, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleted_last_records_are_reported_from_the_head_row() {
    for db in backends("audit_tail").await {
        with_five(&db).await;
        db.tamper("DELETE FROM platform_audit_log WHERE seq >= 4").await;
        let report = db.log.verify().await.unwrap();
        assert_eq!(kinds(&report), [(5, FaultKind::TailTruncated)], "{}", db.name);
        assert!(report.faults[0].message.contains("4..=5"), "{}", report.faults[0].message);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_edited_head_row_is_reported() {
    for db in backends("audit_head_edit").await {
        with_five(&db).await;
        db.tamper(&format!("UPDATE platform_audit_head SET hash = '{}'", "cd".repeat(32))).await;
        let report = db.log.verify().await.unwrap();
        assert_eq!(kinds(&report), [(5, FaultKind::HeadMismatch)], "{}", db.name);
        let zeros = "0".repeat(64);
        db.tamper(&format!("UPDATE platform_audit_head SET seq = 0, hash = '{zeros}'")).await;
        let report = db.log.verify().await.unwrap();
        assert_eq!(kinds(&report), [(5, FaultKind::HeadMismatch)], "{}", db.name);
        assert!(report.faults[0].message.contains("beyond the chain head"), "{:?}", report.faults);
        db.tamper("DELETE FROM platform_audit_head").await;
        let report = db.log.verify().await.unwrap();
        assert_eq!(kinds(&report), [(0, FaultKind::HeadMismatch)], "{}", db.name);
        assert_eq!(report.checked, 5);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_consistent_rewrite_is_caught_only_by_an_anchor() {
    for db in backends("audit_rewrite").await {
        with_five(&db).await;
        // Someone saved record 4's place in the chain elsewhere.
        let fourth = AuditQuery::new().order(Order::Asc).cursor(3).limit(1);
        let entry = &db.log.query(&fourth).await.unwrap().entries[0];
        let anchor = ChainHead { seq: entry.seq, hash: entry.hash };
        assert_eq!(anchor.seq, 4);
        // Rewind the chain to record 2 and append different history through the API.
        db.tamper("DELETE FROM platform_audit_log WHERE seq > 2").await;
        db.tamper("UPDATE platform_audit_head SET seq = 2, hash = (SELECT hash FROM platform_audit_log WHERE seq = 2)")
            .await;
        let forged = (0..3).map(|_| AuditRecord::new("nothing_happened", Outcome::Success));
        db.log.append_batch(forged.collect()).await.unwrap();
        assert!(db.log.verify().await.unwrap().valid, "{}: consistent in itself", db.name);

        let report = db.log.verify_with(&VerifyOptions::anchored(anchor)).await.unwrap();
        assert_eq!(kinds(&report), [(4, FaultKind::AnchorMismatch)], "{}", db.name);

        // Truncated below the anchor, head moved back: only the anchor knows.
        db.tamper("DELETE FROM platform_audit_log WHERE seq > 3").await;
        db.tamper("UPDATE platform_audit_head SET seq = 3, hash = (SELECT hash FROM platform_audit_log WHERE seq = 3)")
            .await;
        assert!(db.log.verify().await.unwrap().valid);
        let report = db.log.verify_with(&VerifyOptions::anchored(anchor)).await.unwrap();
        assert_eq!(kinds(&report), [(4, FaultKind::TailTruncated)], "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn verification_pages_through_a_long_chain_and_caps_the_fault_list() {
    for db in backends("audit_long").await {
        let head = db.log.append_batch(sample(1234)).await.unwrap();
        assert_eq!(head.seq, 1234);
        let paged = VerifyOptions { page_size: Some(100), ..Default::default() };
        let report = db.log.verify_with(&paged).await.unwrap();
        assert!(report.valid, "{}: {:?}", db.name, report.faults);
        assert_eq!((report.checked, report.last), (1234, Some(head)));

        // Faults on both sides of a page boundary, then more than the list holds.
        db.tamper("UPDATE platform_audit_log SET reason = 'x' WHERE seq IN (100, 101, 1234)").await;
        let report = db.log.verify_with(&paged).await.unwrap();
        let expected = [
            (100, FaultKind::HashMismatch),
            (101, FaultKind::HashMismatch),
            (1234, FaultKind::HashMismatch),
        ];
        assert_eq!(kinds(&report), expected, "{}", db.name);
        db.tamper("UPDATE platform_audit_log SET reason = 'y' WHERE seq <= 50").await;
        let capped = VerifyOptions { max_faults: Some(10), ..paged };
        let report = db.log.verify_with(&capped).await.unwrap();
        assert_eq!((report.faults.len(), report.faults_omitted), (10, 43), "{}", db.name);
        assert!(!report.valid);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_verify_options_are_refused() {
    for db in backends("audit_verify_options").await {
        for (opts, field) in [
            (VerifyOptions { page_size: Some(0), ..Default::default() }, "`page_size`"),
            (VerifyOptions { page_size: Some(50_000), ..Default::default() }, "`page_size`"),
            (
                VerifyOptions::anchored(ChainHead { seq: u64::MAX, hash: ChainHead::EMPTY.hash }),
                "`anchor.seq`",
            ),
        ] {
            let err = db.log.verify_with(&opts).await.unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        db.cleanup().await;
    }
}
