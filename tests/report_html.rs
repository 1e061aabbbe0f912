//! `rotascope report` on hand-made recordings: the HTML page and its SVG chart parse (one row
//! per credential, the outage window drawn where it was), a cut last line is tolerated and said,
//! a bad line exits 3 with its number.

use std::process::Command;

use chrono::{DateTime, Utc};

const FP_A: &str = "840b4720";
const FP_B: &str = "6ec50bea";

fn cand(login: &str, fp: &str) -> String {
    format!(r#"{{"index":0,"login":"{login}","label":"current","fingerprint":"{fp}"}}"#)
}

fn line(at: &str, body: &str) -> String {
    format!(r#"{{"at":"2026-11-28T{at}Z",{body},"generation":1}}"#)
}

fn changed(at: &str, node: &str, login: &str, fp: &str, from: &str, to: &str) -> String {
    line(
        at,
        &format!(
            r#""type":"candidate_changed","island":0,"node":"{node}","candidate":{},"from":"{from}","to":"{to}","error":null"#,
            cand(login, fp)
        ),
    )
}

fn health(at: &str, node: &str, from: &str, to: &str) -> String {
    line(
        at,
        &format!(
            r#""type":"health_changed","island":0,"node":"{node}","from":"{from}","to":"{to}","cause":null"#
        ),
    )
}

fn winner(at: &str, node: &str, to: Option<(&str, &str)>) -> String {
    let to = to.map_or("null".to_owned(), |(l, f)| cand(l, f));
    line(
        at,
        &format!(r#""type":"winner_changed","island":0,"node":"{node}","from":null,"to":{to}"#),
    )
}

fn beat(at: &str) -> String {
    line(
        at,
        r#""type":"heartbeat","every_ms":1000,"nodes":2,"ok":2,"degraded":0,"down":0,"unknown":0"#,
    )
}

/// Two nodes, two credentials; db-b loses both at 10:00:05 and gets app_b back at 10:00:08.
fn recording() -> String {
    let mut l = vec![
        r#"{"at":"2026-11-28T10:00:00.000Z","type":"config_applied","path":"c.toml","generation":1,"islands":1,"nodes":2,"candidates":4}"#.to_owned(),
    ];
    for node in ["db-a", "db-b"] {
        l.push(changed(
            "10:00:00.100",
            node,
            "app_a",
            FP_A,
            "untested",
            "valid",
        ));
        l.push(changed(
            "10:00:00.100",
            node,
            "app_b",
            FP_B,
            "untested",
            "valid",
        ));
        l.push(winner("10:00:00.100", node, Some(("app_a", FP_A))));
        l.push(health("10:00:00.100", node, "unknown", "ok"));
    }
    for s in 1..=4 {
        l.push(beat(&format!("10:00:0{s}.000")));
    }
    l.push(changed(
        "10:00:05.000",
        "db-b",
        "app_a",
        FP_A,
        "valid",
        "invalid",
    ));
    l.push(changed(
        "10:00:05.000",
        "db-b",
        "app_b",
        FP_B,
        "valid",
        "invalid",
    ));
    l.push(winner("10:00:05.000", "db-b", None));
    l.push(health("10:00:05.000", "db-b", "ok", "down"));
    l.push(beat("10:00:06.000"));
    l.push(beat("10:00:07.000"));
    l.push(changed(
        "10:00:08.000",
        "db-b",
        "app_b",
        FP_B,
        "invalid",
        "valid",
    ));
    l.push(winner("10:00:08.000", "db-b", Some(("app_b", FP_B))));
    l.push(health("10:00:08.000", "db-b", "down", "degraded"));
    l.push(beat("10:00:09.000"));
    l.push(beat("10:00:10.000"));
    l.join("\n") + "\n"
}

fn report(file: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .arg("report")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn the_html_page_and_its_chart_parse_with_a_row_per_credential_and_the_outage_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.ndjson");
    std::fs::write(&file, recording()).unwrap();
    let (code, html, err) = report(&file, &["--format", "html"]);
    assert_eq!(code, 2, "{err}");

    // Well-formed, self-contained: no script, nothing fetched.
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("well-formed");
    assert!(doc.descendants().all(|n| n.tag_name().name() != "script"));
    assert!(doc
        .descendants()
        .all(|n| n.attribute("src").is_none() && n.attribute("href").is_none()));
    let svg = doc
        .descendants()
        .find(|n| n.tag_name().name() == "svg")
        .expect("an svg chart");
    assert_eq!(
        svg.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|v| v.split_whitespace().any(|w| w == c))
    };

    // One row per credential, each with its cells.
    let rows: Vec<_> = svg
        .descendants()
        .filter(|n| class(n, "credential"))
        .collect();
    let logins: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.attribute("data-login").unwrap(),
                r.attribute("data-fingerprint").unwrap(),
            )
        })
        .collect();
    assert_eq!(logins, [("app_a", FP_A), ("app_b", FP_B)]);
    for r in &rows {
        assert!(r.descendants().any(|n| class(&n, "cell")), "cells in {r:?}");
    }
    // app_a was invalid on one node, valid on the other: "valid on some nodes" cells.
    assert!(rows[0].descendants().any(|n| class(&n, "valid_some")));

    // The outage window is drawn on db-b's lane, where its times fall on the axis.
    let outage = svg
        .descendants()
        .find(|n| class(n, "outage"))
        .expect("an outage drawn");
    assert_eq!(
        outage.attribute("data-from"),
        Some("2026-11-28T10:00:05.000Z")
    );
    assert_eq!(
        outage.attribute("data-to"),
        Some("2026-11-28T10:00:08.000Z")
    );
    let lane = outage.parent().unwrap();
    assert_eq!(lane.attribute("data-node"), Some("0/db-b"));
    let x: f64 = outage.attribute("x").unwrap().parse().unwrap();
    let w: f64 = outage.attribute("width").unwrap().parse().unwrap();
    // The axis: 10:00:00 to 10:00:10 (cells of 1 s) over the plot's 900 px after 230 px of labels.
    let at = |s: &str| {
        230.0 + (t(s) - t("2026-11-28T10:00:00Z")).num_milliseconds() as f64 / 10_000.0 * 900.0
    };
    assert!((x - at("2026-11-28T10:00:05Z")).abs() < 0.5, "x {x}");
    assert!(
        (x + w - at("2026-11-28T10:00:08Z")).abs() < 0.5,
        "end {}",
        x + w
    );

    // The page names the verdict and the window in words too.
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .map(|n| n.text().unwrap())
        .collect();
    assert!(text.contains("outage (exit 2)"), "{text}");
    assert!(text.contains("10:00:05.000–10:00:08.000 (3 s)"), "{text}");
}

#[test]
fn a_cut_last_line_is_tolerated_and_said_and_a_bad_line_exits_3_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.ndjson");
    let whole = recording();
    // Cut in the middle of the last line.
    std::fs::write(&file, &whole[..whole.len() - 30]).unwrap();
    let (code, out, err) = report(&file, &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("the last line was cut short"), "{out}");
    assert!(err.contains("cut short"), "{err}");

    // A broken line in the middle is not tolerated.
    let mut lines: Vec<&str> = whole.lines().collect();
    lines[3] = "{\"at\": \"2026-11-28T10:00:00Z\", \"type\": \"health_changed\"";
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = report(&file, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(err.contains("trail.ndjson: line 4: "), "{err}");

    // Nor is a missing or empty file.
    let (code, _, err) = report(&dir.path().join("missing.ndjson"), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("missing.ndjson"), "{err}");
    std::fs::write(&file, "").unwrap();
    let (code, _, err) = report(&file, &[]);
    assert_eq!(code, 3);
    assert!(err.contains("nothing to report"), "{err}");
}
