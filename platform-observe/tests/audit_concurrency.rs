//! Appends from many tasks on two pools (two processes' view of one database) form one
//! gap-free chain that verifies, on SQLite and PostgreSQL.

mod audit_support;

use std::collections::HashMap;

use audit_support::backends;
use platform_observe::audit::{AuditLog, AuditQuery, AuditRecord, MAX_LIMIT, Order, Outcome};

const TASKS: usize = 8;
const SINGLES: usize = 10;
const BATCHES: usize = 2;
const BATCH: usize = 5;

fn record(task: usize, n: usize) -> AuditRecord {
    AuditRecord::new("step", Outcome::Success).actor(format!("task-{task}")).extra("n", n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_from_two_pools_keep_one_chain() {
    for db in backends("audit_concurrent").await {
        let other = AuditLog::new(db.second_store().await).await.expect("second instance");
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let log = if task % 2 == 0 { db.log.clone() } else { other.clone() };
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                for round in 0..SINGLES {
                    log.append(record(task, n)).await.expect("append");
                    n += 1;
                    if round % (SINGLES / BATCHES) == 0 {
                        let batch = (0..BATCH).map(|i| record(task, n + i)).collect();
                        log.append_batch(batch).await.expect("append batch");
                        n += BATCH;
                    }
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("task");
        }
        assert_eq!(total, TASKS * (SINGLES + BATCHES * BATCH));

        let report = db.log.verify().await.expect("verify");
        assert!(report.valid, "{}: {:?}", db.name, report.faults);
        assert_eq!(report.checked, total as u64, "{}", db.name);
        assert_eq!(db.log.head().await.unwrap().seq, total as u64);
        assert_eq!(other.head().await.unwrap(), db.log.head().await.unwrap());

        // Every task's records are all there, in the order the task wrote them, and a
        // batch's records are consecutive.
        let mut seen: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
        let mut q = AuditQuery::new().order(Order::Asc).limit(MAX_LIMIT);
        loop {
            let page = db.log.query(&q).await.unwrap();
            for e in &page.entries {
                let n = e.record.extra["n"].as_u64().unwrap();
                seen.entry(e.record.actor.clone().unwrap()).or_default().push((e.seq, n));
            }
            match page.next_cursor {
                Some(c) => q = q.cursor(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), TASKS);
        for (actor, rows) in &seen {
            let ns: Vec<u64> = rows.iter().map(|r| r.1).collect();
            let want: Vec<u64> = (0..(SINGLES + BATCHES * BATCH) as u64).collect();
            assert_eq!(ns, want, "{}: {actor}", db.name);
            // The first batch follows the first single: n = 1..=5 have consecutive seqs.
            assert!(rows[1..=BATCH].windows(2).all(|w| w[1].0 == w[0].0 + 1), "{actor}");
        }
        other.store().close().await;
        db.cleanup().await;
    }
}
