//! The nightly guarantees: incremental and idempotent runs, no duplicates from re-sent files, newer exports
//! win, one run at a time (stale locks taken over), snapshots kept and rolled back, `--only` keeps the
//! other projects, and a run killed with SIGKILL at any moment leaves the previous warehouse answering.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{followup, query_csv, short, TEST_KEY};
use crate::e2e::{copy_dir, people, write_inputs, PIPELINE};

fn sql() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sql")
        .to_string_lossy()
        .into_owned()
}

fn snapshot_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let cur = std::fs::canonicalize(root.join("warehouse/current")).unwrap();
    let mut out = Vec::new();
    for name in [
        "regional_overview",
        "esf_indicators",
        "monthly_active",
        "target_followup",
        "method_outcomes",
        "enrolments",
    ] {
        out.push((
            name.to_string(),
            std::fs::read(cur.join(format!("{name}.parquet"))).unwrap(),
        ));
    }
    out
}

#[test]
fn reruns_are_incremental_idempotent_and_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = people();
    write_inputs(root, &p);
    let s = sql();
    let first = followup(root, &["run", "--sql", &s]);
    assert_eq!(first.status.code(), Some(1));
    let before = snapshot_files(root);

    // Same inputs again: nothing parsed, marts byte-identical.
    let second = followup(root, &["run", "--sql", &s]);
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(
        out.contains("files: 0 loaded, 3 unchanged, 1 failed"),
        "{out}"
    );
    assert_eq!(
        before,
        snapshot_files(root),
        "marts are byte-identical on a re-run"
    );
    let statuses = query_csv(
        root,
        "select status, count(*) from file_loads where load_id = (select max(load_id) from file_loads) group by status order by status",
    );
    assert_eq!(
        statuses[1..],
        [
            vec!["failed".to_string(), "1".into()],
            vec!["unchanged".into(), "3".into()]
        ]
    );

    // The same file copied under a second name: loaded, but no enrolment is counted twice.
    let inputs = root.join("inputs");
    std::fs::copy(
        inputs.join("gavle/gavle_202112.csv"),
        inputs.join("gavle/gavle_kopia_202112.csv"),
    )
    .unwrap();
    let third = followup(root, &["run", "--sql", &s]);
    assert!(
        String::from_utf8_lossy(&third.stdout).contains("files: 1 loaded, 3 unchanged, 1 failed")
    );
    let overview = |root: &Path| {
        query_csv(
            root,
            "select level, subproject_id, gender, enrolments, participants, active, exited, exits_work from regional_overview",
        )
    };
    let after_copy = overview(root);
    assert_eq!(
        query_csv(root, "select count(*) from enrolments")[1][0],
        "8",
        "8 enrolments, as before the copy"
    );

    // A newer export of an enrolment (Gävle, January) updates its end date and outcome.
    let january = format!(
        "Personnr;Kön;Inskrivningsdatum;Avslutsdatum;Orsak till avslut;Timmar\r\n{};M;20210401;2021-12-15;Arbete;3,0\r\n",
        short(&p.p5)
    );
    std::fs::write(inputs.join("gavle/gavle_202201.csv"), january).unwrap();
    let fourth = followup(root, &["run", "--sql", &s]);
    assert_eq!(fourth.status.code(), Some(1));
    let updated = overview(root);
    let gavle_man = |rows: &Vec<Vec<String>>| {
        rows.iter()
            .find(|r| r[1] == "gavle" && r[2] == "man")
            .cloned()
            .unwrap()
    };
    assert_eq!(gavle_man(&after_copy)[3..], ["1", "1", "1", "0", "0"]);
    assert_eq!(
        gavle_man(&updated)[3..],
        ["1", "1", "0", "1", "1"],
        "latest export wins"
    );
    let versions = query_csv(
        root,
        "select versions_seen, end_date, source_file from enrolments where subproject_id = 'gavle' and exit_outcome = 'work' and not subsidised_employment",
    );
    assert_eq!(
        versions[1][0], "3",
        "the December file, its copy and the January file"
    );
    assert_eq!(versions[1][1], "2021-12-15");
    assert!(versions[1][2].ends_with("gavle_202201.csv"));
    assert_eq!(
        query_csv(root, "select count(*) from enrolments")[1][0],
        "8"
    );

    // The run history shows all four runs, newest first.
    let status = followup(root, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("published_with_errors"))
            .count(),
        4,
        "{text}"
    );
    let last_id = query_csv(root, "select max(load_id) from runs")[1][0].clone();
    let detail = followup(root, &["status", "--run", &last_id]);
    let detail = String::from_utf8_lossy(&detail.stdout);
    assert!(
        detail.contains("loaded") && detail.contains("gavle_202201.csv"),
        "{detail}"
    );
    assert!(detail.contains("corrupt or truncated xlsx"), "{detail}");

    // Another key (or pseudonym scheme: both are in the fingerprint) gives every person a new 32-digit id,
    // and no file's staged rows are reused under the old ids.
    let ids = |root: &Path| {
        query_csv(
            root,
            "select distinct participant_id from enrolments order by 1",
        )[1..]
            .iter()
            .map(|r| r[0].clone())
            .collect::<Vec<_>>()
    };
    let old_ids = ids(root);
    let key_file = dir.path().join("other.key");
    std::fs::write(&key_file, "ab".repeat(32)).unwrap();
    let rekeyed = followup(
        root,
        &["run", "--sql", &s, "--key-file", key_file.to_str().unwrap()],
    );
    let out = String::from_utf8_lossy(&rekeyed.stdout);
    assert!(out.contains(" 0 unchanged,"), "{out}");
    let new_ids = ids(root);
    assert_eq!(new_ids.len(), old_ids.len());
    for id in old_ids.iter().chain(&new_ids) {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id} is 128 bits of hex"
        );
    }
    assert!(new_ids.iter().all(|id| !old_ids.contains(id)));
    let fingerprints = query_csv(root, "select count(distinct key_fingerprint) from runs");
    assert_eq!(fingerprints[1][0], "2");
}

#[test]
fn one_run_at_a_time_and_stale_locks_are_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let s = sql();
    std::fs::create_dir_all(root.join("warehouse")).unwrap();
    // A live holder: a sleeping process's pid in the lock file.
    let mut holder = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(
        root.join("warehouse/run.lock"),
        format!("{}\n", holder.id()),
    )
    .unwrap();
    let out = followup(root, &["run", "--sql", &s]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("run.lock") && err.contains(&format!("pid {}", holder.id())),
        "{err}"
    );
    assert!(
        !root.join("warehouse/current").exists(),
        "nothing published"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();

    // The holder is gone: its lock is stale and the next run takes it over.
    let out = followup(root, &["run", "--sql", &s]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stale lock"), "{err}");
    assert!(
        !root.join("warehouse/run.lock").exists(),
        "the lock is released"
    );
}

#[test]
fn snapshots_are_kept_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let s = sql();
    let pipeline = root.join("pipelines/test.toml");
    let mut shown = Vec::new();
    for report in ["2021-10-31", "2021-11-30", "2021-12-31"] {
        std::fs::write(
            &pipeline,
            PIPELINE.replace(
                "report_date = 2021-12-31",
                &format!("report_date = {report}"),
            ),
        )
        .unwrap();
        assert_eq!(
            followup(root, &["run", "--keep", "2", "--sql", &s])
                .status
                .code(),
            Some(1)
        );
        shown.push(query_csv(root, "select report_date from projects")[1][0].clone());
    }
    assert_eq!(shown, ["2021-10-31", "2021-11-30", "2021-12-31"]);
    let kept = std::fs::read_dir(root.join("warehouse/snapshots"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(kept, 2, "--keep 2");
    let out = followup(root, &["rollback"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        query_csv(root, "select report_date from projects")[1][0],
        "2021-11-30"
    );
    let out = followup(root, &["rollback"]);
    assert_eq!(out.status.code(), Some(3), "no older snapshot is kept");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot older"));
}

#[test]
fn only_reloads_one_project_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let other = PIPELINE
        .replace("id = \"test_gavleborg\"", "id = \"other_project\"")
        .replace(
            "name = \"Testprojekt Gävleborg\"",
            "name = \"Annat projekt\"",
        );
    std::fs::write(root.join("pipelines/other.toml"), other).unwrap();
    let s = sql();
    assert_eq!(followup(root, &["run", "--sql", &s]).status.code(), Some(1));
    let count = |root: &Path| {
        query_csv(
            root,
            "select project_id, count(*) from enrolments group by project_id order by project_id",
        )
    };
    let before = count(root);
    assert_eq!(before.len(), 3);
    let out = followup(root, &["run", "--only", "test_gavleborg", "--sql", &s]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(root), before, "the project left out keeps its rows");
    let out = followup(root, &["run", "--only", "nope", "--sql", &s]);
    assert_eq!(out.status.code(), Some(2));
}

/// The bundled pipelines, copied so they can be changed, next to a link to the bundled sample inputs.
fn bundled(root: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("pipelines"), &root.join("pipelines"));
    std::os::unix::fs::symlink(repo.join("sample-inputs"), root.join("sample-inputs")).unwrap();
    root.join("pipelines")
}

fn fingerprint(root: &Path) -> String {
    let a = query_csv(root, "select * from regional_overview");
    let b = query_csv(
        root,
        "select project_id, count(*) from enrolment_rows group by project_id order by project_id",
    );
    let c = query_csv(root, "select count(*) from rejects");
    format!("{a:?}{b:?}{c:?}")
}

fn spawn_run(root: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(root)
        .env("FOLLOWUP_HMAC_KEY", TEST_KEY)
        .args(["run", "--keep", "100", "--sql", &sql()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_thirty_moments_never_breaks_the_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pipelines = bundled(root);
    // Snapshot A: the bundled pipelines as they are.
    assert_eq!(
        followup(root, &["run", "--keep", "100", "--sql", &sql()])
            .status
            .code(),
        Some(1)
    );
    let a = fingerprint(root);
    let snapshot_a = std::fs::read_link(root.join("warehouse/current")).unwrap();

    // Version B: every pipeline file changed (so every file is parsed again) and one report date moved.
    for e in std::fs::read_dir(&pipelines).unwrap() {
        let path = e.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("\n# version B\n");
        text = text.replace("report_date = 2022-06-30", "report_date = 2022-05-31");
        std::fs::write(&path, text).unwrap();
    }
    // What B looks like, and how long a run takes, measured in a second warehouse.
    let other = tempfile::tempdir().unwrap();
    let b_root = other.path();
    copy_dir(&pipelines, &b_root.join("pipelines"));
    std::os::unix::fs::symlink(root.join("sample-inputs"), b_root.join("sample-inputs")).unwrap();
    let t0 = Instant::now();
    assert_eq!(
        followup(b_root, &["run", "--sql", &sql()]).status.code(),
        Some(1)
    );
    let full = t0.elapsed();
    let b = fingerprint(b_root);
    assert_ne!(a, b);

    let kills = 30;
    let mut saw_a = 0;
    for i in 0..kills {
        let mut child = spawn_run(root);
        // Spread the kill moments over the whole run, from the start to just past its usual end.
        std::thread::sleep(full.mul_f64(1.1 * i as f64 / kills as f64));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = fingerprint(root);
        assert!(
            now == a || now == b,
            "kill {i}: the warehouse shows neither A nor B"
        );
        if now == a {
            saw_a += 1;
        } else {
            // The run got to publish before the kill; go back to A for the next kill point.
            let out = Command::new(env!("CARGO_BIN_EXE_followup"))
                .current_dir(root)
                .args(["rollback"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            while std::fs::read_link(root.join("warehouse/current")).unwrap() != snapshot_a {
                assert!(Command::new(env!("CARGO_BIN_EXE_followup"))
                    .current_dir(root)
                    .args(["rollback"])
                    .status()
                    .unwrap()
                    .success());
            }
            assert_eq!(fingerprint(root), a);
        }
    }
    assert!(
        saw_a >= kills / 2,
        "most kills landed before publishing ({saw_a} of {kills})"
    );
    // The next run completes (taking over the killed runs' stale lock) and publishes B.
    let out = followup(root, &["run", "--keep", "100", "--sql", &sql()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fingerprint(root), b);
    let leftovers = std::fs::read_dir(root.join("warehouse/snapshots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".staging")
        })
        .count();
    assert_eq!(leftovers, 0, "killed runs' staging folders are cleaned up");
    let _ = Duration::ZERO;
}
