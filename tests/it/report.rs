//! The run report: `report.html` in every published snapshot, with the published (disclosure-controlled)
//! numbers, SVG charts, no script and nothing from the network, no personnummer, text escaped, and the
//! same bytes for the same inputs apart from the fields marked `data-volatile`.

use std::path::Path;

use crate::common::{followup, query_csv};
use crate::e2e::{people, write_inputs, PIPELINE};
use crate::export::{run_bundled, sql};

fn report(root: &Path) -> String {
    std::fs::read_to_string(root.join("warehouse/current/report.html")).unwrap()
}

/// HTML text escaping as the report does it, for looking up expected labels.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Anything shaped like a personnummer or samordningsnummer: 10 or 12 digits in a row, or 6 or 8
/// digits, a `-` or `+`, and 4 digits.
fn personnummer_like(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits_at = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let n = digits_at(i);
        let end = i + n;
        let hit = n == 10
            || n == 12
            || ((n == 6 || n == 8)
                && end < b.len()
                && (b[end] == b'-' || b[end] == b'+')
                && digits_at(end + 1) == 4);
        if hit {
            return Some(text[i..(end + 5).min(text.len())].to_string());
        }
        i = end;
    }
    None
}

/// The page with every `data-volatile` field's content blanked.
fn masked(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("data-volatile>") {
        let start = i + "data-volatile>".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('<').unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn common_checks(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "no JavaScript");
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "nothing from the network"
    );
    assert!(!lower.contains("src="), "no external resources");
    assert!(
        html.matches("<svg ").count() >= 3,
        "charts for municipalities, outcomes and targets"
    );
    assert_eq!(
        html.matches("<svg ").count(),
        html.matches("</svg>").count()
    );
    assert_eq!(
        personnummer_like(html),
        None,
        "no personnummer in the report"
    );
}

#[test]
fn report_of_the_bundled_samples_shows_published_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run_bundled(root);
    let html = report(root);
    common_checks(&html);
    let load_id = std::fs::read_link(root.join("warehouse/current"))
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(html.contains(&format!("<dd data-volatile>{load_id}</dd>")));
    assert!(html.contains("<dd>published_with_errors</dd>"), "status");

    // A municipality's women and men, from the published mart, next to its label in the chart.
    let rows = query_csv(
        root,
        "select w.subproject_name, w.municipality_code, w.participants, m.participants \
         from published.regional_overview w join published.regional_overview m \
           on m.project_id = w.project_id and m.subproject_id = w.subproject_id and m.gender = 'man' \
         where w.level = 'subproject' and w.gender = 'woman' \
           and w.participants is not null and m.participants is not null \
         order by w.participants desc limit 1",
    );
    let [name, code, women, men] = &rows[1][..] else {
        panic!("{rows:?}")
    };
    let label = format!(">{} ({code})</text>", esc(name));
    let at = html.find(&label).unwrap_or_else(|| panic!("{label}"));
    let after = &html[at..(at + 800).min(html.len())];
    let (w, m) = (format!(">{women}</text>"), format!(">{men}</text>"));
    assert!(
        after.contains(&w) && after.contains(&m),
        "{label}: {w} {m} in {after}"
    );

    // Hidden cells read "hidden", never the unsuppressed number.
    let hidden = query_csv(
        root,
        "select count(*) from published.regional_overview where level = 'subproject' \
         and gender <> 'total' and participants is null",
    );
    if hidden[1][0] != "0" {
        assert!(html.contains(">hidden</text>"));
    }

    // Each project's total participants (published), in the projects table.
    for row in query_csv(
        root,
        "select project_id, coalesce(cast(participants as varchar), 'hidden') from published.regional_overview \
         where level = 'project' and gender = 'total' order by project_id",
    )
    .iter()
    .skip(1)
    {
        let cell = format!("<td class=\"n\">{}</td>", row[1]);
        let at = html
            .find(&format!("<tr><td>{}</td>", row[0]))
            .unwrap_or_else(|| panic!("{}", row[0]));
        assert!(html[at..].contains(&cell), "{row:?}");
    }

    // Targets: every target is listed with its status, and an actual value recomputed from published
    // cells equals target_followup's (or is hidden).
    let targets = query_csv(
        root,
        "select project_id, name, metric, actual_value, status from target_followup",
    );
    let mut shown = 0;
    for t in targets.iter().skip(1) {
        let [project, name, metric, actual, status] = &t[..] else {
            panic!("{t:?}")
        };
        let row = format!("<tr><td>{project}</td><td>{}</td>", esc(name));
        let at = html.find(&row).unwrap_or_else(|| panic!("{row}"));
        let end = at + html[at..].find("</tr>").unwrap();
        let line = &html[at..end];
        if actual.is_empty() || line.contains("<td class=\"n\">hidden</td>") {
            // Hidden actual value: the status would hint at it, so it is hidden too.
            assert!(line.contains("<td class=\"n\">hidden</td>"), "{line}");
            assert!(
                line.ends_with("<td>hidden</td>") || line.ends_with("<td>no_data</td>"),
                "{line}"
            );
            continue;
        }
        assert!(line.ends_with(&format!("<td>{status}</td>")), "{line}");
        let v: f64 = actual.parse().unwrap();
        let text = if metric.starts_with("share_") {
            format!("{:.1} %", v * 100.0)
        } else {
            format!("{v:.0}")
        };
        assert!(
            line.contains(&format!("<td class=\"n\">{text}</td>")),
            "{line} vs {text}"
        );
        shown += 1;
    }
    assert!(shown > 0, "some targets' actual values are published");

    // Files: every file, the failed one marked with its error; rejects per rule as in the warehouse.
    let files = query_csv(
        root,
        "select path, status from file_loads where load_id = (select max(load_id) from file_loads)",
    );
    for f in files.iter().skip(1) {
        assert!(
            html.contains(&format!(
                "<td class=\"path\">{}</td><td>{}</td>",
                esc(&f[0]),
                f[1]
            )),
            "{f:?}"
        );
    }
    assert!(html.contains("<tr class=\"failed\">"));
    // Every source's delivery, as in source_freshness (the bundled ones are all current).
    let deliveries = query_csv(
        root,
        "select project_id, source_id, status, latest_export_date, days_behind, max_export_age_days \
         from source_freshness order by project_id, source_id",
    );
    assert!(deliveries.len() > 20, "{deliveries:?}");
    for d in deliveries.iter().skip(1) {
        assert_eq!(d[2], "current", "{d:?}");
        assert!(
            html.contains(&format!(
                "<tr><td>{}</td><td>{}</td><td>current</td><td>{}</td><td class=\"n\">{} ({})</td>",
                d[0], d[1], d[3], d[4], d[5]
            )),
            "{d:?}"
        );
    }
    for r in query_csv(root, "select rule, count(*) from rejects group by rule")
        .iter()
        .skip(1)
    {
        assert!(
            html.contains(&format!(
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                r[0], r[1]
            )),
            "{r:?}"
        );
    }
}

#[test]
fn report_is_escaped_deterministic_and_follows_current() {
    let name = "Test <b>\"Gävle & co\"</b> 'x'";
    let setup = |root: &Path| {
        write_inputs(root, &people());
        let text = PIPELINE.replace("Testprojekt Gävleborg", &name.replace('"', "\\\""));
        std::fs::write(root.join("pipelines/test.toml"), text).unwrap();
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for root in [a.path(), b.path()] {
        setup(root);
        let out = followup(root, &["run", "--sql", &sql()]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (ra, rb) = (report(a.path()), report(b.path()));
    common_checks(&ra);
    assert!(ra.contains(&esc(name)), "the project name, escaped");
    assert!(!ra.contains("<b>"), "no raw markup from the inputs");
    assert_ne!(ra, rb, "the load ids differ");
    assert_eq!(
        masked(&ra),
        masked(&rb),
        "same inputs, same report apart from data-volatile fields"
    );
    // Small counts: the sub-projects' cells of this tiny project are hidden, and so are the share of
    // women and with it the share-of-women target's actual value and status.
    assert!(ra.contains(">hidden</text>"));
    assert!(
        ra.contains("<td class=\"n\">60.0 %</td><td class=\"n\">hidden</td><td>hidden</td>"),
        "{ra}"
    );

    // A second run writes its own report; current/report.html is the newest, the old one stays.
    let root = a.path();
    let first = std::fs::canonicalize(root.join("warehouse/current")).unwrap();
    assert!(followup(root, &["run", "--sql", &sql()]).status.code() == Some(1));
    let second = std::fs::canonicalize(root.join("warehouse/current")).unwrap();
    assert_ne!(first, second);
    let id = second.file_name().unwrap().to_string_lossy().into_owned();
    assert!(report(root).contains(&format!("<dd data-volatile>{id}</dd>")));
    assert_eq!(
        std::fs::read_to_string(first.join("report.html")).unwrap(),
        ra
    );
    assert!(report(root).contains("<dd>0 loaded, 3 unchanged, 1 failed</dd>"));
}

#[test]
fn personnummer_detector_finds_numbers() {
    assert!(personnummer_like("x 19900520-2442 y").is_some());
    assert!(personnummer_like("900520-2442").is_some());
    assert!(personnummer_like("199005202442").is_some());
    assert!(personnummer_like("load 20261201T045804123Z, 2183, 2022-06-30").is_none());
}
